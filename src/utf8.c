/*
 * utf8.c -- UTF-8 as Go's unicode/utf8 reads and writes it.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "utf8.h"

/*
 * Decode the rune at str[0..n) as Go's utf8.DecodeRune does: shortest
 * forms only, no surrogates, nothing past U+10FFFF.  Returns its width:
 * 0 at the end (n == 0), 1 for an invalid byte, which *r then reads as
 * U+FFFD with *bad set.
 */
size_t
utf8_decode_rune(const char *str, size_t n, uint32_t *r, int *bad)
{
	const unsigned char	*s = (const unsigned char *)str;
	unsigned char		 lo = 0x80, hi = 0xbf;
	size_t			 w, i;

	*bad = 0;
	*r = 0xfffd;
	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*r = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		w = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		w = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		w = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		goto bad;
	if (n < w || s[1] < lo || s[1] > hi)
		goto bad;
	for (i = 2; i < w; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			goto bad;
	if (w == 2)
		*r = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
	else if (w == 3)
		*r = (uint32_t)(s[0] & 0x0f) << 12 |
		    (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
	else
		*r = (uint32_t)(s[0] & 0x07) << 18 |
		    (uint32_t)(s[1] & 0x3f) << 12 |
		    (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
	return w;
bad:
	*bad = 1;
	return 1;
}

/*
 * Write r (at most U+10FFFF; the caller checks) as UTF-8 at out.
 * Returns the length, 1 to 4.
 */
size_t
utf8_encode_rune(uint32_t r, char out[4])
{
	if (r < 0x80) {
		out[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		out[0] = (char)(0xc0 | r >> 6);
		out[1] = (char)(0x80 | (r & 0x3f));
		return 2;
	}
	if (r < 0x10000) {
		out[0] = (char)(0xe0 | r >> 12);
		out[1] = (char)(0x80 | (r >> 6 & 0x3f));
		out[2] = (char)(0x80 | (r & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | r >> 18);
	out[1] = (char)(0x80 | (r >> 12 & 0x3f));
	out[2] = (char)(0x80 | (r >> 6 & 0x3f));
	out[3] = (char)(0x80 | (r & 0x3f));
	return 4;
}
