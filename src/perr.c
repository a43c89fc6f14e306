/*
 * perr.c -- the one error type (see portcullis.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "portcullis.h"

/*
 * Record an error: status and printf-style body.  Returns -1 so that a
 * handler can write "return perr_set(e, 404, ...)".  A NULL e is
 * allowed (the caller does not want the detail).
 */
int
perr_set(struct perr *e, int status, const char *fmt, ...)
{
	va_list	ap;

	if (e == NULL)
		return -1;
	e->status = status;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Put a printf-style prefix in front of the message already recorded,
 * keeping the status ("Request decode failed: " + parser text).
 * Returns -1.
 */
int
perr_prefix(struct perr *e, const char *fmt, ...)
{
	char	pre[256];
	size_t	n, len;
	va_list	ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	n = strlen(pre);
	if (n >= sizeof(e->msg))
		n = sizeof(e->msg) - 1;
	len = strnlen(e->msg, sizeof(e->msg) - 1);
	if (n + len >= sizeof(e->msg))
		len = sizeof(e->msg) - 1 - n;
	memmove(e->msg + n, e->msg, len);
	memcpy(e->msg, pre, n);
	e->msg[n + len] = '\0';
	return -1;
}

void
perr_clear(struct perr *e)
{
	e->status = 0;
	e->msg[0] = '\0';
}
