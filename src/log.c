/*
 * log.c -- logging to stderr, one line per call, prefixed with the
 * process role and pid.  Never log a secret: AccessorIDs only.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portcullis.h"

static const char	*log_role = "portcullis";
static int		 log_verbose;

void
log_init(const char *role, int verbose)
{
	log_role = role;
	log_verbose = verbose;
}

static void
vlog(const char *lvl, const char *fmt, va_list ap, int err)
{
	char		 buf[1024], ts[32];
	struct tm	 tm;
	time_t		 now;

	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (err)
		fprintf(stderr, "%s [%s] %s[%d]: %s: %s\n", ts, lvl, log_role,
		    (int)getpid(), buf, strerror(err));
	else
		fprintf(stderr, "%s [%s] %s[%d]: %s\n", ts, lvl, log_role,
		    (int)getpid(), buf);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog("DEBUG", fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog("INFO", fmt, ap, 0);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vlog("WARN", fmt, ap, saved);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog("WARN", fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vlog("FATAL", fmt, ap, saved);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog("FATAL", fmt, ap, 0);
	va_end(ap);
	exit(1);
}
