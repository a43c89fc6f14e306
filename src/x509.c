/*
 * x509.c -- the certificate half of the built-in Connect CA, on GnuTLS.
 *
 * Generates and imports CA keys, creates the self-signed root
 * (connect.md §3.2), cross-signs a new root with the old CA (§3.6 step
 * 7), generates the agent's leaf key and CSR (§4.1), checks a CSR
 * (§4.2 items 1-4, minus the ACL step, which belongs to the caller),
 * signs leaves (§4.3), reads what CARoot needs out of a certificate
 * (§3.3, §3.4) and signs CRLs (our addition, not in Consul).
 *
 * This is the only module that touches private keys: they live in
 * struct x509_key, are wiped by GnuTLS when freed, leave only through
 * x509_key_pem() and x509_leaf_keygen(), and never reach a log line or
 * a struct perr.  No HTTP, no storage: serial numbers and clocks are
 * passed in by the caller, which owns the cluster-wide counter.
 *
 * Statuses: 400 for what a client or operator supplied (PEM, CSR, key
 * parameters), 500 for GnuTLS failures on our own data.  Consul
 * surfaces several of the 400s as 500 (§4.2, §3.1); the HTTP layer may
 * remap them.  Error texts are Consul's where Consul has one.
 *
 * Key ids are SHA-256 of the DER SubjectPublicKeyInfo, computed here
 * rather than by GnuTLS, which would default to SHA-1 ids.
 *
 * CA keys in a PKCS#11 token (connect { ca_key { pkcs11_* } }): after
 * x509_pkcs11_init(), x509_ca_keygen() makes the key pair inside the
 * token (sensitive, non-extractable), x509_key_pem() gives its URI
 * instead of a PEM, and x509_ca_load() takes such a URI: signing goes
 * through gnutls_privkey_import_url() handles, each signer its own.
 * A worker calls x509_pkcs11_reinit() after the fork (fresh sessions).
 */
#include "config.h"

#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/pkcs11.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>

#include "portcullis.h"
#include "der.h"
#include "spiffe.h"
#include "x509.h"

#define KEYID_LEN	32		/* SHA-256 */
#define LEAF_BACKDATE	60		/* NotBefore = now - 1 minute */
#define CROSS_TTL	(7 * 86400)	/* cross-signed root: 7 days */
#define TTL_MAX		((int64_t)1000 * 366 * 86400)	/* no overflow */
#define OID_SAN		"2.5.29.17"

enum keytype {
	KEY_EC,
	KEY_RSA,
	KEY__MAX
};

static const char *const keytype_names[KEY__MAX] = {
	[KEY_EC] = "ec",
	[KEY_RSA] = "rsa",
};

/* The NIST curves a CA key may use, by Consul's PrivateKeyBits. */
static const struct {
	int			bits;
	gnutls_ecc_curve_t	curve;
	gnutls_digest_algorithm_t hash;	/* for a self-signed root */
} curves[] = {
	{ 224, GNUTLS_ECC_CURVE_SECP224R1, GNUTLS_DIG_SHA256 },
	{ 256, GNUTLS_ECC_CURVE_SECP256R1, GNUTLS_DIG_SHA256 },
	{ 384, GNUTLS_ECC_CURVE_SECP384R1, GNUTLS_DIG_SHA384 },
	{ 521, GNUTLS_ECC_CURVE_SECP521R1, GNUTLS_DIG_SHA512 },
};
#define NCURVES	(sizeof(curves) / sizeof(curves[0]))

struct x509_key {
	char			*uri;	/* in a token: its PKCS#11 URI */
	unsigned int		 gen;	/* token: tok_gen it was opened in */
	gnutls_x509_privkey_t	 xk;	/* for export; NULL in a token */
	gnutls_privkey_t	 pk;	/* for signing; borrows xk */
	gnutls_pubkey_t		 pub;
	enum keytype		 type;
	int			 bits;
	unsigned char		 kid[KEYID_LEN];
};

/*
 * A CA may be shared by the threads of a worker (ca.c's snapshots).
 * GnuTLS objects are not for concurrent use, so each signature takes
 * one of NSIGNERS private copies of the key, each under its own mutex
 * (one mutex for the one key was the most contended lock of leaf
 * issuance: ~95 us held per leaf, four threads per worker).  The CRL
 * and everything else use signers[0].
 */
#define NSIGNERS	4

struct x509_signer {
	pthread_mutex_t		 mtx;
	gnutls_privkey_t	 pk;	/* a copy of key->xk, or the token's */
	unsigned int		 gen;	/* token: tok_gen it was opened in */
};

struct x509_ca {
	struct x509_signer	 signers[NSIGNERS];
	unsigned int		 next;	/* round robin, atomic */
	struct x509_key		*key;
	gnutls_x509_crt_t	 crt;
	unsigned char		 aki[X509_KEYID_MAX]; /* what we sign as */
	size_t			 aki_len;
	gnutls_digest_algorithm_t sig_hash;	/* of the CA cert itself */
	time_t			 not_after;
	/* What every leaf we sign shares (x509_leaf_sign()): */
	gnutls_datum_t		 issuer;	/* our subject DN, DER */
	struct der		 sigalg;	/* AlgorithmIdentifier, SHA-256 */
	struct der		 akiext;	/* the AKI extension */
};

struct x509_csr {
	gnutls_x509_crq_t	 crq;		/* NULL: x509_leaf_request() */
	gnutls_pubkey_t		 pub;		/* NULL: x509_leaf_request() */
	struct der		 spki;		/* SubjectPublicKeyInfo, DER */
	char			*uri;		/* the one URI SAN */
	struct spiffe_id	*id;		/* uri, parsed */
	char			**dns;		/* DNS SANs, copied to leaf */
	size_t			 ndns;
	gnutls_datum_t		*ip;		/* IP SANs, raw 4/16 bytes */
	size_t			 nip;
};

/* Result of looking for the first PEM block. */
enum pem_res {
	PEM_OK,
	PEM_NONE
};

/*
 * Record a GnuTLS failure on our own data: log it (no secret is ever
 * part of a GnuTLS error text) and set status 500.  Returns -1.
 */
static int
gtls_fail(struct perr *e, const char *what, int r)
{
	log_warnx("x509: %s: %s", what, gnutls_strerror(r));
	return perr_set(e, 500, "%s: %s", what, gnutls_strerror(r));
}

/* Lower-case colon hex ("0a:1b:..") of b into out (NUL-terminated). */
static void
hexcolon(const unsigned char *b, size_t n, char *out, size_t sz)
{
	size_t	i, o = 0;

	if (sz == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < n && o + 3 + (i > 0) <= sz; i++)
		o += (size_t)snprintf(out + o, sz - o, "%s%02x",
		    i > 0 ? ":" : "", b[i]);
}

/*
 * The DER content of a positive INTEGER holding v: minimal big-endian
 * bytes, with a leading 0x00 when the top bit is set.  Returns the
 * length (1..9).
 */
static size_t
uint_der(uint64_t v, unsigned char out[9])
{
	unsigned char	tmp[8];
	size_t		i, n = 0, o = 0;

	for (i = 0; i < 8; i++)
		tmp[i] = (unsigned char)(v >> (56 - 8 * i));
	while (n < 7 && tmp[n] == 0)
		n++;
	if (tmp[n] & 0x80)
		out[o++] = 0;
	memcpy(out + o, tmp + n, 8 - n);
	return o + 8 - n;
}

/*
 * Format a serial as Consul's leaf SerialNumber: colon hex of the
 * minimal big-endian magnitude (Go's big.Int.Bytes()), so 8 is "08",
 * 300 "01:2c", 200 "c8" and 0 "".  buf should hold X509_SERIAL_HEXLEN.
 */
void
x509_serial_hex(uint64_t v, char *buf, size_t sz)
{
	unsigned char	der[9];
	size_t		n;

	n = uint_der(v, der);
	if (v == 0)
		hexcolon(der, 0, buf, sz);
	else if (der[0] == 0)
		hexcolon(der + 1, n - 1, buf, sz);
	else
		hexcolon(der, n, buf, sz);
}

/*
 * Find the first PEM block of pem, return its label in type and its
 * decoded contents in der (gnutls_free()).  Like Go's pem.Decode,
 * which Consul uses, only the first well-formed block counts.
 */
static enum pem_res
pem_first(const char *pem, char *type, size_t tsz, gnutls_datum_t *der)
{
	const char	*b, *t, *te, *end;
	char		 endline[128];
	gnutls_datum_t	 in;
	size_t		 n;

	der->data = NULL;
	der->size = 0;
	for (b = pem; (b = strstr(b, "-----BEGIN ")) != NULL; b = t) {
		t = b + 11;
		if ((te = strstr(t, "-----")) == NULL)
			return PEM_NONE;
		n = (size_t)(te - t);
		if (n == 0 || n >= tsz || memchr(t, '\n', n) != NULL)
			continue;
		memcpy(type, t, n);
		type[n] = '\0';
		snprintf(endline, sizeof(endline), "-----END %s-----", type);
		if ((end = strstr(te, endline)) == NULL)
			continue;
		in.data = (unsigned char *)(uintptr_t)b;
		in.size = (unsigned)(end + strlen(endline) - b);
		if (gnutls_pem_base64_decode2(type, &in, der) < 0 ||
		    der->size == 0) {
			gnutls_free(der->data);
			der->data = NULL;
			continue;
		}
		return PEM_OK;
	}
	return PEM_NONE;
}

/* PEM-encode der under label into a new NUL-terminated string. */
static int
pem_encode(const char *label, const gnutls_datum_t *der, char **out,
    struct perr *e)
{
	gnutls_datum_t	p;
	int		r;

	if ((r = gnutls_pem_base64_encode2(label, der, &p)) < 0)
		return gtls_fail(e, "error encoding PEM", r);
	*out = xstrndup((const char *)p.data, p.size);
	gnutls_free(p.data);
	return 0;
}

/* SHA-256 of the DER SubjectPublicKeyInfo of pub. */
static int
key_id(gnutls_pubkey_t pub, unsigned char out[KEYID_LEN], struct perr *e)
{
	gnutls_datum_t	d;
	int		r;

	if ((r = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d)) < 0)
		return gtls_fail(e, "error exporting public key", r);
	r = gnutls_hash_fast(GNUTLS_DIG_SHA256, d.data, d.size, out);
	gnutls_free(d.data);
	if (r < 0)
		return gtls_fail(e, "error hashing public key", r);
	return 0;
}

