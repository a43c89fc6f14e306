/*
 * tap.h -- a minimal TAP producer for the C unit tests.  Each test
 * binary prints "1..N" at the end (plan at end is valid TAP) and exits
 * non-zero when any check failed.
 */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) do {						\
	int _c = (cond) ? 1 : 0;					\
	tap_n++;							\
	if (_c) {							\
		printf("ok %d - ", tap_n);				\
	} else {							\
		tap_failed++;						\
		printf("not ok %d - ", tap_n);				\
	}								\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	if (!_c)							\
		printf("#   at %s:%d\n", __FILE__, __LINE__);		\
} while (0)

#define is_int(got, want, ...) do {					\
	long long _g = (long long)(got), _w = (long long)(want);	\
	ok(_g == _w, __VA_ARGS__);					\
	if (_g != _w)							\
		printf("#   got %lld, want %lld\n", _g, _w);		\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *_g = (got), *_w = (want);				\
	int _eq = (_g == NULL && _w == NULL) ||				\
	    (_g != NULL && _w != NULL && strcmp(_g, _w) == 0);		\
	ok(_eq, __VA_ARGS__);						\
	if (!_eq)							\
		printf("#   got \"%s\", want \"%s\"\n",			\
		    _g ? _g : "(null)", _w ? _w : "(null)");		\
} while (0)

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
		printf("# %d of %d failed\n", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}

#endif
