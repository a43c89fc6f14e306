/*
 * arena.c -- request-lifetime memory.  Blocks are chained and freed
 * together by arena_free().  Not thread-safe: one arena per request.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"

#define ARENA_BLOCK	8192

struct ablock {
	struct ablock	*next;
	size_t		 used, size;
	max_align_t	 data[];
};

struct arena {
	struct ablock	*head;
};

struct arena *
arena_new(void)
{
	return xcalloc(1, sizeof(struct arena));
}

void
arena_free(struct arena *a)
{
	struct ablock	*b, *next;

	if (a == NULL)
		return;
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

/* Zeroed, max_align_t-aligned memory living as long as the arena. */
void *
arena_alloc(struct arena *a, size_t n)
{
	struct ablock	*b;
	size_t		 al, sz;
	void		*p;

	al = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	b = a->head;
	if (b == NULL || b->size - b->used < al) {
		sz = al > ARENA_BLOCK ? al : ARENA_BLOCK;
		b = xmalloc(sizeof(*b) + sz);
		b->used = 0;
		b->size = sz;
		b->next = a->head;
		a->head = b;
	}
	p = (char *)b->data + b->used;
	b->used += al;
	memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char	*p;

	p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list	 ap;
	char	*tmp, *p;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory");
	p = arena_strndup(a, tmp, (size_t)n);
	free(tmp);
	return p;
}
