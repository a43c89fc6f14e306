/*
 * der.h -- a minimal DER writer for certificates built from a template
 * (x509.c).  Encoding only: everything we parse goes through GnuTLS.
 */
#ifndef PC_DER_H
#define PC_DER_H

#include <stddef.h>
#include <time.h>

#define DER_INTEGER	0x02
#define DER_BITSTRING	0x03
#define DER_OCTETSTRING	0x04
#define DER_OID		0x06
#define DER_UTCTIME	0x17
#define DER_GENTIME	0x18
#define DER_SEQUENCE	0x30
#define DER_CTX(n)	(0xa0 | (n))	/* [n] constructed */

struct der {
	unsigned char	*p;
	size_t		 len;
	size_t		 cap;
};

void	der_put(struct der *, const void *, size_t);
void	der_tlv(struct der *, unsigned char, const void *, size_t);
void	der_wrap(struct der *, size_t, unsigned char);
void	der_time(struct der *, time_t);
void	der_ext(struct der *, const unsigned char *, size_t, int,
	    const void *, size_t);
void	der_free(struct der *);

#endif