/* Do two public keys have the same DER SubjectPublicKeyInfo? */
static int
pubkey_equal(gnutls_pubkey_t a, gnutls_pubkey_t b)
{
	gnutls_datum_t	da = { NULL, 0 }, db = { NULL, 0 };
	int		eq;

	eq = gnutls_pubkey_export2(a, GNUTLS_X509_FMT_DER, &da) == 0 &&
	    gnutls_pubkey_export2(b, GNUTLS_X509_FMT_DER, &db) == 0 &&
	    da.size == db.size && memcmp(da.data, db.data, da.size) == 0;
	gnutls_free(da.data);
	gnutls_free(db.data);
	return eq;
}

/*
 * Classify a public key as Consul does (KeyInfoFromCert): EC on a NIST
 * P-curve with its curve size, or RSA with its modulus size.  Returns
 * 0, or -1 for anything else (no perr: callers word it).
 */
static int
pub_info(gnutls_pubkey_t pub, enum keytype *type, int *bits,
    const char **name)
{
	gnutls_ecc_curve_t	curve;
	gnutls_datum_t		x = { NULL, 0 }, y = { NULL, 0 };
	unsigned int		b = 0;
	size_t			i;
	int			algo;

	algo = gnutls_pubkey_get_pk_algorithm(pub, &b);
	*name = gnutls_pk_get_name(algo);
	if (*name == NULL)
		*name = "unknown";
	if (algo == GNUTLS_PK_RSA) {
		*type = KEY_RSA;
		*bits = (int)b;
		return 0;
	}
	if (algo != GNUTLS_PK_ECDSA ||
	    gnutls_pubkey_export_ecc_raw(pub, &curve, &x, &y) < 0)
		return -1;
	gnutls_free(x.data);
	gnutls_free(y.data);
	for (i = 0; i < NCURVES; i++)
		if (curves[i].curve == curve) {
			*type = KEY_EC;
			*bits = curves[i].bits;
			return 0;
		}
	*name = gnutls_ecc_curve_get_name(curve);
	if (*name == NULL)
		*name = "unknown curve";
	return -1;
}

/* The hash a CA key signs its own root with (connect.md §3.2). */
static gnutls_digest_algorithm_t
root_hash(const struct x509_key *k)
{
	size_t	i;

	if (k->type == KEY_EC)
		for (i = 0; i < NCURVES; i++)
			if (curves[i].bits == k->bits)
				return curves[i].hash;
	return GNUTLS_DIG_SHA256;
}

/*
 * Wrap an imported or generated GnuTLS key: signing handle, public key,
 * type, size and key id.  Takes ownership of xk, even on failure.
 * Unsupported algorithms are 400.
 */
