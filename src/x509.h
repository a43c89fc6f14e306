/*
 * x509.h -- the Connect CA's certificate work (GnuTLS): CA keys, roots,
 * cross-signing, CSRs, leaves and CRLs.  The only module that touches
 * private keys.  Documentation lives at the definitions in x509.c.
 */
#ifndef X509_H
#define X509_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "portcullis.h"

struct spiffe_id;

#define X509_KEYID_MAX	64	/* longest key id x509_info reports */
#define X509_SERIAL_MAX	32	/* longest serial x509_info reports */
#define X509_SERIAL_HEXLEN 24	/* buffer for a uint64 serial in colon hex */

struct x509_key;	/* a CA private key */
struct x509_ca;		/* a CA key with its certificate, known to match */
struct x509_csr;	/* a parsed, signature-checked CSR */

/* What the CA layer needs to know about a certificate (CARoot, leaf). */
struct x509_info {
	char		 id[60];		/* SHA-1 of DER, colon hex */
	char		 subject_key_id[3 * X509_KEYID_MAX]; /* "" if none */
	char		 authority_key_id[3 * X509_KEYID_MAX]; /* "" if none */
	char		 serial_hex[3 * X509_SERIAL_MAX];	/* "08", "01:2c" */
	uint64_t	 serial;		/* low 64 bits */
	time_t		 not_before;
	time_t		 not_after;
	char		 key_type[4];		/* "ec", "rsa", "" if other */
	int		 key_bits;		/* curve or modulus size */
	int		 is_ca;			/* basic constraints CA:TRUE */
	char		*subject;		/* RFC 4514 DN, "" when empty */
	char		*uri;			/* first URI SAN or NULL */
};

/* One revoked certificate for x509_crl_create(). */
struct x509_revoked {
	uint64_t	 serial;
	time_t		 when;
};

int	 x509_key_generate(const char *, int, struct x509_key **,
	    struct perr *) PC_MUSTCHECK;
int	 x509_key_load(const char *, struct x509_key **, struct perr *)
	    PC_MUSTCHECK;
int	 x509_key_pem(const struct x509_key *, char **, struct perr *)
	    PC_MUSTCHECK;
const char *x509_key_type(const struct x509_key *);
int	 x509_key_bits(const struct x509_key *);
void	 x509_key_free(struct x509_key *);
int	 x509_ca_keygen(const char *, int, struct x509_key **,
	    struct perr *) PC_MUSTCHECK;
int	 x509_pkcs11_init(const char *, const char *, const char *,
	    struct perr *) PC_MUSTCHECK;
void	 x509_pkcs11_reinit(void);
int	 x509_pkcs11_enabled(void);

int	 x509_root_create(const struct x509_key *, const char *, uint64_t,
	    time_t, int64_t, char **, struct perr *) PC_MUSTCHECK;
int	 x509_ca_load(const char *, const char *, struct x509_ca **,
	    struct perr *) PC_MUSTCHECK;
int	 x509_ca_check_expired(const struct x509_ca *, time_t,
	    struct perr *) PC_MUSTCHECK;
void	 x509_ca_free(struct x509_ca *);
int	 x509_cross_sign(const struct x509_ca *, const char *, uint64_t,
	    time_t, char **, struct perr *) PC_MUSTCHECK;

int	 x509_cert_info(const char *, struct x509_info *, struct perr *)
	    PC_MUSTCHECK;
void	 x509_info_clear(struct x509_info *);
void	 x509_serial_hex(uint64_t, char *, size_t);

int	 x509_leaf_keygen(const char *, char **, char **, struct perr *)
	    PC_MUSTCHECK;
int	x509_leaf_request(const char *, char **, struct x509_csr **,
	    struct perr *) PC_MUSTCHECK;
int	 x509_csr_parse(const char *, struct x509_csr **, struct perr *)
	    PC_MUSTCHECK;
const struct spiffe_id *x509_csr_id(const struct x509_csr *);
const char *x509_csr_uri(const struct x509_csr *);
int	 x509_csr_check(struct x509_csr *, const char *, const char *,
	    struct perr *) PC_MUSTCHECK;
void	 x509_csr_free(struct x509_csr *);
int	 x509_leaf_sign(struct x509_ca *, const struct x509_csr *,
	    uint64_t, time_t, int64_t, char **, struct perr *) PC_MUSTCHECK;

int	 x509_crl_create(struct x509_ca *, const struct x509_revoked *,
	    size_t, uint64_t, time_t, int64_t, char **, unsigned char **,
	    size_t *, struct perr *) PC_MUSTCHECK;

#endif /* X509_H */
