/*
 * util.c -- UUIDs, RFC 3339 times and Go duration strings, worded and
 * formatted as Consul (Go) does.
 */
#include "config.h"

#include <sys/random.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "portcullis.h"
#include "util.h"

/* A random (version 4) UUID, lowercase 8-4-4-4-12. */
void
uuid_generate_v4(char out[37])
{
	unsigned char	b[16];
	size_t		got = 0;
	ssize_t		n;

	while (got < sizeof(b)) {
		n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno != EINTR)
			fatal("getrandom");
		if (n > 0)
			got += (size_t)n;
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* 1 when s is 8-4-4-4-12 hex digits. */
int
uuid_valid(const char *s)
{
	return uuid_check(s, NULL) == 0;
}

/*
 * Check s as go-memdb's UUID index does and word the failure as it
 * does (Consul surfaces these texts; callers add their prefix).
 * Sets e to 400.
 */
int
uuid_check(const char *s, struct perr *e)
{
	size_t	len, i, hy = 0;

	len = strlen(s);
	if (len != 36)
		return perr_set(e, 400, "UUID must be 36 characters");
	for (i = 0; i < len; i++)
		if (s[i] == '-')
			hy++;
	if (hy > 4)
		return perr_set(e, 400,
		    "UUID should have maximum of 4 \"-\"; got %zu", hy);
	for (i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return perr_set(e, 400, "UUID format is invalid");
			continue;
		}
		if (!isxdigit((unsigned char)s[i]))
			return perr_set(e, 400, "Invalid UUID: encoding/hex: "
			    "invalid byte: U+%04X '%c'", (unsigned char)s[i],
			    isprint((unsigned char)s[i]) ? s[i] : '?');
	}
	return 0;
}

/* RFC 3339 with nanoseconds, trailing zeros trimmed (Go RFC3339Nano). */
void
time_rfc3339_nano(const struct timespec *ts, char out[40])
{
	struct tm	tm;
	char		frac[16];
	size_t		n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ts->tv_nsec != 0) {
		snprintf(frac, sizeof(frac), ".%09ld", ts->tv_nsec);
		for (n = strlen(frac); frac[n - 1] == '0'; n--)
			frac[n - 1] = '\0';
		strncat(out, frac, 39 - strlen(out));
	}
	strncat(out, "Z", 39 - strlen(out));
}

/* RFC 3339, whole seconds, UTC. */
void
time_rfc3339(time_t t, char out[32])
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; m 1-12). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n digits at s as a number, or -1. */
static int
digits(const char *s, int n)
{
	int	v = 0;

	for (; n > 0; n--, s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/*
 * Parse an RFC 3339 time as Go's time.Parse(time.RFC3339, s) does:
 * "2006-01-02T15:04:05[.frac](Z|+hh:mm)", any year 0000-9999, each
 * field range-checked, February 30 refused.  Returns 0 with the seconds
 * since the epoch in *sec and the fraction in *nsec; -1 when s does
 * not have that form; -2 when a field is out of range, *what then
 * names it as Go's "<what> out of range" error does ("day", "month",
 * "hour", "minute", "second", "time zone offset hour"...).
 */
int
time_parse_rfc3339(const char *s, int64_t *sec, long *nsec,
    const char **what)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int	 y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0, nd;
	long	 frac = 0, scale = 100000000;
	size_t	 i;

	*what = NULL;
	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return -1;
	if ((y = digits(s, 4)) < 0 || (mo = digits(s + 5, 2)) < 0 ||
	    (d = digits(s + 8, 2)) < 0 || (h = digits(s + 11, 2)) < 0 ||
	    (mi = digits(s + 14, 2)) < 0 || (se = digits(s + 17, 2)) < 0)
		return -1;
	i = 19;
	if (s[i] == '.' || s[i] == ',') {
		for (i++, nd = 0; s[i] >= '0' && s[i] <= '9'; i++, nd++)
			if (nd < 9) {
				frac += (s[i] - '0') * scale;
				scale /= 10;
			}
		if (nd == 0)
			return -1;
	}
	if (s[i] == 'Z' || s[i] == 'z')
		i++;
	else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '-' ? -1 : 1;
		if (s[i + 3] != ':' || (oh = digits(s + i + 1, 2)) < 0 ||
		    (om = digits(s + i + 4, 2)) < 0)
			return -1;
		i += 6;
	} else
		return -1;
	if (s[i] != '\0')
		return -1;
	/* Go checks the month, then the clock, then the day's end. */
	if (mo < 1 || mo > 12)
		*what = "month";
	else if (d > 31)
		*what = "day";
	else if (h > 23)
		*what = "hour";
	else if (mi > 59)
		*what = "minute";
	else if (se > 59)
		*what = "second";
	else if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)))
		*what = "day";
	else if (oh > 23)
		*what = "time zone offset hour";
	else if (om > 59)
		*what = "time zone offset minute";
	if (*what != NULL)
		return -2;
	*sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
	    sign * (oh * 3600 + om * 60);
	*nsec = frac;
	return 0;
}