static int
key_wrap(gnutls_x509_privkey_t xk, struct x509_key **out, struct perr *e)
{
	struct x509_key	*k;
	const char	*name;
	int		 r;

	*out = NULL;
	k = xcalloc(1, sizeof(*k));
	k->xk = xk;
	if ((r = gnutls_privkey_init(&k->pk)) < 0 ||
	    (r = gnutls_privkey_import_x509(k->pk, xk, 0)) < 0 ||
	    (r = gnutls_pubkey_init(&k->pub)) < 0 ||
	    (r = gnutls_pubkey_import_privkey(k->pub, k->pk, 0, 0)) < 0) {
		x509_key_free(k);
		return gtls_fail(e, "error loading private key", r);
	}
	if (pub_info(k->pub, &k->type, &k->bits, &name) == -1) {
		x509_key_free(k);
		return perr_set(e, 400, "unsupported private key type: %s",
		    name);
	}
	if (k->type == KEY_RSA && k->bits < 2048) {
		x509_key_free(k);
		return perr_set(e, 400, "RSA key length must be at least "
		    "2048 bits");
	}
	if (key_id(k->pub, k->kid, e) == -1) {
		x509_key_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

/* ---------------------------------------------------------------- */
/* CA keys in a PKCS#11 token.                                         */

static char	*tok_url;	/* connect.ca_key.pkcs11_url; NULL: none */
static char	*tok_module;
static char	*tok_pin;	/* read from pin_file once */
/*
 * A token that went away is found again only after a new C_Initialize,
 * which ends every session of the process: token users hold tok_rw for
 * reading, a restart (tok_restart()) for writing, and each handle
 * records the generation it was opened in.  Handles of an older
 * generation are reopened before use and never freed (their module
 * state is gone: leaked, a few hundred bytes per restart).
 */
static pthread_rwlock_t	tok_rw = PTHREAD_RWLOCK_INITIALIZER;
static unsigned int	tok_gen;

/* GnuTLS asks for the token's user PIN: the one from pin_file. */
static int
tok_pin_cb(void *arg, int attempt, const char *url, const char *label,
    unsigned int flags, char *pin, size_t len)
{
	(void)arg;
	(void)url;
	(void)label;
	(void)flags;
	if (tok_pin == NULL || attempt > 0 || strlen(tok_pin) >= len)
		return -1;	/* a wrong PIN is not retried (lockout) */
	memcpy(pin, tok_pin, strlen(tok_pin) + 1);
	return 0;
}

/*
 * Load the PKCS#11 module (master, before the fork) for CA keys in the
 * token url, logging in with the PIN in pin_file (NULL: no PIN).
 * Returns 0, or -1 (500) naming what failed.
 */
int
x509_pkcs11_init(const char *module, const char *url, const char *pin_file,
    struct perr *e)
{
	FILE	*f;
	char	 buf[256];
	size_t	 n;
	int	 r;

	if (pin_file != NULL) {
		if ((f = fopen(pin_file, "r")) == NULL)
			return perr_set(e, 500, "connect.ca_key: pin_file %s: "
			    "cannot read it", pin_file);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		secret_free(tok_pin);
		tok_pin = xstrdup(buf);
		explicit_bzero(buf, sizeof(buf));
	}
	if ((r = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, NULL)) < 0 ||
	    (r = gnutls_pkcs11_add_provider(module, NULL)) < 0)
		return perr_set(e, 500, "connect.ca_key: PKCS#11 module %s: %s",
		    module, gnutls_strerror(r));
	gnutls_pkcs11_set_pin_function(tok_pin_cb, NULL);
	free(tok_url);
	tok_url = xstrdup(url);
	free(tok_module);
	tok_module = xstrdup(module);
	return 0;
}

/*
 * Signing failed on generation gen: unless someone did already, or did
 * within the last second, finalize and initialize the module again, so
 * that a token that came back is seen.  Call without tok_rw held.
 */
static void
tok_restart(unsigned int gen)
{
	static time_t	last;
	time_t		now = time(NULL);

	/* CK_C_INITIALIZE_ARGS with CKF_OS_LOCKING_OK (PKCS#11 2.40). */
	struct {
		void		*create, *destroy, *lock, *unlock;
		unsigned long	 flags;
		void		*reserved;
	}		args = { NULL, NULL, NULL, NULL, 0x2, NULL };
	unsigned long	(*fin)(void *), (*ini)(void *);
	void		*h;
	unsigned long	 rv = 0;

	pthread_rwlock_wrlock(&tok_rw);
	if (gen == tok_gen && now != last) {
		last = now;
		/*
		 * GnuTLS's own deinit/init keeps the module initialised
		 * while anything refers to it; finalize and initialize the
		 * very module instance it loaded (RTLD_NOLOAD), under it.
		 * Every session ends; handles are reopened by generation.
		 */
		if ((h = dlopen(tok_module, RTLD_NOW | RTLD_NOLOAD)) != NULL) {
			fin = (unsigned long (*)(void *))dlsym(h, "C_Finalize");
			ini = (unsigned long (*)(void *))dlsym(h,
			    "C_Initialize");
			if (fin != NULL && ini != NULL) {
				(void)fin(NULL);
				rv = ini(&args);
			}
			dlclose(h);
		}
		if (rv != 0)
			log_warnx("x509: PKCS#11 module restart: CKR 0x%lx",
			    rv);
		tok_gen++;
	}
	pthread_rwlock_unlock(&tok_rw);
}

/* Free a token handle of generation gen, unless it is stale. */
static void
tok_privkey_free(gnutls_privkey_t pk, int token, unsigned int gen)
{
	if (pk != NULL && (!token || gen == tok_gen))
		gnutls_privkey_deinit(pk);
}

/*
 * In a worker after the fork: PKCS#11 sessions are not shared across
 * processes, so start afresh (every key handle is opened afterwards,
 * by the worker's own CA snapshot).  A no-op without a token.
 */
void
x509_pkcs11_reinit(void)
{
	int	r;

	if (tok_url != NULL && (r = gnutls_pkcs11_reinit()) < 0)
		log_warnx("x509: PKCS#11 reinit: %s", gnutls_strerror(r));
}

/* 1 when CA keys are made in a PKCS#11 token. */
int
x509_pkcs11_enabled(void)
{
	return tok_url != NULL;
}

/* Wrap a token key: its URI, a signing handle and its public key. */
static int
token_key_load(const char *uri, struct x509_key **out, struct perr *e)
{
	struct x509_key	*k;
	const char	*name;
	char		*pub;
	int		 r;

	*out = NULL;
	if (tok_url == NULL)
		return perr_set(e, 500, "the CA key is in a PKCS#11 token, "
		    "but connect.ca_key is not configured");
	k = xcalloc(1, sizeof(*k));
	k->uri = xstrdup(uri);
	xasprintf(&pub, "%s;type=public", uri);
	pthread_rwlock_rdlock(&tok_rw);
	k->gen = tok_gen;
	if ((r = gnutls_privkey_init(&k->pk)) < 0 ||
	    (r = gnutls_privkey_import_url(k->pk, uri, 0)) < 0 ||
	    (r = gnutls_pubkey_init(&k->pub)) < 0 ||
	    (r = gnutls_pubkey_import_url(k->pub, pub, 0)) < 0) {
		pthread_rwlock_unlock(&tok_rw);
		free(pub);
		x509_key_free(k);
		log_warnx("x509: CA key in the token: %s", gnutls_strerror(r));
		return perr_set(e, 500, "the CA key in the PKCS#11 token is "
		    "not available: %s", gnutls_strerror(r));
	}
	pthread_rwlock_unlock(&tok_rw);
	free(pub);
	if (pub_info(k->pub, &k->type, &k->bits, &name) == -1) {
		x509_key_free(k);
		return perr_set(e, 500, "unsupported private key type: %s",
		    name);
	}
	if (key_id(k->pub, k->kid, e) == -1) {
		x509_key_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

/*
 * GnuTLS's algorithm and bits argument for a CA key of type "ec" (bits
 * 224, 256, 384 or 521: the NIST P-curves) or "rsa" (2048 or 4096),
 * the type case-insensitive as in Consul.  Returns 0, or -1 with 400
 * and Consul's text for a bad type or size.
 */
static int
key_algo(const char *type, int bits, gnutls_pk_algorithm_t *algo,
    unsigned int *gbits, struct perr *e)
{
	size_t	i;

	*gbits = 0;
	if (strcasecmp(type, "ec") == 0) {
		*algo = GNUTLS_PK_ECDSA;
		for (i = 0; i < NCURVES; i++)
			if (curves[i].bits == bits)
				*gbits = GNUTLS_CURVE_TO_BITS(curves[i].curve);
		if (*gbits == 0)
			return perr_set(e, 400, "error generating ECDSA "
			    "private key: unknown curve length %d", bits);
	} else if (strcasecmp(type, "rsa") == 0) {
		*algo = GNUTLS_PK_RSA;
		if (bits != 2048 && bits != 4096)
			return perr_set(e, 400, "RSA key length must be 2048 "
			    "or 4096 bits");
		*gbits = (unsigned int)bits;
	} else
		return perr_set(e, 400, "unknown private key type requested: "
		    "%s", type);
	return 0;
}

/*
 * A new CA key of type/bits (as x509_key_generate()), made inside the
 * PKCS#11 token when one is configured: sensitive, not extractable,
 * private, labelled portcullis-ca-<random>.  Sets *out (x509_key_free())
 * and returns 0, or -1: 400 for a bad type or size, 500 when the token
 * fails.
 */
int
x509_ca_keygen(const char *type, int bits, struct x509_key **out,
    struct perr *e)
{
	gnutls_pk_algorithm_t	 algo;
	unsigned char		 rnd[8];
	unsigned int		 gbits = 0;
	gnutls_datum_t		 cid;
	char			 label[40], *uri, idhex[3 * sizeof(rnd) + 1];
	size_t			 i;
	int			 r;

	*out = NULL;
	if (tok_url == NULL)
		return x509_key_generate(type, bits, out, e);
	if (key_algo(type, bits, &algo, &gbits, e) == -1)
		return -1;
	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0)
		return perr_set(e, 500, "no random bytes");
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(idhex + 3 * i, 4, "%%%02x", rnd[i]);
	snprintf(label, sizeof(label), "portcullis-ca-");
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(label + 14 + 2 * i, 3, "%02x", rnd[i]);
	cid.data = rnd;
	cid.size = sizeof(rnd);
	if ((r = gnutls_pkcs11_privkey_generate3(tok_url, algo, gbits, label,
	    &cid, 0, NULL, GNUTLS_KEY_DIGITAL_SIGNATURE |
	    GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN,
	    GNUTLS_PKCS11_OBJ_FLAG_LOGIN |
	    GNUTLS_PKCS11_OBJ_FLAG_MARK_SENSITIVE |
	    GNUTLS_PKCS11_OBJ_FLAG_MARK_PRIVATE)) < 0) {
		log_warnx("x509: generating a CA key in the token: %s",
		    gnutls_strerror(r));
		return perr_set(e, 500, "error generating private key in the "
		    "PKCS#11 token: %s", gnutls_strerror(r));
	}
	xasprintf(&uri, "%s;id=%s;object=%s", tok_url, idhex, label);
	r = token_key_load(uri, out, e);
	free(uri);
	return r;
}

/*
 * Generate a CA private key of type "ec" (bits 224, 256, 384 or 521:
 * the NIST P-curves) or "rsa" (bits 2048 or 4096); the type is
 * case-insensitive as in Consul.  Sets *out to a new key
 * (x509_key_free()) and returns 0, or returns -1 with e set: 400 with
 * Consul's text for a bad type or size, 500 if GnuTLS fails.
 */
int
x509_key_generate(const char *type, int bits, struct x509_key **out,
    struct perr *e)
{
	gnutls_x509_privkey_t	xk;
	gnutls_pk_algorithm_t	algo;
	unsigned int		gbits = 0;
	int			r;

	*out = NULL;
	if (key_algo(type, bits, &algo, &gbits, e) == -1)
		return -1;

	if ((r = gnutls_x509_privkey_init(&xk)) < 0)
		return gtls_fail(e, "error generating private key", r);
	if ((r = gnutls_x509_privkey_generate(xk, algo, gbits, 0)) < 0) {
		gnutls_x509_privkey_deinit(xk);
		return gtls_fail(e, "error generating private key", r);
	}
	return key_wrap(xk, out, e);
}

/*
 * Import an operator-supplied CA key: the first PEM block must be
 * "EC PRIVATE KEY" (SEC1), "RSA PRIVATE KEY" (PKCS#1) or "PRIVATE KEY"
 * (unencrypted PKCS#8), holding an EC key on P-224/256/384/521 or an
 * RSA key of at least 2048 bits.  Sets *out (x509_key_free()) and
 * returns 0, or -1 with e set to 400: "no PEM-encoded data found",
 * "unknown PEM block type for signing key: <type>" (Consul's texts),
 * "error parsing private key: ...", "unsupported private key type: ..".
 * The key material itself never appears in an error.
 */
int
x509_key_load(const char *pem, struct x509_key **out, struct perr *e)
{
	gnutls_x509_privkey_t	 xk;
	gnutls_datum_t		 der;
	char			 type[64];
	int			 r, want = GNUTLS_PK_UNKNOWN;

	*out = NULL;
	if (pem_first(pem, type, sizeof(type), &der) != PEM_OK)
		return perr_set(e, 400, "no PEM-encoded data found");
	if (strcmp(type, "EC PRIVATE KEY") == 0)
		want = GNUTLS_PK_ECDSA;
	else if (strcmp(type, "RSA PRIVATE KEY") == 0)
		want = GNUTLS_PK_RSA;
	else if (strcmp(type, "PRIVATE KEY") != 0) {
		gnutls_memset(der.data, 0, der.size);
		gnutls_free(der.data);
		return perr_set(e, 400, "unknown PEM block type for signing "
		    "key: %s", type);
	}
	if ((r = gnutls_x509_privkey_init(&xk)) < 0) {
		gnutls_memset(der.data, 0, der.size);
		gnutls_free(der.data);
		return gtls_fail(e, "error parsing private key", r);
	}
	if (want == GNUTLS_PK_UNKNOWN)
		r = gnutls_x509_privkey_import_pkcs8(xk, &der,
		    GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN);
	else
		r = gnutls_x509_privkey_import(xk, &der, GNUTLS_X509_FMT_DER);
	gnutls_memset(der.data, 0, der.size);
	gnutls_free(der.data);
	if (r < 0) {
		gnutls_x509_privkey_deinit(xk);
		return perr_set(e, 400, "error parsing private key: %s",
		    gnutls_strerror(r));
	}
	if (want != GNUTLS_PK_UNKNOWN &&
	    gnutls_x509_privkey_get_pk_algorithm(xk) != want) {
		gnutls_x509_privkey_deinit(xk);
		return perr_set(e, 400, "error parsing private key: %s block "
		    "holds a different key type", type);
	}
	return key_wrap(xk, out, e);
}

/*
 * Export a key as PEM: SEC1 "EC PRIVATE KEY" for EC, PKCS#1 "RSA
 * PRIVATE KEY" for RSA, 64-column lines, ending in a newline.  Sets
 * *out to a new string that the caller must release with secret_free().
 * Returns 0, or -1 with e set (500).
 */
int
x509_key_pem(const struct x509_key *k, char **out, struct perr *e)
{
	gnutls_datum_t	d;
	int		r;

	*out = NULL;
	if (k->uri != NULL) {
		*out = xstrdup(k->uri);
		return 0;
	}
	if ((r = gnutls_x509_privkey_export2(k->xk, GNUTLS_X509_FMT_PEM,
	    &d)) < 0)
		return gtls_fail(e, "error encoding private key", r);
	*out = xstrndup((const char *)d.data, d.size);
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	return 0;
}

/* "ec" or "rsa" (CARoot PrivateKeyType). */
const char *
x509_key_type(const struct x509_key *k)
{
	return keytype_names[k->type];
}

/* Curve size or modulus bits (CARoot PrivateKeyBits). */
int
x509_key_bits(const struct x509_key *k)
{
	return k->bits;
}

/* Free a key; GnuTLS wipes the secret.  NULL is fine. */
void
x509_key_free(struct x509_key *k)
{
	if (k == NULL)
		return;
	if (k->pub != NULL)
		gnutls_pubkey_deinit(k->pub);
	tok_privkey_free(k->pk, k->uri != NULL, k->gen);
	if (k->xk != NULL)
		gnutls_x509_privkey_deinit(k->xk);
	free(k->uri);
	explicit_bzero(k, sizeof(*k));
	free(k);
}

/*
 * Parse the first PEM block of pem as a certificate (Consul's
 * ParseCert).  Returns 0 with *out set (gnutls_x509_crt_deinit()), or
 * -1 with e set to 400.
 */
static int
cert_parse(const char *pem, gnutls_x509_crt_t *out, struct perr *e)
{
	gnutls_datum_t	der;
	char		type[64];
	int		r;

	*out = NULL;
	if (pem_first(pem, type, sizeof(type), &der) != PEM_OK)
		return perr_set(e, 400, "no PEM-encoded data found");
	if (strcmp(type, "CERTIFICATE") != 0) {
		gnutls_free(der.data);
		return perr_set(e, 400, "first PEM-block should be "
		    "CERTIFICATE type");
	}
	if ((r = gnutls_x509_crt_init(out)) < 0) {
		gnutls_free(der.data);
		return gtls_fail(e, "error parsing certificate", r);
	}
	r = gnutls_x509_crt_import(*out, &der, GNUTLS_X509_FMT_DER);
	gnutls_free(der.data);
	if (r < 0) {
		gnutls_x509_crt_deinit(*out);
		*out = NULL;
		return perr_set(e, 400, "error parsing certificate: %s",
		    gnutls_strerror(r));
	}
	return 0;
}

/* Export a certificate as PEM ("CERTIFICATE", ends in a newline). */
static int
cert_pem(gnutls_x509_crt_t crt, char **out, struct perr *e)
{
	gnutls_datum_t	d;
	int		r;

	if ((r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d)) < 0)
		return gtls_fail(e, "error encoding certificate", r);
	r = pem_encode("CERTIFICATE", &d, out, e);
	gnutls_free(d.data);
	return r;
}

/*
 * Append a SubjectAltName extension value holding the given names, in
 * Go's order: DNS names, IP addresses, then the URI (GeneralNames with
 * IMPLICIT [2] dNSName, [7] iPAddress, [6] URI, as GnuTLS encodes them;
 * 13 us per leaf through gnutls_x509_ext_export_subject_alt_names()).
 */
static void
san_der(char *const *dns, size_t ndns, const gnutls_datum_t *ip, size_t nip,
    const char *uri, struct der *d)
{
	size_t	from = d->len, i;

	for (i = 0; i < ndns; i++)
		der_tlv(d, 0x82, dns[i], strlen(dns[i]));
	for (i = 0; i < nip; i++)
		der_tlv(d, 0x87, ip[i].data, ip[i].size);
	if (uri != NULL)
		der_tlv(d, 0x86, uri, strlen(uri));
	der_wrap(d, from, DER_SEQUENCE);
}

/* Set the validity window and the serial of a certificate. */
static int
crt_basics(gnutls_x509_crt_t crt, uint64_t serial, time_t nb, time_t na,
    struct perr *e)
{
	unsigned char	sn[9];
	size_t		n;
	int		r;

	n = uint_der(serial, sn);
	if ((r = gnutls_x509_crt_set_serial(crt, sn, n)) < 0 ||
	    (r = gnutls_x509_crt_set_activation_time(crt, nb)) < 0 ||
	    (r = gnutls_x509_crt_set_expiration_time(crt, na)) < 0)
		return gtls_fail(e, "error setting certificate fields", r);
	return 0;
}

/*
 * Set (or replace) the authority key id extension.  GnuTLS's own
 * setter refuses to replace one, which cross-signing must do.
 */
static int
set_aki(gnutls_x509_crt_t crt, const unsigned char *id, size_t n,
    struct perr *e)
{
	gnutls_x509_aki_t	aki;
	gnutls_datum_t		d = { (unsigned char *)(uintptr_t)id,
				    (unsigned)n }, der = { NULL, 0 };
	int			r;

	if ((r = gnutls_x509_aki_init(&aki)) < 0)
		return gtls_fail(e, "error setting authority key id", r);
	if ((r = gnutls_x509_aki_set_id(aki, &d)) >= 0 &&
	    (r = gnutls_x509_ext_export_authority_key_id(aki, &der)) >= 0)
		r = gnutls_x509_crt_set_extension_by_oid(crt, "2.5.29.35",
		    der.data, der.size, 0);
	gnutls_x509_aki_deinit(aki);
	gnutls_free(der.data);
	if (r < 0)
		return gtls_fail(e, "error setting authority key id", r);
	return 0;
}

/*
 * Create the self-signed root of the built-in CA (connect.md §3.2) for
 * key k: v3; the given serial; subject = issuer =
 * CN=pri-<8 random base-36 chars>.consul.ca.<first 8 of cluster_id>.consul;
 * NotBefore now, NotAfter now + ttl seconds; critical key usage
 * digitalSignature, keyCertSign, cRLSign; critical CA:TRUE without a
 * path length; SKI = AKI = SHA-256 of the SPKI; one non-critical URI
 * SAN spiffe://<cluster_id lower-cased>.consul; ECDSA with SHA-256
 * (P-224, P-256), SHA-384 (P-384), SHA-512 (P-521), or SHA256WithRSA.
 * Sets *pem to a new PEM string (free()) and returns 0, or -1 with e
 * set: 400 for an empty cluster id or a ttl <= 0 or over 1000
 * years, 500 if GnuTLS fails.
 */
int
x509_root_create(const struct x509_key *k, const char *cluster_id,
    uint64_t serial, time_t now, int64_t ttl, char **pem, struct perr *e)
{
	static const char	 b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	gnutls_x509_crt_t	 crt = NULL;
	struct der		 san = { NULL, 0, 0 };
	unsigned char		 rnd[32];
	char			 uid[9], *cn = NULL, *td = NULL, *uri = NULL;
	size_t			 i, n = 0;
	int			 r, rc = -1;

	*pem = NULL;
	if (cluster_id == NULL || *cluster_id == '\0')
		return perr_set(e, 400, "cluster ID must not be empty");
	if (ttl <= 0 || ttl > TTL_MAX)
		return perr_set(e, 400, "root cert TTL out of range");

	/* 8 chars of base 36, rejection-sampled so each is uniform. */
	while (n < 8) {
		if ((r = gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd))) < 0)
			return gtls_fail(e, "error generating CA", r);
		for (i = 0; i < sizeof(rnd) && n < 8; i++)
			if (rnd[i] < 252)
				uid[n++] = b36[rnd[i] % 36];
	}
	uid[8] = '\0';
	xasprintf(&cn, "pri-%s.consul.ca.%.8s.consul", uid, cluster_id);
	td = spiffe_trust_domain(cluster_id);
	uri = spiffe_signing_uri(td);

	if ((r = gnutls_x509_crt_init(&crt)) < 0 ||
	    (r = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (r = gnutls_x509_crt_set_dn_by_oid(crt,
	    GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn))) < 0 ||
	    (r = gnutls_x509_crt_set_pubkey(crt, k->pub)) < 0) {
		gtls_fail(e, "error generating CA certificate", r);
		goto out;
	}
	if (crt_basics(crt, serial, now, (time_t)(now + ttl), e) == -1)
		goto out;
	if ((r = gnutls_x509_crt_set_key_usage(crt,
	    GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN |
	    GNUTLS_KEY_CRL_SIGN)) < 0 ||
	    (r = gnutls_x509_crt_set_basic_constraints(crt, 1, -1)) < 0 ||
	    (r = gnutls_x509_crt_set_subject_key_id(crt, k->kid,
	    KEYID_LEN)) < 0 ||
	    (r = gnutls_x509_crt_set_authority_key_id(crt, k->kid,
	    KEYID_LEN)) < 0) {
		gtls_fail(e, "error generating CA certificate", r);
		goto out;
	}
	san_der(NULL, 0, NULL, 0, uri, &san);
	if ((r = gnutls_x509_crt_set_extension_by_oid(crt, OID_SAN, san.p,
	    san.len, 0)) < 0 ||
	    (r = gnutls_x509_crt_privkey_sign(crt, crt, k->pk, root_hash(k),
	    0)) < 0) {
		gtls_fail(e, "error generating CA certificate", r);
		goto out;
	}
	rc = cert_pem(crt, pem, e);
