/*
 * der.c -- a minimal DER writer (X.690 definite lengths) for the leaf
 * certificate template in x509.c.
 *
 * Why it exists: building a leaf through gnutls_x509_crt_t cost as much
 * as the ECDSA signature (libtasn1 creates and walks the whole ASN.1
 * tree for every setter; measured, issue #3).  A leaf differs from the
 * next only in a few fields, so x509.c writes its TBSCertificate here and
 * GnuTLS signs it.  Nothing is parsed here; tests/unit/test_x509.c
 * compares the output byte for byte with what GnuTLS builds.
 *
 * Usage: der_put()/der_tlv() append; der_wrap(d, from, tag) turns
 * everything appended since offset `from` into the content of one
 * element, so nested structures are written inside out without
 * computing lengths first.  The buffer grows with xrealloc (never
 * fails); der_free() releases it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portcullis.h"
#include "der.h"

static void
reserve(struct der *d, size_t n)
{
	if (d->len + n <= d->cap)
		return;
	d->cap = (d->len + n) * 2 + 64;
	d->p = xrealloc(d->p, d->cap);
}

/* Header of an element of n content bytes: tag and definite length. */
static size_t
header(unsigned char tag, size_t n, unsigned char out[6])
{
	size_t	i, k = 0;

	out[0] = tag;
	if (n < 0x80) {
		out[1] = (unsigned char)n;
		return 2;
	}
	for (i = n; i > 0; i >>= 8)
		k++;
	out[1] = (unsigned char)(0x80 | k);
	for (i = 0; i < k; i++)
		out[2 + i] = (unsigned char)(n >> (8 * (k - 1 - i)));
	return 2 + k;
}

/* Append n raw bytes. */
void
der_put(struct der *d, const void *b, size_t n)
{
	reserve(d, n);
	memcpy(d->p + d->len, b, n);
	d->len += n;
}

/* Append one element: tag, length, the n content bytes b. */
void
der_tlv(struct der *d, unsigned char tag, const void *b, size_t n)
{
	unsigned char	h[6];

	der_put(d, h, header(tag, n, h));
	der_put(d, b, n);
}

/* Make the bytes appended since offset from the content of tag. */
void
der_wrap(struct der *d, size_t from, unsigned char tag)
{
	unsigned char	h[6];
	size_t		hn;

	hn = header(tag, d->len - from, h);
	reserve(d, hn);
	memmove(d->p + from + hn, d->p + from, d->len - from);
	memcpy(d->p + from, h, hn);
	d->len += hn;
}

/*
 * A certificate Time (RFC 5280 §4.1.2.5): UTCTime YYMMDDHHMMSSZ through
 * 2049, GeneralizedTime YYYYMMDDHHMMSSZ from 2050, as GnuTLS writes it.
 */
void
der_time(struct der *d, time_t t)
{
	struct tm	tm;
	char		buf[32];
	int		n;

	gmtime_r(&t, &tm);
	if (tm.tm_year + 1900 >= 1950 && tm.tm_year + 1900 < 2050) {
		n = snprintf(buf, sizeof(buf), "%02d%02d%02d%02d%02d%02dZ",
		    tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		der_tlv(d, DER_UTCTIME, buf, (size_t)n);
	} else {
		n = snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		der_tlv(d, DER_GENTIME, buf, (size_t)n);
	}
}

/*
 * One Extension: SEQUENCE { extnID (oid: the OID's content bytes),
 * critical BOOLEAN TRUE only when crit (DER omits the default FALSE),
 * extnValue OCTET STRING holding the n bytes of val }.
 */
void
der_ext(struct der *d, const unsigned char *oid, size_t oidlen, int crit,
    const void *val, size_t n)
{
	static const unsigned char	yes[] = { 0x01, 0x01, 0xff };
	size_t				from = d->len;

	der_tlv(d, DER_OID, oid, oidlen);
	if (crit)
		der_put(d, yes, sizeof(yes));
	der_tlv(d, DER_OCTETSTRING, val, n);
	der_wrap(d, from, DER_SEQUENCE);
}

/* Release the buffer; the struct may be reused. */
void
der_free(struct der *d)
{
	free(d->p);
	memset(d, 0, sizeof(*d));
}
