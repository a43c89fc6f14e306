/*
 * seal.h -- secrets at rest (seal.c): AES-256-GCM under a seal key kept
 * outside the store, bound to the row each ciphertext belongs to.
 */
#ifndef SEAL_H
#define SEAL_H

#include <stddef.h>

#include "portcullis.h"

struct conf;

#define SEAL_KEY_LEN	32	/* AES-256 */
#define SEAL_ID_LEN	16	/* hex characters of a key ID */
#define SEAL_NONCE_LEN	12
#define SEAL_TAG_LEN	16
#define SEAL_PREFIX	"seal:1:"

/* A parsed ciphertext (seal_parse()). */
struct seal_box {
	char		 key_id[SEAL_ID_LEN + 1];
	unsigned char	*buf;		/* nonce || ciphertext || tag; owned */
	size_t		 len;
};

/* What seal_json() does to each secret field. */
enum seal_mode {
	SEAL_CLOSE,		/* seal every secret field (a write) */
	SEAL_CLOSE_PLAIN,	/* seal the fields not sealed yet (migration) */
	SEAL_OPEN,		/* open every secret field (a read) */
	SEAL_REKEY,		/* open, then seal under the current key */
	SEAL_CHECK		/* open, discard: does every field open? */
};

int	 seal_key_parse(const char *, size_t, unsigned char [SEAL_KEY_LEN],
	    struct perr *) PC_MUSTCHECK;
void	 seal_key_id(const unsigned char [SEAL_KEY_LEN],
	    char [SEAL_ID_LEN + 1]);
int	 seal_key_load(const struct conf *, int *, struct perr *)
	    PC_MUSTCHECK;
int	 seal_key_create(struct perr *) PC_MUSTCHECK;
int	 seal_key_write(const char *, const unsigned char [SEAL_KEY_LEN],
	    struct perr *) PC_MUSTCHECK;
void	 seal_key_generate(unsigned char [SEAL_KEY_LEN]);
void	 seal_key_adopt(const unsigned char [SEAL_KEY_LEN]);
void	 seal_key_set(const unsigned char [SEAL_KEY_LEN]);
int	 seal_key_reload_id(const char *);
const char *seal_key_current_id(void);
const char *seal_key_where(void);
const char *seal_key_file(void);
int	 seal_key_is_default(void);

int	 seal_is_sealed(const char *);
int	 seal_parse(const char *, size_t, struct seal_box *, struct perr *)
	    PC_MUSTCHECK;
void	 seal_box_clear(struct seal_box *);
int	 seal_close(const char *, size_t, const char *, const char *,
	    const char *, char **, struct perr *) PC_MUSTCHECK;
int	 seal_open(const char *, const char *, const char *, const char *,
	    char **, size_t *, struct perr *) PC_MUSTCHECK;
int	 seal_json(const char *, enum seal_mode, const char *, const char *,
	    const char *const *, char **, int *, struct perr *) PC_MUSTCHECK;

#define SEAL_TOKEN_PREFIX	"hmac-sha256:"
#define SEAL_TOKEN_LEN		(12 + 64 + 1)	/* prefix, hex, NUL */

void	 seal_token_key_set(const unsigned char [SEAL_KEY_LEN]);
int	 seal_token_hashing(void);
int	 seal_token_is_hash(const char *);
const char *seal_token_stored(const char *, char [SEAL_TOKEN_LEN]);

extern const char *const seal_auth_method_fields[];
extern const char *const seal_ca_config_fields[];

#endif /* SEAL_H */