out:
	der_free(&san);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	free(cn);
	free(td);
	free(uri);
	return rc;
}

/*
 * A free signer of ca, locked: the first that trylock gets, starting
 * round robin; when all are busy, wait for the starting one.
 */
static struct x509_signer *
signer_get(struct x509_ca *ca)
{
	unsigned int	start, i;

	start = __atomic_fetch_add(&ca->next, 1, __ATOMIC_RELAXED);
	for (i = 0; i < NSIGNERS; i++)
		if (pthread_mutex_trylock(&ca->signers[(start + i) %
		    NSIGNERS].mtx) == 0)
			return &ca->signers[(start + i) % NSIGNERS];
	pthread_mutex_lock(&ca->signers[start % NSIGNERS].mtx);
	return &ca->signers[start % NSIGNERS];
}

/* The content bytes of the OIDs a leaf carries. */
static const unsigned char oid_ku[] = { 0x55, 0x1d, 0x0f };
static const unsigned char oid_eku[] = { 0x55, 0x1d, 0x25 };
static const unsigned char oid_bc[] = { 0x55, 0x1d, 0x13 };
static const unsigned char oid_ski[] = { 0x55, 0x1d, 0x0e };
static const unsigned char oid_aki[] = { 0x55, 0x1d, 0x23 };
static const unsigned char oid_san[] = { 0x55, 0x1d, 0x11 };
static const unsigned char oid_ecdsa_sha256[] = {	/* 1.2.840.10045.4.3.2 */
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const unsigned char oid_rsa_sha256[] = {		/* 1.2.840.113549.1.1.11 */
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b };

/*
 * Precompute the parts of a leaf that depend only on the CA (see
 * x509_leaf_sign()): the issuer name (our subject, as DER), the SHA-256
 * signature AlgorithmIdentifier for our key type (ECDSA: no parameters;
 * RSA PKCS#1 v1.5: NULL parameters, as GnuTLS and Go write them) and
 * the AKI extension { keyIdentifier [0] aki }.
 */
static int
leaf_template(struct x509_ca *ca, struct perr *e)
{
	static const unsigned char	null[] = { 0x05, 0x00 };
	struct der			val = { NULL, 0, 0 };
	int				r;

	if ((r = gnutls_x509_crt_get_raw_dn(ca->crt, &ca->issuer)) < 0)
		return gtls_fail(e, "error loading CA", r);
	if (ca->key->type == KEY_EC)
		der_tlv(&ca->sigalg, DER_OID, oid_ecdsa_sha256,
		    sizeof(oid_ecdsa_sha256));
	else {
		der_tlv(&ca->sigalg, DER_OID, oid_rsa_sha256,
		    sizeof(oid_rsa_sha256));
		der_put(&ca->sigalg, null, sizeof(null));
	}
	der_wrap(&ca->sigalg, 0, DER_SEQUENCE);
	der_tlv(&val, 0x80, ca->aki, ca->aki_len);	/* [0] IMPLICIT */
	der_wrap(&val, 0, DER_SEQUENCE);
	der_ext(&ca->akiext, oid_aki, sizeof(oid_aki), 0, val.p, val.len);
	der_free(&val);
	return 0;
}

/*
 * Load a CA for signing: its private key (as x509_key_load() accepts)
 * and its certificate (first PEM block, CERTIFICATE).  Checks that the
 * certificate's public key is the key's and that it is a CA
 * (basicConstraints CA:TRUE).  Certificates we sign name it in their
 * AKI by its SKI, or by our SHA-256 key id when it has none (as Go's
 * CreateCertificate does).  Sets *out (x509_ca_free()) and returns 0,
 * or -1 with e set (400 for bad or mismatched input).
 */
int
x509_ca_load(const char *key_pem, const char *cert_pem, struct x509_ca **out,
    struct perr *e)
{
	struct x509_ca		*ca;
	gnutls_pubkey_t		 cpub = NULL;
	unsigned int		 crit, isca = 0;
	size_t			 n;
	int			 r, sig, i;

	*out = NULL;
	ca = xcalloc(1, sizeof(*ca));
	for (i = 0; i < NSIGNERS; i++)
		pthread_mutex_init(&ca->signers[i].mtx, NULL);
	if ((strncmp(key_pem, "pkcs11:", 7) == 0 ?
	    token_key_load(key_pem, &ca->key, e) :
	    x509_key_load(key_pem, &ca->key, e)) == -1 ||
	    cert_parse(cert_pem, &ca->crt, e) == -1)
		goto fail;
	if ((r = gnutls_pubkey_init(&cpub)) < 0) {
		gtls_fail(e, "error loading CA", r);
		goto fail;
	}
	if ((r = gnutls_pubkey_import_x509(cpub, ca->crt, 0)) < 0) {
		perr_set(e, 400, "error parsing CA certificate public key: %s",
		    gnutls_strerror(r));
		goto fail;
	}
	if (!pubkey_equal(cpub, ca->key->pub)) {
		perr_set(e, 400, "private key does not match the CA "
		    "certificate");
		goto fail;
	}
	if (gnutls_x509_crt_get_basic_constraints(ca->crt, &crit, &isca,
	    NULL) < 0 || !isca) {
		perr_set(e, 400, "CA certificate is not a CA "
		    "(basic constraints CA:TRUE missing)");
		goto fail;
	}
	n = sizeof(ca->aki);
	if (gnutls_x509_crt_get_subject_key_id(ca->crt, ca->aki, &n,
	    &crit) < 0 || n == 0) {
		memcpy(ca->aki, ca->key->kid, KEYID_LEN);
		n = KEYID_LEN;
	}
	ca->aki_len = n;
	sig = gnutls_x509_crt_get_signature_algorithm(ca->crt);
	ca->sig_hash = sig > 0 ? gnutls_sign_get_hash_algorithm(sig) :
	    GNUTLS_DIG_UNKNOWN;
	if (ca->sig_hash == GNUTLS_DIG_UNKNOWN)
		ca->sig_hash = GNUTLS_DIG_SHA256;
	ca->not_after = gnutls_x509_crt_get_expiration_time(ca->crt);
	if (leaf_template(ca, e) == -1)
		goto fail;
	if (ca->key->uri != NULL)
		pthread_rwlock_rdlock(&tok_rw);
	for (i = 0; i < NSIGNERS; i++)
		if ((r = gnutls_privkey_init(&ca->signers[i].pk)) < 0 ||
		    (r = ca->key->uri != NULL ?
		    gnutls_privkey_import_url(ca->signers[i].pk, ca->key->uri,
		    0) : gnutls_privkey_import_x509(ca->signers[i].pk,
		    ca->key->xk, GNUTLS_PRIVKEY_IMPORT_COPY)) < 0) {
			if (ca->key->uri != NULL)
				pthread_rwlock_unlock(&tok_rw);
			gtls_fail(e, "error loading CA", r);
			goto fail;
		} else
			ca->signers[i].gen = tok_gen;
	if (ca->key->uri != NULL)
		pthread_rwlock_unlock(&tok_rw);
	gnutls_pubkey_deinit(cpub);
	*out = ca;
	return 0;
fail:
	if (cpub != NULL)
		gnutls_pubkey_deinit(cpub);
	x509_ca_free(ca);
	return -1;
}

/*
 * Refuse to sign with an expired CA certificate (§4.2 item 6).
 * Returns 0 while NotAfter is not before now, else -1 with e set to
 * 500 and Consul's text, date in Go's time.String() form (the trailing
 * space is Consul's):
 *   root expired: certificate expired, expiration date: 2025-05-01
 *   10:00:00 +0000 UTC
 */
int
x509_ca_check_expired(const struct x509_ca *ca, time_t now, struct perr *e)
{
	struct tm	tm;
	char		buf[64];

	if (ca->not_after >= now)
		return 0;
	gmtime_r(&ca->not_after, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
	return perr_set(e, 500, "root expired: certificate expired, "
	    "expiration date: %s ", buf);
}

/*
 * Open sg's token key again by its URI (its handle is of an older
 * generation, or failed), with tok_rw held for reading and sg's mutex
 * held.  Returns 0 when the new handle is in place, else -1 (the old
 * one stays, to fail cleanly again until the token is back).
 */
static int
signer_reopen(struct x509_ca *ca, struct x509_signer *sg)
{
	gnutls_privkey_t	pk;

	if (gnutls_privkey_init(&pk) < 0)
		return -1;
	if (gnutls_privkey_import_url(pk, ca->key->uri, 0) < 0) {
		gnutls_privkey_deinit(pk);
		return -1;
	}
	tok_privkey_free(sg->pk, 1, sg->gen);
	sg->pk = pk;
	sg->gen = tok_gen;
	return 0;
}

/*
 * Sign tbs with one of ca's signers.  A token key that fails is
 * reopened, after a module restart if need be (the token went away
 * and may be back), and tried once more.  Returns GnuTLS's code.
 */
static int
ca_sign_data(struct x509_ca *ca, const gnutls_datum_t *tbs,
    gnutls_datum_t *sig)
{
	struct x509_signer	*sg;
	unsigned int		 gen;
	int			 token = ca->key->uri != NULL, r;

	if (!token) {
		sg = signer_get(ca);
		r = gnutls_privkey_sign_data(sg->pk, GNUTLS_DIG_SHA256, 0, tbs,
		    sig);
		pthread_mutex_unlock(&sg->mtx);
		return r;
	}
	pthread_rwlock_rdlock(&tok_rw);
	sg = signer_get(ca);
	if (sg->gen != tok_gen && signer_reopen(ca, sg) == -1)
		r = GNUTLS_E_PKCS11_ERROR;
	else
		r = gnutls_privkey_sign_data(sg->pk, GNUTLS_DIG_SHA256, 0,
		    tbs, sig);
	gen = tok_gen;
	pthread_mutex_unlock(&sg->mtx);
	pthread_rwlock_unlock(&tok_rw);
	if (r >= 0)
		return r;
	tok_restart(gen);
	pthread_rwlock_rdlock(&tok_rw);
	pthread_mutex_lock(&sg->mtx);
	if (signer_reopen(ca, sg) == 0)
		r = gnutls_privkey_sign_data(sg->pk, GNUTLS_DIG_SHA256, 0,
		    tbs, sig);
	pthread_mutex_unlock(&sg->mtx);
	pthread_rwlock_unlock(&tok_rw);
	return r;
}

/* Free a CA handle.  NULL is fine. */
void
x509_ca_free(struct x509_ca *ca)
{
	int	i;

	if (ca == NULL)
		return;
	for (i = 0; i < NSIGNERS; i++) {
		tok_privkey_free(ca->signers[i].pk, ca->key != NULL &&
		    ca->key->uri != NULL, ca->signers[i].gen);
		pthread_mutex_destroy(&ca->signers[i].mtx);
	}
	x509_key_free(ca->key);
	if (ca->crt != NULL)
		gnutls_x509_crt_deinit(ca->crt);
	gnutls_free(ca->issuer.data);
	der_free(&ca->sigalg);
	der_free(&ca->akiext);
	free(ca);
}

/*
 * Cross-sign a new root with the old CA (connect.md §3.6 step 7): a
 * copy of new_root_pem with the given serial, AKI = the old CA's key
 * id, issuer = the old CA's subject, signed with the old CA's key and
 * its certificate's hash, NotBefore = now - 1 minute, NotAfter =
 * NotBefore + 7 days.  Subject, SKI, SAN and the other extensions of
 * the new root stay.  Clients trusting only the old root then accept
 * leaves of the new one through it.  Sets *pem (free()) and returns 0,
 * or -1 with e set (400 for a bad new root, 500 if GnuTLS fails).
 */
int
x509_cross_sign(const struct x509_ca *old, const char *new_root_pem,
    uint64_t serial, time_t now, char **pem, struct perr *e)
{
	gnutls_x509_crt_t	crt = NULL;
	time_t			nb;
	int			r, rc = -1;

	*pem = NULL;
	if (cert_parse(new_root_pem, &crt, e) == -1)
		return -1;
	nb = now - LEAF_BACKDATE;
	if (crt_basics(crt, serial, nb, nb + CROSS_TTL, e) == -1)
		goto out;
	if (set_aki(crt, old->aki, old->aki_len, e) == -1)
		goto out;
	if ((r = gnutls_x509_crt_privkey_sign(crt, old->crt, old->key->pk,
	    old->sig_hash, 0)) < 0) {
		gtls_fail(e, "error generating CA certificate", r);
		goto out;
	}
	rc = cert_pem(crt, pem, e);
out:
	gnutls_x509_crt_deinit(crt);
	return rc;
}

/* Read a key id extension (SKI or AKI) as colon hex; "" if absent. */
static int
keyid_hex(gnutls_x509_crt_t crt, int aki, char *out, size_t sz,
    struct perr *e)
{
	unsigned char	buf[X509_KEYID_MAX];
	size_t		n = sizeof(buf);
	unsigned int	crit;
	int		r;

	out[0] = '\0';
	r = aki ? gnutls_x509_crt_get_authority_key_id(crt, buf, &n, &crit) :
	    gnutls_x509_crt_get_subject_key_id(crt, buf, &n, &crit);
	if (r == GNUTLS_E_SHORT_MEMORY_BUFFER)
		return perr_set(e, 400, "certificate key id longer than %d "
		    "bytes", X509_KEYID_MAX);
	if (r >= 0)
		hexcolon(buf, n, out, sz);
	return 0;
}

/* The first URI SAN of a certificate (new string), or NULL. */
static char *
first_uri(gnutls_x509_crt_t crt)
{
	gnutls_subject_alt_names_t	 sans;
	gnutls_datum_t			 ext, v, oid;
	unsigned int			 crit, type, idx, seq;
	char				*uri = NULL;

	for (idx = 0; uri == NULL; idx++) {
		if (gnutls_x509_crt_get_extension_by_oid2(crt, OID_SAN, idx,
		    &ext, &crit) < 0)
			break;
		if (gnutls_subject_alt_names_init(&sans) < 0) {
			gnutls_free(ext.data);
			break;
		}
		if (gnutls_x509_ext_import_subject_alt_names(&ext, sans,
		    0) >= 0)
			for (seq = 0; uri == NULL &&
			    gnutls_subject_alt_names_get(sans, seq, &type, &v,
			    &oid) >= 0; seq++)
				if (type == GNUTLS_SAN_URI &&
				    memchr(v.data, '\0', v.size) == NULL)
					uri = xstrndup((char *)v.data, v.size);
		gnutls_subject_alt_names_deinit(sans);
		gnutls_free(ext.data);
	}
	return uri;
}

/*
 * Read what the CA layer reports about a certificate (first PEM block
 * of pem, CERTIFICATE): the CARoot ID (SHA-1 of the DER, lower-case
 * colon hex), SKI and AKI in colon hex (SigningKeyID is the SKI),
 * serial as low 64 bits and as Consul's minimal colon hex, validity,
 * key type and size ("" and 0 for keys Consul does not know), CA flag,
 * subject DN and first URI SAN.  Fills *info (release with
 * x509_info_clear()) and returns 0, or -1 with e set (400).
 */
int
x509_cert_info(const char *pem, struct x509_info *info, struct perr *e)
{
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_pubkey_t		 pub = NULL;
	gnutls_datum_t		 dn = { NULL, 0 };
	unsigned char		 buf[X509_SERIAL_MAX], fp[20];
	size_t			 n, i, skip;
	unsigned int		 crit, isca = 0;
	const char		*name;
	enum keytype		 kt;
	int			 r, rc = -1, bits;

	memset(info, 0, sizeof(*info));
	if (cert_parse(pem, &crt, e) == -1)
		return -1;

	n = sizeof(fp);
	if ((r = gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA1, fp,
	    &n)) < 0) {
		gtls_fail(e, "error hashing certificate", r);
		goto out;
	}
	hexcolon(fp, n, info->id, sizeof(info->id));
	if (keyid_hex(crt, 0, info->subject_key_id,
	    sizeof(info->subject_key_id), e) == -1 ||
	    keyid_hex(crt, 1, info->authority_key_id,
	    sizeof(info->authority_key_id), e) == -1)
		goto out;

	n = sizeof(buf);
	if ((r = gnutls_x509_crt_get_serial(crt, buf, &n)) < 0) {
		perr_set(e, 400, "certificate serial longer than %d bytes",
		    X509_SERIAL_MAX);
		goto out;
	}
	for (skip = 0; skip < n && buf[skip] == 0; skip++)
		continue;
	hexcolon(buf + skip, n - skip, info->serial_hex,
	    sizeof(info->serial_hex));
	for (i = n > 8 ? n - 8 : 0; i < n; i++)
		info->serial = info->serial << 8 | buf[i];

	info->not_before = gnutls_x509_crt_get_activation_time(crt);
	info->not_after = gnutls_x509_crt_get_expiration_time(crt);
	if (gnutls_pubkey_init(&pub) == 0 &&
	    gnutls_pubkey_import_x509(pub, crt, 0) == 0 &&
	    pub_info(pub, &kt, &bits, &name) == 0) {
		snprintf(info->key_type, sizeof(info->key_type), "%s",
		    keytype_names[kt]);
		info->key_bits = bits;
	}
	if (gnutls_x509_crt_get_basic_constraints(crt, &crit, &isca,
	    NULL) >= 0)
		info->is_ca = isca != 0;
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0)
		info->subject = xstrndup((const char *)dn.data, dn.size);
	else
		info->subject = xstrdup("");
	info->uri = first_uri(crt);
	rc = 0;
out:
	gnutls_free(dn.data);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	if (rc == -1)
		x509_info_clear(info);
	return rc;
}