/*
 * Parse a Go duration ("300ms", "1.5h", "2h45m", "-1s", "0") into
 * nanoseconds.  Returns 0, or -1 when Go's time.ParseDuration would
 * fail.
 */
int
duration_parse(const char *s, int64_t *out)
{
	static const struct {
		const char	*unit;
		double		 ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 },
		{ "\xce\xbcs", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		{ "m", 60e9 }, { "h", 3600e9 },
	};
	double		 total = 0, v, scale;
	const char	*p = s;
	int		 neg = 0, any, ndig;
	size_t		 i, best, bl;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (strcmp(p, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (*p == '\0')
		return -1;
	while (*p != '\0') {
		v = 0;
		any = 0;
		ndig = 0;
		while (isdigit((unsigned char)*p)) {
			v = v * 10 + (*p++ - '0');
			any = 1;
			ndig++;
		}
		if (*p == '.') {
			p++;
			scale = 0.1;
			while (isdigit((unsigned char)*p)) {
				v += (*p++ - '0') * scale;
				scale /= 10;
				any = 1;
			}
		}
		if (!any)
			return -1;
		best = SIZE_MAX;
		bl = 0;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t	l = strlen(units[i].unit);

			if (strncmp(p, units[i].unit, l) == 0 && l > bl) {
				best = i;
				bl = l;
			}
		}
		if (best == SIZE_MAX)
			return -1;
		p += bl;
		total += v * units[best].ns;
		if (total > 9.2e18)
			return -1;
	}
	*out = (int64_t)llround(neg ? -total : total);
	return 0;
}

/* Format nanoseconds as Go's Duration.String() ("72h0m0s", "1.5s"). */
void
duration_format(int64_t ns, char out[64])
{
	uint64_t	u;
	char		frac[16];
	int		neg = ns < 0;
	size_t		n;

	u = neg ? (uint64_t)(-(ns + 1)) + 1 : (uint64_t)ns;
	if (u == 0) {
		snprintf(out, 64, "0s");
		return;
	}
	if (u < 1000000000ULL) {
		if (u < 1000)
			snprintf(out, 64, "%s%" PRIu64 "ns", neg ? "-" : "", u);
		else if (u < 1000000)
			snprintf(out, 64, "%s%g\xc2\xb5s", neg ? "-" : "",
			    (double)u / 1e3);
		else
			snprintf(out, 64, "%s%gms", neg ? "-" : "",
			    (double)u / 1e6);
		return;
	}
	frac[0] = '\0';
	if (u % 1000000000ULL) {
		snprintf(frac, sizeof(frac), ".%09" PRIu64,
		    (uint64_t)(u % 1000000000ULL));
		for (n = strlen(frac); frac[n - 1] == '0'; n--)
			frac[n - 1] = '\0';
	}
	u /= 1000000000ULL;
	if (u >= 3600)
		snprintf(out, 64, "%s%" PRIu64 "h%" PRIu64 "m%" PRIu64 "%ss",
		    neg ? "-" : "", u / 3600, (u / 60) % 60, u % 60, frac);
	else if (u >= 60)
		snprintf(out, 64, "%s%" PRIu64 "m%" PRIu64 "%ss",
		    neg ? "-" : "", u / 60, u % 60, frac);
	else
		snprintf(out, 64, "%s%" PRIu64 "%ss", neg ? "-" : "", u, frac);
}

/* Milliseconds on the monotonic clock. */
int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The value of hex digit c (either case), or -1. */
int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Percent-decode s in place (and '+' as space when plus).  Returns 0,
 * or -1 for a malformed escape (Go's url parsing rejects those too).
 */
int
url_decode(char *s, int plus)
{
	char	*w = s;
	int	 h, l;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			if ((h = hex_digit((unsigned char)s[1])) < 0 ||
			    (l = hex_digit((unsigned char)s[2])) < 0)
				return -1;
			*w++ = (char)(h << 4 | l);
			s += 2;
		} else if (*s == '+' && plus)
			*w++ = ' ';
		else
			*w++ = *s;
	}
	*w = '\0';
	return 0;
}

static void
b64(const unsigned char *in, size_t n, char *out)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t			 i;
	uint32_t		 v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = tab[v >> 18 & 63];
		*out++ = tab[v >> 12 & 63];
		*out++ = tab[v >> 6 & 63];
		*out++ = tab[v & 63];
	}
	if (i < n) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		*out++ = tab[v >> 18 & 63];
		*out++ = tab[v >> 12 & 63];
		*out++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*out++ = '=';
	}
	*out = '\0';
}

/*
 * Base64 (standard alphabet, padded) of the SHA-256 of the
 * concatenation of parts, NULL parts skipped: 44 characters and a NUL
 * in out.  A digest for keys and ACL object hashes; not a MAC.
 */
void
digest_b64(const char *const *parts, size_t n, char out[64])
{
	gnutls_hash_hd_t	h;
	unsigned char		dig[32];
	size_t			i;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		fatalx("gnutls_hash_init");
	for (i = 0; i < n; i++)
		if (parts[i] != NULL)
			gnutls_hash(h, parts[i], strlen(parts[i]));
	gnutls_hash_deinit(h, dig);
	b64(dig, sizeof(dig), out);
}
