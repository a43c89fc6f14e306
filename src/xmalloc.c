/*
 * xmalloc.c -- allocators that never return NULL, secret wiping and
 * constant-time comparison.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"

static void __attribute__((noreturn))
oom(size_t n)
{
	fatalx("out of memory allocating %zu bytes", n);
}

void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if ((p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size)) == NULL)
		oom(nmemb * size);
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void	*p;

	if ((p = realloc(old, n == 0 ? 1 : n)) == NULL)
		oom(n);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int
xasprintf(char **out, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vasprintf(out, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	return n;
}

/* Wipe a secret string before freeing it.  NULL is fine. */
void
secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/*
 * Compare two secrets in time that depends only on the length of b (the
 * caller-supplied value), never on where they first differ.  Returns 1
 * when equal.
 */
int
ct_streq(const char *a, const char *b)
{
	size_t		 la, lb, i;
	unsigned char	 d;

	la = strlen(a);
	lb = strlen(b);
	d = (unsigned char)(la != lb);
	for (i = 0; i < lb; i++)
		d |= (unsigned char)(a[la == 0 ? 0 : i % la] ^ b[i]);
	return d == 0;
}