/* Free the strings of an x509_info (not the struct).  Idempotent. */
void
x509_info_clear(struct x509_info *info)
{
	free(info->subject);
	free(info->uri);
	info->subject = NULL;
	info->uri = NULL;
}

/*
 * Generate what the agent sends to be signed (§4.1): a fresh EC P-256
 * key and a CSR with an empty subject and one critical URI SAN, uri,
 * signed with ECDSA-SHA256, PEM label "CERTIFICATE REQUEST".  uri must
 * parse as a SPIFFE ID (400 otherwise).  Sets *key_pem (secret_free())
 * and *csr_pem (free()) and returns 0, or -1 with e set.
 */
int
x509_leaf_keygen(const char *uri, char **key_pem, char **csr_pem,
    struct perr *e)
{
	struct x509_key		*k = NULL;
	struct spiffe_id	*id = NULL;
	gnutls_x509_crq_t	 crq = NULL;
	struct der		 san = { NULL, 0, 0 };
	gnutls_datum_t		 der = { NULL, 0 };
	int			 r, rc = -1;

	*key_pem = *csr_pem = NULL;
	if (spiffe_parse(uri, &id, e) == -1)
		return -1;
	spiffe_free(id);
	if (x509_key_generate("ec", 256, &k, e) == -1)
		return -1;
	san_der(NULL, 0, NULL, 0, uri, &san);
	if ((r = gnutls_x509_crq_init(&crq)) < 0 ||
	    (r = gnutls_x509_crq_set_version(crq, 1)) < 0 ||
	    (r = gnutls_x509_crq_set_pubkey(crq, k->pub)) < 0 ||
	    (r = gnutls_x509_crq_set_extension_by_oid(crq, OID_SAN, san.p,
	    san.len, 1)) < 0 ||
	    (r = gnutls_x509_crq_privkey_sign(crq, k->pk, GNUTLS_DIG_SHA256,
	    0)) < 0 ||
	    (r = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER,
	    &der)) < 0) {
		gtls_fail(e, "error creating CSR", r);
		goto out;
	}
	if (pem_encode("CERTIFICATE REQUEST", &der, csr_pem, e) == -1 ||
	    x509_key_pem(k, key_pem, e) == -1) {
		free(*csr_pem);
		*csr_pem = NULL;
		goto out;
	}
	rc = 0;
