/*
 * portcullis.h -- the shared core: the one error type, allocators that
 * never return NULL, the per-request arena and logging.
 *
 * Every module includes this first (after config.h).  Module-specific
 * declarations live in <module>.h; documentation lives at the definition.
 */
#ifndef PORTCULLIS_H
#define PORTCULLIS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define PC_MUSTCHECK	__attribute__((warn_unused_result))
#define PC_PRINTF(a, b)	__attribute__((format(printf, a, b)))

/*
 * The one error type.  Whoever knows the status sets it: parsers 400,
 * the ACL layer 403, handlers 404/409, the store 500.  The message is
 * the response body, worded exactly as Consul words it.  Never put a
 * secret into it.
 */
struct perr {
	int	status;		/* HTTP status; 0 while there is no error */
	char	msg[512];	/* body text */
};

int	perr_set(struct perr *, int, const char *, ...) PC_PRINTF(3, 4);
int	perr_prefix(struct perr *, const char *, ...) PC_PRINTF(2, 3);
void	perr_clear(struct perr *);

/* Allocators: exit the process on OOM (the master restarts a worker). */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...) PC_PRINTF(2, 3);
void	 secret_free(char *);

/* Arena: request-lifetime memory, freed whole when the request ends. */
struct arena;
struct arena	*arena_new(void);
void		 arena_free(struct arena *);
void		*arena_alloc(struct arena *, size_t);
char		*arena_strdup(struct arena *, const char *);
char		*arena_strndup(struct arena *, const char *, size_t);
char		*arena_printf(struct arena *, const char *, ...) PC_PRINTF(2, 3);

/* Logging to stderr (the master's stderr, journald under systemd). */
void	log_init(const char *, int);
void	log_debug(const char *, ...) PC_PRINTF(1, 2);
void	log_info(const char *, ...) PC_PRINTF(1, 2);
void	log_warn(const char *, ...) PC_PRINTF(1, 2);	/* appends strerror */
void	log_warnx(const char *, ...) PC_PRINTF(1, 2);
void	fatal(const char *, ...) PC_PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *, ...) PC_PRINTF(1, 2) __attribute__((noreturn));

/* Constant-time comparison of two NUL-terminated secrets. */
int	ct_streq(const char *, const char *);

#endif /* PORTCULLIS_H */