out:
	gnutls_free(der.data);
	der_free(&san);
	if (crq != NULL)
		gnutls_x509_crq_deinit(crq);
	x509_key_free(k);
	return rc;
}

/*
 * A P-256 coordinate as GnuTLS exports it (big-endian, maybe with a
 * leading zero byte, maybe shorter) as exactly 32 bytes.  -1 if it does
 * not fit.
 */
static int
coord32(const gnutls_datum_t *v, unsigned char out[32])
{
	size_t	n = v->size, off = 0;

	while (n > 0 && v->data[off] == 0) {
		off++;
		n--;
	}
	if (n > 32)
		return -1;
	memset(out, 0, 32 - n);
	memcpy(out + 32 - n, v->data + off, n);
	return 0;
}

/*
 * What the agent leaf endpoint signs, without the CSR round trip: a
 * fresh EC P-256 key (§4.1) and an in-memory request carrying its public
 * key and the one URI SAN, uri.  Encoding a CSR only to parse and verify
 * it again doubled the crypto of every issuance; the request is ours,
 * so there is nothing to verify.  The result passes x509_csr_check() and
 * x509_leaf_sign() exactly like a parsed CSR.  It carries the public
 * key only as its SubjectPublicKeyInfo, written from the point's
 * coordinates: the GnuTLS key objects and exports around a generated
 * key cost 20 us per leaf.  Sets *key_pem
 * (secret_free()) and *out (x509_csr_free()); returns 0, or -1 with e
 * set (400 for a uri that is not a SPIFFE ID, 500 if GnuTLS fails).
 */
int
x509_leaf_request(const char *uri, char **key_pem, struct x509_csr **out,
    struct perr *e)
{
	/* SubjectPublicKeyInfo of a P-256 key up to the point (RFC 5480):
	 * id-ecPublicKey, prime256v1, BIT STRING 04 || X || Y. */
	static const unsigned char	 p256[] = { 0x30, 0x59, 0x30, 0x13,
	    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
	    0x03, 0x42, 0x00, 0x04 };
	/* ECPrivateKey (RFC 5915) of a P-256 key: version 1, the scalar,
	 * [0] prime256v1, [1] BIT STRING 04 || X || Y: 121 bytes. */
	static const unsigned char	 sec1_head[] = { 0x30, 0x77, 0x02,
	    0x01, 0x01, 0x04, 0x20 };
	static const unsigned char	 sec1_mid[] = { 0xa0, 0x0a, 0x06,
	    0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0xa1,
	    0x44, 0x03, 0x42, 0x00, 0x04 };
	gnutls_x509_privkey_t		 xk = NULL;
	gnutls_datum_t			 x = { NULL, 0 }, y = { NULL, 0 };
	gnutls_datum_t			 k = { NULL, 0 }, pem = { NULL, 0 };
	gnutls_datum_t			 der;
	struct x509_csr			*c;
	unsigned char			 pt[64], scalar[32], sec1[121];
	int				 r, rc = -1;

	*key_pem = NULL;
	*out = NULL;
	c = xcalloc(1, sizeof(*c));
	c->uri = xstrdup(uri);
	if (spiffe_parse(uri, &c->id, e) == -1)
		goto out;
	if ((r = gnutls_x509_privkey_init(&xk)) < 0 ||
	    (r = gnutls_x509_privkey_generate(xk, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0 ||
	    (r = gnutls_x509_privkey_export_ecc_raw(xk, NULL, &x, &y,
	    &k)) < 0) {
		gtls_fail(e, "error generating key", r);
		goto out;
	}
	if (coord32(&x, pt) == -1 || coord32(&y, pt + 32) == -1 ||
	    coord32(&k, scalar) == -1) {
		perr_set(e, 500, "error generating key: bad EC point");
		goto out;
	}
	/* The key's PEM, as gnutls_x509_privkey_export2() writes it
	 * (test_x509 compares), without its ASN.1 round trip. */
	memcpy(sec1, sec1_head, sizeof(sec1_head));
	memcpy(sec1 + 7, scalar, 32);
	memcpy(sec1 + 39, sec1_mid, sizeof(sec1_mid));
	memcpy(sec1 + 57, pt, 64);
	der.data = sec1;
	der.size = sizeof(sec1);
	if ((r = gnutls_pem_base64_encode2("EC PRIVATE KEY", &der,
	    &pem)) < 0) {
		gtls_fail(e, "error encoding key", r);
		goto out;
	}
	der_put(&c->spki, p256, sizeof(p256));
	der_put(&c->spki, pt, sizeof(pt));
	*key_pem = xstrndup((const char *)pem.data, pem.size);
	*out = c;
	c = NULL;
	rc = 0;
out:
	if (pem.data != NULL) {
		gnutls_memset(pem.data, 0, pem.size);
		gnutls_free(pem.data);
	}
	if (k.data != NULL) {
		gnutls_memset(k.data, 0, k.size);
		gnutls_free(k.data);
	}
	gnutls_memset(scalar, 0, sizeof(scalar));
	gnutls_memset(sec1, 0, sizeof(sec1));
	gnutls_free(x.data);
	gnutls_free(y.data);
	if (xk != NULL)
		gnutls_x509_privkey_deinit(xk);
	x509_csr_free(c);
	return rc;
}

/*
 * Collect the SANs of a CSR: every SubjectAltName extension, in order.
 * Counts URIs and e-mail addresses for the caller's checks and keeps
 * DNS names and IP addresses for the leaf.  Other name types are
 * ignored, as Go's parser ignores them.
 */
static int
csr_sans(struct x509_csr *c, size_t *nuri, size_t *nemail, struct perr *e)
{
	gnutls_subject_alt_names_t	sans;
	gnutls_datum_t			ext, v, oid;
	unsigned int			crit, type, idx, seq;
	int				r;

	*nuri = *nemail = 0;
	for (idx = 0; ; idx++) {
		r = gnutls_x509_crq_get_extension_by_oid2(c->crq, OID_SAN, idx,
		    &ext, &crit);
		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return 0;
		if (r < 0)
			return perr_set(e, 400, "error parsing CSR: %s",
			    gnutls_strerror(r));
		if ((r = gnutls_subject_alt_names_init(&sans)) < 0) {
			gnutls_free(ext.data);
			return gtls_fail(e, "error parsing CSR", r);
		}
		r = gnutls_x509_ext_import_subject_alt_names(&ext, sans, 0);
		gnutls_free(ext.data);
		if (r < 0) {
			gnutls_subject_alt_names_deinit(sans);
			return perr_set(e, 400, "error parsing CSR SAN: %s",
			    gnutls_strerror(r));
		}
		for (seq = 0; gnutls_subject_alt_names_get(sans, seq, &type,
		    &v, &oid) >= 0; seq++) {
			switch (type) {
			case GNUTLS_SAN_URI:
				if (++*nuri == 1)
					c->uri = xstrndup((char *)v.data,
					    v.size);
				if (memchr(v.data, '\0', v.size) != NULL) {
					gnutls_subject_alt_names_deinit(sans);
					return perr_set(e, 400, "CSR SAN "
					    "contains a NUL in a URI");
				}
				break;
			case GNUTLS_SAN_RFC822NAME:
				++*nemail;
				break;
			case GNUTLS_SAN_DNSNAME:
				if (memchr(v.data, '\0', v.size) != NULL)
					break;
				c->dns = xrealloc(c->dns,
				    (c->ndns + 1) * sizeof(*c->dns));
				c->dns[c->ndns++] = xstrndup((char *)v.data,
				    v.size);
				break;
			case GNUTLS_SAN_IPADDRESS:
				if (v.size != 4 && v.size != 16)
					break;
				c->ip = xrealloc(c->ip,
				    (c->nip + 1) * sizeof(*c->ip));
				c->ip[c->nip].data = xmalloc(v.size);
				memcpy(c->ip[c->nip].data, v.data, v.size);
				c->ip[c->nip++].size = v.size;
				break;
			default:
				break;
			}
		}
		gnutls_subject_alt_names_deinit(sans);
	}
}

/*
 * Parse and check a CSR (first PEM block, "CERTIFICATE REQUEST"; the
 * "NEW CERTIFICATE REQUEST" label of certtool is accepted too): its
 * self-signature must verify, its key must be EC on a NIST P-curve or
 * RSA >= 2048 bits, and, as in §4.2 items 1-2, its SANs must hold
 * exactly one URI and no e-mail address, and that URI must parse as a
 * SPIFFE ID.  Sets *out (x509_csr_free()) and returns 0, or -1 with e
 * set to 400 and, where Consul has one, Consul's text:
 *   no PEM-encoded data found
 *   first PEM-block should be CERTIFICATE REQUEST type
 *   CSR SAN contains an invalid number of URIs: <n>
 *   CSR SAN does not allow specifying email addresses
 *   <any spiffe_parse() error>
 * The caller then checks the ACL for x509_csr_id() and calls
 * x509_csr_check(), keeping Consul's order.
 */
int
x509_csr_parse(const char *pem, struct x509_csr **out, struct perr *e)
{
	struct x509_csr	*c;
	gnutls_datum_t	 der;
	enum keytype	 kt;
	const char	*name;
	char		 type[64];
	size_t		 nuri, nemail;
	int		 r, bits;

	*out = NULL;
	if (pem_first(pem, type, sizeof(type), &der) != PEM_OK)
		return perr_set(e, 400, "no PEM-encoded data found");
	if (strcmp(type, "CERTIFICATE REQUEST") != 0 &&
	    strcmp(type, "NEW CERTIFICATE REQUEST") != 0) {
		gnutls_free(der.data);
		return perr_set(e, 400, "first PEM-block should be "
		    "CERTIFICATE REQUEST type");
	}
	c = xcalloc(1, sizeof(*c));
	if ((r = gnutls_x509_crq_init(&c->crq)) < 0) {
		gnutls_free(der.data);
		gtls_fail(e, "error parsing CSR", r);
		goto fail;
	}
	r = gnutls_x509_crq_import(c->crq, &der, GNUTLS_X509_FMT_DER);
	gnutls_free(der.data);
	if (r < 0) {
		perr_set(e, 400, "error parsing CSR: %s", gnutls_strerror(r));
		goto fail;
	}
	if ((r = gnutls_pubkey_init(&c->pub)) < 0) {
		gtls_fail(e, "error parsing CSR", r);
		goto fail;
	}
	if ((r = gnutls_pubkey_import_x509_crq(c->pub, c->crq, 0)) < 0) {
		perr_set(e, 400, "error parsing CSR public key: %s",
		    gnutls_strerror(r));
		goto fail;
	}
	if (pub_info(c->pub, &kt, &bits, &name) == -1) {
		perr_set(e, 400, "unsupported CSR public key type: %s", name);
		goto fail;
	}
	if ((r = gnutls_pubkey_export2(c->pub, GNUTLS_X509_FMT_DER,
	    &der)) < 0) {
		gtls_fail(e, "error exporting CSR public key", r);
		goto fail;
	}
	der_put(&c->spki, der.data, der.size);
	gnutls_free(der.data);
	if (kt == KEY_RSA && bits < 2048) {
		perr_set(e, 400, "CSR RSA key length must be at least 2048 "
		    "bits");
		goto fail;
	}
	if (gnutls_x509_crq_verify(c->crq, 0) < 0) {
		perr_set(e, 400, "CSR signature is invalid");
		goto fail;
	}
	if (csr_sans(c, &nuri, &nemail, e) == -1)
		goto fail;
	if (nuri != 1) {
		perr_set(e, 400, "CSR SAN contains an invalid number of URIs: "
		    "%zu", nuri);
		goto fail;
	}
	if (nemail > 0) {
		perr_set(e, 400, "CSR SAN does not allow specifying email "
		    "addresses");
		goto fail;
	}
	if (spiffe_parse(c->uri, &c->id, e) == -1)
		goto fail;
	*out = c;
	return 0;
fail:
	x509_csr_free(c);
	return -1;
}

/* The CSR's SPIFFE ID (borrowed; lives as long as the CSR). */
const struct spiffe_id *
x509_csr_id(const struct x509_csr *c)
{
	return c->id;
}

/*
 * The URI the leaf will carry (borrowed): the CSR's, or after
 * x509_csr_check() an agent's URI re-homed to our trust domain.
 */
const char *
x509_csr_uri(const struct x509_csr *c)
{
	return c->uri;
}

/*
 * The checks of §4.2 items 3-4 that follow the caller's ACL check:
 * service and mesh-gateway IDs must name our datacenter dc and our
 * trust domain td; an agent ID is accepted and its host rewritten to
 * td (Consul re-homes agents, which ask before they know the roots);
 * any other kind is refused.  Returns 0, or -1 with e set to 400 and
 * Consul's text:
 *   SPIFFE ID in CSR from a different datacenter: <dc>, we are <dc>
 *   SPIFFE ID in CSR must be a service, mesh-gateway, or agent ID
 *   SPIFFE ID in CSR from a different trust domain: <host>, we are <td>
 */
int
x509_csr_check(struct x509_csr *c, const char *td, const char *dc,
    struct perr *e)
{
	struct spiffe_id	*id = c->id;
	char			*ltd;
	size_t			 i;

	switch (id->kind) {
	case SPIFFE_SERVICE:
	case SPIFFE_MESH_GATEWAY:
		if (strcmp(id->dc, dc) != 0)
			return perr_set(e, 400, "SPIFFE ID in CSR from a "
			    "different datacenter: %s, we are %s", id->dc, dc);
		break;
	case SPIFFE_AGENT:
		break;
	default:
		return perr_set(e, 400, "SPIFFE ID in CSR must be a service, "
		    "mesh-gateway, or agent ID");
	}
	ltd = xstrdup(td);
	for (i = 0; ltd[i] != '\0'; i++)
		ltd[i] = (char)tolower((unsigned char)ltd[i]);
	if (id->kind == SPIFFE_AGENT) {
		if (strcmp(id->host, ltd) != 0) {
			free(id->host);
			id->host = ltd;
			free(c->uri);
			c->uri = spiffe_format(id);
		} else
			free(ltd);
		return 0;
	}
	if (!spiffe_can_sign(ltd, id)) {
		perr_set(e, 400, "SPIFFE ID in CSR from a different trust "
		    "domain: %s, we are %s", id->host, ltd);
		free(ltd);
		return -1;
	}
	free(ltd);
	return 0;
}

/* Free a CSR.  NULL is fine. */
void
x509_csr_free(struct x509_csr *c)
{
	size_t	i;

	if (c == NULL)
		return;
	if (c->pub != NULL)
		gnutls_pubkey_deinit(c->pub);
	if (c->crq != NULL)
		gnutls_x509_crq_deinit(c->crq);
	der_free(&c->spki);
	free(c->uri);
	spiffe_free(c->id);
	for (i = 0; i < c->ndns; i++)
		free(c->dns[i]);
	free(c->dns);
	for (i = 0; i < c->nip; i++)
		free(c->ip[i].data);
	free(c->ip);
	free(c);
}

/*
 * Sign a leaf for a checked CSR with the CA (§4.3): v3; the given
 * serial; empty subject; issuer = the CA's subject; NotBefore = now -
 * 1 minute, NotAfter = NotBefore + ttl seconds; the CSR's public key;
 * critical key usage digitalSignature, keyEncipherment,
 * dataEncipherment, keyAgreement; EKU clientAuth, serverAuth; critical
 * CA:FALSE; SKI = SHA-256 of the leaf's SPKI; AKI = the CA's key id;
 * a critical SAN with the CSR's DNS names, IP addresses and URI
 * (x509_csr_uri()); signed with SHA-256 whatever the CA key.  Sets
 * *pem to the leaf alone (free(); the caller appends intermediates)
 * and returns 0, or -1 with e set (400 for ttl <= 0 or over 1000
 * years, 500 if GnuTLS fails).
 *
 * The TBSCertificate is written as DER (der.c) around the CA's
 * precomputed parts and signed with gnutls_privkey_sign_data():
 * building it through gnutls_x509_crt_t cost as much as the signature
 * (libtasn1; 200 -> 100 us per leaf, issue #3).  test_x509.c checks the
 * bytes against the same leaf built with GnuTLS's certificate API.
 */
int
x509_leaf_sign(struct x509_ca *ca, const struct x509_csr *c,
    uint64_t serial, time_t now, int64_t ttl, char **pem, struct perr *e)
{
	/* Critical key usage: digitalSignature, keyEncipherment,
	 * dataEncipherment, keyAgreement (bits 0, 2, 3, 4). */
	static const unsigned char	ku[] = { 0x03, 0x02, 0x03, 0xb8 };
	/* ExtKeyUsage: clientAuth, serverAuth (GnuTLS keeps set order). */
	static const unsigned char	eku[] = { 0x30, 0x14,
	    0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02,
	    0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };
	static const unsigned char	v3[] = { 0xa0, 0x03, 0x02, 0x01, 0x02 };
	static const unsigned char	notca[] = { 0x30, 0x00 };
	static const unsigned char	nosubject[] = { 0x30, 0x00 };
	struct der			 d = { NULL, 0, 0 };
	struct der			 san = { NULL, 0, 0 };
	gnutls_datum_t			 tbs, cert, sig = { NULL, 0 };
	unsigned char			 ski[2 + KEYID_LEN] = { DER_OCTETSTRING,
					    KEYID_LEN };
	unsigned char			 sn[9], zero = 0;
		size_t				 from;
	time_t				 nb;
	int				 r, rc = -1;

	*pem = NULL;
	if (ttl <= 0 || ttl > TTL_MAX)
		return perr_set(e, 400, "leaf cert TTL out of range");
	if ((r = gnutls_hash_fast(GNUTLS_DIG_SHA256, c->spki.p, c->spki.len,
	    ski + 2)) < 0)
		return gtls_fail(e, "error hashing public key", r);
	san_der(c->dns, c->ndns, c->ip, c->nip, c->uri, &san);
	nb = now - LEAF_BACKDATE;

	/* TBSCertificate, in the order GnuTLS writes the same leaf. */
	der_put(&d, v3, sizeof(v3));
	der_tlv(&d, DER_INTEGER, sn, uint_der(serial, sn));
	der_put(&d, ca->sigalg.p, ca->sigalg.len);
	der_put(&d, ca->issuer.data, ca->issuer.size);
	from = d.len;
	der_time(&d, nb);
	der_time(&d, (time_t)(nb + ttl));
	der_wrap(&d, from, DER_SEQUENCE);
	der_put(&d, nosubject, sizeof(nosubject));
	der_put(&d, c->spki.p, c->spki.len);
	from = d.len;
	der_ext(&d, oid_ku, sizeof(oid_ku), 1, ku, sizeof(ku));
	der_ext(&d, oid_eku, sizeof(oid_eku), 0, eku, sizeof(eku));
	der_ext(&d, oid_bc, sizeof(oid_bc), 1, notca, sizeof(notca));
	der_ext(&d, oid_ski, sizeof(oid_ski), 0, ski, sizeof(ski));
	der_put(&d, ca->akiext.p, ca->akiext.len);
	der_ext(&d, oid_san, sizeof(oid_san), 1, san.p, san.len);
	der_wrap(&d, from, DER_SEQUENCE);
	der_wrap(&d, from, DER_CTX(3));
	der_wrap(&d, 0, DER_SEQUENCE);

	/* Certificate: tbs, algorithm, BIT STRING (no unused bits). */
	tbs.data = d.p;
	tbs.size = (unsigned)d.len;
	r = ca_sign_data(ca, &tbs, &sig);
	if (r < 0) {
		gtls_fail(e, "error generating certificate", r);
		goto out;
	}
	der_put(&d, ca->sigalg.p, ca->sigalg.len);
	from = d.len;
	der_put(&d, &zero, 1);
	der_put(&d, sig.data, sig.size);
	der_wrap(&d, from, DER_BITSTRING);
	der_wrap(&d, 0, DER_SEQUENCE);
	cert.data = d.p;
	cert.size = (unsigned)d.len;
	rc = pem_encode("CERTIFICATE", &cert, pem, e);
out:
	gnutls_free(sig.data);
	der_free(&san);
	der_free(&d);
	return rc;
}

/* Sign crl with ca, under the lock of its first signer. */
static int
crl_sign(struct x509_ca *ca, gnutls_x509_crl_t crl)
{
	int	r;

	if (ca->key->uri != NULL)
		pthread_rwlock_rdlock(&tok_rw);
	pthread_mutex_lock(&ca->signers[0].mtx);
	if (ca->key->uri != NULL && ca->signers[0].gen != tok_gen &&
	    signer_reopen(ca, &ca->signers[0]) == -1)
		r = GNUTLS_E_PKCS11_ERROR;
	else
		r = gnutls_x509_crl_privkey_sign(crl, ca->crt,
		    ca->signers[0].pk, root_hash(ca->key), 0);
	pthread_mutex_unlock(&ca->signers[0].mtx);
	if (ca->key->uri != NULL)
		pthread_rwlock_unlock(&tok_rw);
	return r;
}

/*
 * Sign a CRL (v2) with the CA: thisUpdate = now, nextUpdate = now +
 * ttl seconds, CRL number, AKI = the CA's key id, one entry per
 * revoked (serial, revocation time), hashed as the CA signs its root.
 * Not a Consul feature.  Sets *pem (free()) and/or *der and *der_len
 * (free()), whichever pointers are non-NULL, and returns 0, or -1 with
 * e set (400 for ttl <= 0 or over 1000 years, 500 if GnuTLS
 * fails).
 */
int
x509_crl_create(struct x509_ca *ca, const struct x509_revoked *rev,
    size_t nrev, uint64_t number, time_t now, int64_t ttl, char **pem,
    unsigned char **der, size_t *der_len, struct perr *e)
{
	gnutls_x509_crl_t	crl = NULL;
	gnutls_datum_t		d = { NULL, 0 };
	unsigned char		sn[9];
	size_t			i, n;
	int			r, rc = -1;

	if (pem != NULL)
		*pem = NULL;
	if (der != NULL) {
		*der = NULL;
		*der_len = 0;
	}
	if (ttl <= 0 || ttl > TTL_MAX)
		return perr_set(e, 400, "CRL TTL out of range");
	if ((r = gnutls_x509_crl_init(&crl)) < 0 ||
	    (r = gnutls_x509_crl_set_version(crl, 2)) < 0 ||
	    (r = gnutls_x509_crl_set_this_update(crl, now)) < 0 ||
	    (r = gnutls_x509_crl_set_next_update(crl,
	    (time_t)(now + ttl))) < 0) {
		gtls_fail(e, "error generating CRL", r);
		goto out;
	}
	for (i = 0; i < nrev; i++) {
		n = uint_der(rev[i].serial, sn);
		if ((r = gnutls_x509_crl_set_crt_serial(crl, sn, n,
		    rev[i].when)) < 0) {
			gtls_fail(e, "error generating CRL", r);
			goto out;
		}
	}
	n = uint_der(number, sn);
	if ((r = gnutls_x509_crl_set_number(crl, sn, n)) < 0 ||
	    (r = gnutls_x509_crl_set_authority_key_id(crl, ca->aki,
	    ca->aki_len)) < 0 ||
	    (r = crl_sign(ca, crl)) < 0 ||
	    (r = gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_DER, &d)) < 0) {
		gtls_fail(e, "error generating CRL", r);
		goto out;
	}
	if (pem != NULL && pem_encode("X509 CRL", &d, pem, e) == -1)
		goto out;
	if (der != NULL) {
		*der = xmalloc(d.size);
		memcpy(*der, d.data, d.size);
		*der_len = d.size;
	}
	rc = 0;
out:
	gnutls_free(d.data);
	if (crl != NULL)
		gnutls_x509_crl_deinit(crl);
	return rc;
}
