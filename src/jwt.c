/*
 * jwt.c -- compact JWS (RFC 7515) parsing and signature verification
 * with GnuTLS, public keys from PEM (JWTValidationPubKeys) and from
 * JWK sets (JWKSURL, OIDC discovery), and the claim checks of Consul's
 * jwt and oidc auth methods.
 *
 * Used by authmethod.c for POST /v1/acl/login (type jwt), the
 * Kubernetes ServiceAccountJWT syntax check and the OIDC callback's ID
 * token.  Nothing here touches the network or the store.
 *
 * What Consul does, and where it is written:
 *  - internal/go-sso/oidcauth/jwt.go (verifyVanillaJWT): static keys,
 *    then "at least one of iat/nbf/exp", the default leeways (150 s for
 *    a missing exp or nbf, 60 s of clock skew via go-jose's
 *    jwt.DefaultLeeway), issuer, and validateAudience() in strict mode
 *    (oidcjwt.go): a token with an aud but no BoundAudiences is refused.
 *    The texts are go-jose v3's ("go-jose/go-jose/jwt: validation
 *    failed, ..."), including its "validation field" typo for iat.
 *  - verifyOIDCToken (same file) for OIDCDiscoveryURL and the OIDC
 *    flow: go-oidc v3's Verifier (issuer, client ID audience, exp
 *    without leeway, nbf with five minutes), then a non-strict
 *    audience check.
 *  - JWTSupportedAlgs: Consul ignores it for static keys ("TODO(sso)")
 *    but go-oidc enforces it; we enforce it everywhere, so that
 *    "none", HS* and algorithms not configured are never accepted.
 *
 * Signature rules beyond the RFC's minimum: the algorithm must suit the
 * key (RS and PS need RSA, ES256/384/512 need P-256/384/521, EdDSA needs
 * Ed25519), a JWK's own "alg" must equal the token's, ECDSA signatures
 * are the JWS raw r||s of exactly twice the coordinate size (converted
 * to DER for GnuTLS), and a token carrying "crit" is refused as go-jose
 * refuses it.  Sizes are bounded (jwt.h): JWT_MAXLEN bytes of token,
 * JWT_MAXHEADER of header, JWT_MAXJWKS of key set, JWT_MAXKEYS keys.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <json-c/json.h>

#include "portcullis.h"
#include "json.h"
#include "jwt.h"

#define E_ISS	"go-jose/go-jose/jwt: validation failed, invalid issuer claim (iss)"
#define E_NBF	"go-jose/go-jose/jwt: validation failed, token not valid yet (nbf)"
#define E_EXP	"go-jose/go-jose/jwt: validation failed, token is expired (exp)"
#define E_IAT	"go-jose/go-jose/jwt: validation field, token issued in the future (iat)"

#define DEFAULT_LEEWAY		150	/* claimDefaultLeeway, jwt.go */
#define DEFAULT_SKEW		60	/* go-jose jwt.DefaultLeeway */
#define OIDC_NBF_LEEWAY		300	/* go-oidc verify.go */

struct jwt {
	char			*alg;
	char			*kid;		/* NULL when absent */
	struct json_object	*header;
	struct json_object	*claims;
	char			*input;		/* "header.payload" */
	size_t			 inputlen;
	unsigned char		*sig;
	size_t			 siglen;
};

struct jwt_key {
	gnutls_pubkey_t		 pub;
	int			 pk;		/* gnutls_pk_algorithm_t */
	int			 curve;		/* gnutls_ecc_curve_t or 0 */
	char			*kid;		/* JWK "kid" or NULL */
	char			*alg;		/* JWK "alg" or NULL */
};

struct jwt_keyset {
	struct jwt_key		**keys;
	size_t			  n;
};

static const struct {
	const char		*name;
	int			 pk;		/* key the algorithm needs */
	int			 curve;		/* ECDSA curve or 0 */
	int			 sign;		/* gnutls_sign_algorithm_t */
	int			 pss_sign;	/* for an RSA-PSS-only key */
} algs[JWT_ALG__MAX] = {
	[JWT_RS256] = { "RS256", GNUTLS_PK_RSA, 0, GNUTLS_SIGN_RSA_SHA256, 0 },
	[JWT_RS384] = { "RS384", GNUTLS_PK_RSA, 0, GNUTLS_SIGN_RSA_SHA384, 0 },
	[JWT_RS512] = { "RS512", GNUTLS_PK_RSA, 0, GNUTLS_SIGN_RSA_SHA512, 0 },
	[JWT_PS256] = { "PS256", GNUTLS_PK_RSA, 0,
	    GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, GNUTLS_SIGN_RSA_PSS_SHA256 },
	[JWT_PS384] = { "PS384", GNUTLS_PK_RSA, 0,
	    GNUTLS_SIGN_RSA_PSS_RSAE_SHA384, GNUTLS_SIGN_RSA_PSS_SHA384 },
	[JWT_PS512] = { "PS512", GNUTLS_PK_RSA, 0,
	    GNUTLS_SIGN_RSA_PSS_RSAE_SHA512, GNUTLS_SIGN_RSA_PSS_SHA512 },
	[JWT_ES256] = { "ES256", GNUTLS_PK_ECDSA, GNUTLS_ECC_CURVE_SECP256R1,
	    GNUTLS_SIGN_ECDSA_SHA256, 0 },
	[JWT_ES384] = { "ES384", GNUTLS_PK_ECDSA, GNUTLS_ECC_CURVE_SECP384R1,
	    GNUTLS_SIGN_ECDSA_SHA384, 0 },
	[JWT_ES512] = { "ES512", GNUTLS_PK_ECDSA, GNUTLS_ECC_CURVE_SECP521R1,
	    GNUTLS_SIGN_ECDSA_SHA512, 0 },
	[JWT_EDDSA] = { "EdDSA", GNUTLS_PK_EDDSA_ED25519,
	    GNUTLS_ECC_CURVE_ED25519, GNUTLS_SIGN_EDDSA_ED25519, 0 },
};

/* Returns the enum jwt_alg for an RFC 7518 name, or -1. */
int
jwt_alg_parse(const char *name)
{
	int	i;

	if (name == NULL)
		return -1;
	for (i = 0; i < JWT_ALG__MAX; i++)
		if (strcmp(algs[i].name, name) == 0)
			return i;
	return -1;
}

const char *
jwt_alg_name(enum jwt_alg a)
{
	return (a >= 0 && a < JWT_ALG__MAX) ? algs[a].name : "";
}

/* ------------------------------------------------------------------ */
/* base64url */

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Decode unpadded base64url (trailing '=' tolerated, as go-jose strips
 * them).  *out is a new NUL-terminated buffer of *outlen bytes.
 * Returns 0, or -1 on a character outside the alphabet or an impossible
 * length.
 */
int
b64url_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char	*p;
	uint32_t	 acc = 0;
	size_t		 i, n = 0;
	int		 bits = 0, v;

	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -1;
	p = xmalloc(len * 3 / 4 + 1);
	for (i = 0; i < len; i++) {
		if ((v = b64val((unsigned char)s[i])) == -1) {
			free(p);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	p[n] = '\0';
	*out = p;
	*outlen = n;
	return 0;
}

/* Returns a new unpadded base64url string of len bytes of data. */
char *
b64url_encode(const unsigned char *data, size_t len)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	char			*out, *p;
	uint32_t		 acc = 0;
	size_t			 i;
	int			 bits = 0;

	out = p = xmalloc(len * 4 / 3 + 4);
	for (i = 0; i < len; i++) {
		acc = (acc << 8) | data[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			*p++ = tab[(acc >> bits) & 63];
		}
		acc &= (1u << bits) - 1;
	}
	if (bits > 0)
		*p++ = tab[(acc << (6 - bits)) & 63];
	*p = '\0';
	return out;
}

/* ------------------------------------------------------------------ */
/* parsing */

static struct json_object *
parse_object(const unsigned char *s, size_t len)
{
	struct json_tokener	*tok;
	struct json_object	*v;

	if (len > JWT_MAXLEN)
		return NULL;
	tok = json_tokener_new_ex(32);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	v = json_tokener_parse_ex(tok, (const char *)s, (int)len);
	if (v != NULL && (size_t)json_tokener_get_parse_end(tok) != len) {
		/* trailing bytes (e.g. a second value or NUL) */
		json_object_put(v);
		v = NULL;
	}
	json_tokener_free(tok);
	if (v != NULL && !json_object_is_type(v, json_type_object)) {
		json_object_put(v);
		v = NULL;
	}
	return v;
}

/*
 * Parse a compact JWS "h.p.s" without verifying it.  *out is owned by
 * the caller (jwt_free).  Status 400 with go-jose-like texts on any
 * malformation: not three parts, bad base64url, header or payload not a
 * JSON object, no "alg", a "crit" header, or more than JWT_MAXLEN bytes.
 */
int
jwt_parse(const char *s, struct jwt **out, struct perr *e)
{
	struct jwt		*j;
	struct json_object	*v;
	const char		*d1, *d2;
	unsigned char		*buf = NULL;
	size_t			 len, n;

	*out = NULL;
	len = strnlen(s, JWT_MAXLEN + 1);
	if (len > JWT_MAXLEN)
		return perr_set(e, 400, "token is larger than %d bytes",
		    JWT_MAXLEN);
	if ((d1 = strchr(s, '.')) == NULL || (d2 = strchr(d1 + 1, '.')) ==
	    NULL || strchr(d2 + 1, '.') != NULL)
		return perr_set(e, 400,
		    "go-jose/go-jose: compact JWS format must have three parts");
	j = xcalloc(1, sizeof(*j));

	if ((size_t)(d1 - s) > JWT_MAXHEADER * 4 / 3 + 4 ||
	    b64url_decode(s, (size_t)(d1 - s), &buf, &n) == -1) {
		perr_set(e, 400, "illegal base64 data in JWS header");
		goto fail;
	}
	if ((j->header = parse_object(buf, n)) == NULL) {
		perr_set(e, 400, "go-jose/go-jose: invalid JWS header");
		goto fail;
	}
	free(buf);
	buf = NULL;
	if (!json_object_object_get_ex(j->header, "alg", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		perr_set(e, 400, "go-jose/go-jose: missing alg in JWS header");
		goto fail;
	}
	j->alg = xstrdup(json_object_get_string(v));
	if (json_object_object_get_ex(j->header, "kid", &v) &&
	    json_object_is_type(v, json_type_string))
		j->kid = xstrdup(json_object_get_string(v));
	if (json_object_object_get_ex(j->header, "crit", NULL)) {
		perr_set(e, 400, "go-jose/go-jose: unsupported crit header");
		goto fail;
	}

	if (b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &buf, &n) == -1) {
		perr_set(e, 400, "illegal base64 data in JWS payload");
		goto fail;
	}
	if ((j->claims = parse_object(buf, n)) == NULL) {
		perr_set(e, 400, "failed to unmarshal claims: "
		    "payload is not a JSON object");
		goto fail;
	}
	free(buf);
	buf = NULL;

	if (b64url_decode(d2 + 1, strlen(d2 + 1), &j->sig, &j->siglen) == -1) {
		perr_set(e, 400, "illegal base64 data in JWS signature");
		goto fail;
	}
	j->inputlen = (size_t)(d2 - s);
	j->input = xstrndup(s, j->inputlen);
	*out = j;
	return 0;
fail:
	free(buf);
	jwt_free(j);
	return -1;
}

void
jwt_free(struct jwt *j)
{
	if (j == NULL)
		return;
	free(j->alg);
	free(j->kid);
	json_object_put(j->header);
	json_object_put(j->claims);
	free(j->input);
	free(j->sig);
	free(j);
}

const char *
jwt_header_alg(const struct jwt *j)
{
	return j->alg;
}

const char *
jwt_header_kid(const struct jwt *j)
{
	return j->kid;
}

/* The claims object, borrowed: valid until jwt_free(). */
struct json_object *
jwt_claims(const struct jwt *j)
{
	return j->claims;
}

/* ------------------------------------------------------------------ */
/* keys */

static int
key_finish(struct jwt_key *k, struct perr *e)
{
	gnutls_datum_t		 x = { NULL, 0 }, y = { NULL, 0 };
	gnutls_ecc_curve_t	 curve;
	unsigned int		 bits;

	k->pk = gnutls_pubkey_get_pk_algorithm(k->pub, &bits);
	switch (k->pk) {
	case GNUTLS_PK_RSA:
	case GNUTLS_PK_RSA_PSS:
		return 0;
	case GNUTLS_PK_ECDSA:
		if (gnutls_pubkey_export_ecc_raw(k->pub, &curve, &x, &y) < 0)
			break;
		gnutls_free(x.data);
		gnutls_free(y.data);
		k->curve = curve;
		return 0;
	case GNUTLS_PK_EDDSA_ED25519:
		k->curve = GNUTLS_ECC_CURVE_ED25519;
		return 0;
	default:
		break;
	}
	return perr_set(e, 400,
	    "data does not contain any valid RSA, ECDSA, or ED25519 public keys");
}

/*
 * Parse the first PEM block of pem as a public key: a SubjectPublicKeyInfo
 * ("PUBLIC KEY") or a certificate, RSA, ECDSA or Ed25519, as Consul's
 * parsePublicKeyPEM (jwt.go).  *out is owned by the caller.  Status 400
 * with Consul's "data does not contain any valid RSA, ECDSA, or ED25519
 * public keys".
 */
int
jwt_key_from_pem(const char *pem, struct jwt_key **out, struct perr *e)
{
	struct jwt_key		*k;
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 d;

	*out = NULL;
	k = xcalloc(1, sizeof(*k));
	d.data = (unsigned char *)(uintptr_t)pem;
	d.size = (unsigned int)strnlen(pem, JWT_MAXJWKS);
	if (gnutls_pubkey_init(&k->pub) < 0)
		fatalx("gnutls_pubkey_init");
	if (gnutls_pubkey_import(k->pub, &d, GNUTLS_X509_FMT_PEM) < 0) {
		if (gnutls_x509_crt_init(&crt) < 0)
			fatalx("gnutls_x509_crt_init");
		if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) < 0 ||
		    gnutls_pubkey_import_x509(k->pub, crt, 0) < 0) {
			gnutls_x509_crt_deinit(crt);
			jwt_key_free(k);
			return perr_set(e, 400, "data does not contain any "
			    "valid RSA, ECDSA, or ED25519 public keys");
		}
		gnutls_x509_crt_deinit(crt);
	}
	if (key_finish(k, e) == -1) {
		jwt_key_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

static int
jwk_bytes(struct json_object *jwk, const char *name, gnutls_datum_t *d,
    size_t want, struct perr *e)
{
	struct json_object	*v;
	unsigned char		*p;
	size_t			 n;
	const char		*s;

	if (!json_object_object_get_ex(jwk, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return perr_set(e, 400, "go-jose/go-jose: invalid %s member "
		    "in JWK", name);
	s = json_object_get_string(v);
	if (b64url_decode(s, strlen(s), &p, &n) == -1)
		return perr_set(e, 400, "go-jose/go-jose: invalid %s member "
		    "in JWK", name);
	if (n == 0 || (want != 0 && n != want)) {
		free(p);
		return perr_set(e, 400, "go-jose/go-jose: invalid %s member "
		    "in JWK", name);
	}
	d->data = p;
	d->size = (unsigned int)n;
	return 0;
}

static const char *
jwk_str(struct json_object *jwk, const char *name)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(jwk, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * Import one JWK (RFC 7517): kty RSA (n, e), EC (crv P-256, P-384,
 * P-521 with x, y of the curve's exact size) or OKP (crv Ed25519, x).
 * Private members are ignored.  *out is owned by the caller.  Status
 * 400 with a message on anything else.
 */
int
jwt_key_from_jwk(struct json_object *jwk, struct jwt_key **out,
    struct perr *e)
{
	struct jwt_key		*k;
	gnutls_datum_t		 a = { NULL, 0 }, b = { NULL, 0 };
	const char		*kty, *crv, *s;
	gnutls_ecc_curve_t	 curve = 0;
	size_t			 csize = 0;
	int			 rc = -1;

	*out = NULL;
	if (!json_object_is_type(jwk, json_type_object))
		return perr_set(e, 400, "go-jose/go-jose: JWK is not an object");
	if ((kty = jwk_str(jwk, "kty")) == NULL)
		return perr_set(e, 400, "go-jose/go-jose: missing kty in JWK");
	k = xcalloc(1, sizeof(*k));
	if (gnutls_pubkey_init(&k->pub) < 0)
		fatalx("gnutls_pubkey_init");
	crv = jwk_str(jwk, "crv");
	if (strcmp(kty, "RSA") == 0) {
		if (jwk_bytes(jwk, "n", &a, 0, e) == -1 ||
		    jwk_bytes(jwk, "e", &b, 0, e) == -1)
			goto out;
		if (a.size > 2048 || b.size > 8 ||
		    gnutls_pubkey_import_rsa_raw(k->pub, &a, &b) < 0) {
			perr_set(e, 400, "go-jose/go-jose: invalid RSA key");
			goto out;
		}
	} else if (strcmp(kty, "EC") == 0) {
		if (crv != NULL && strcmp(crv, "P-256") == 0) {
			curve = GNUTLS_ECC_CURVE_SECP256R1;
			csize = 32;
		} else if (crv != NULL && strcmp(crv, "P-384") == 0) {
			curve = GNUTLS_ECC_CURVE_SECP384R1;
			csize = 48;
		} else if (crv != NULL && strcmp(crv, "P-521") == 0) {
			curve = GNUTLS_ECC_CURVE_SECP521R1;
			csize = 66;
		} else {
			perr_set(e, 400, "go-jose/go-jose: unsupported elliptic "
			    "curve '%s'", crv ? crv : "");
			goto out;
		}
		if (jwk_bytes(jwk, "x", &a, csize, e) == -1 ||
		    jwk_bytes(jwk, "y", &b, csize, e) == -1)
			goto out;
		if (gnutls_pubkey_import_ecc_raw(k->pub, curve, &a, &b) < 0) {
			perr_set(e, 400, "go-jose/go-jose: invalid EC key");
			goto out;
		}
	} else if (strcmp(kty, "OKP") == 0) {
		if (crv == NULL || strcmp(crv, "Ed25519") != 0) {
			perr_set(e, 400, "go-jose/go-jose: unsupported OKP "
			    "curve '%s'", crv ? crv : "");
			goto out;
		}
		if (jwk_bytes(jwk, "x", &a, 32, e) == -1)
			goto out;
		if (gnutls_pubkey_import_ecc_raw(k->pub,
		    GNUTLS_ECC_CURVE_ED25519, &a, NULL) < 0) {
			perr_set(e, 400, "go-jose/go-jose: invalid Ed25519 key");
			goto out;
		}
	} else {
		perr_set(e, 400, "go-jose/go-jose: unknown json web key type "
		    "'%.64s'", kty);
		goto out;
	}
	if (key_finish(k, e) == -1)
		goto out;
	if ((s = jwk_str(jwk, "kid")) != NULL)
		k->kid = xstrdup(s);
	if ((s = jwk_str(jwk, "alg")) != NULL)
		k->alg = xstrdup(s);
	*out = k;
	k = NULL;
	rc = 0;
out:
	free(a.data);
	free(b.data);
	jwt_key_free(k);
	return rc;
}

void
jwt_key_free(struct jwt_key *k)
{
	if (k == NULL)
		return;
	if (k->pub != NULL)
		gnutls_pubkey_deinit(k->pub);
	free(k->kid);
	free(k->alg);
	free(k);
}

struct jwt_keyset *
jwt_keyset_new(void)
{
	return xcalloc(1, sizeof(struct jwt_keyset));
}

/* Append k to ks, which takes ownership. */
void
jwt_keyset_add(struct jwt_keyset *ks, struct jwt_key *k)
{
	ks->keys = xrealloc(ks->keys, (ks->n + 1) * sizeof(*ks->keys));
	ks->keys[ks->n++] = k;
}

size_t
jwt_keyset_count(const struct jwt_keyset *ks)
{
	return ks == NULL ? 0 : ks->n;
}

/* Returns 1 when a key of ks carries kid. */
int
jwt_keyset_has_kid(const struct jwt_keyset *ks, const char *kid)
{
	size_t	i;

	for (i = 0; ks != NULL && kid != NULL && i < ks->n; i++)
		if (ks->keys[i]->kid != NULL && strcmp(ks->keys[i]->kid, kid) == 0)
			return 1;
	return 0;
}

/*
 * Parse a JWKS document {"keys": [...]}.  Keys of a type we cannot use
 * (kty oct, unknown curves) and keys marked "use": "enc" are skipped,
 * so one exotic key does not break a provider's whole set; a set with
 * no usable key is an error.  At most JWT_MAXKEYS keys are kept.
 * *out is owned by the caller.  Status 400.
 */
int
jwt_keyset_from_jwks(const char *doc, size_t len, struct jwt_keyset **out,
    struct perr *e)
{
	struct json_object	*root, *keys, *jwk;
	struct jwt_keyset	*ks;
	struct jwt_key		*k;
	struct perr		 ke;
	const char		*use;
	size_t			 i, n;

	*out = NULL;
	if (len > JWT_MAXJWKS)
		return perr_set(e, 400, "JWKS document is larger than %d bytes",
		    JWT_MAXJWKS);
	if ((root = parse_object((const unsigned char *)doc, len)) == NULL)
		return perr_set(e, 400, "failed to decode keys: "
		    "invalid JSON document");
	if (!json_object_object_get_ex(root, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array)) {
		json_object_put(root);
		return perr_set(e, 400, "failed to decode keys: "
		    "no \"keys\" array");
	}
	ks = jwt_keyset_new();
	n = json_object_array_length(keys);
	for (i = 0; i < n && ks->n < JWT_MAXKEYS; i++) {
		jwk = json_object_array_get_idx(keys, i);
		use = json_object_is_type(jwk, json_type_object) ?
		    jwk_str(jwk, "use") : NULL;
		if (use != NULL && strcmp(use, "sig") != 0)
			continue;
		if (jwt_key_from_jwk(jwk, &k, &ke) == 0)
			jwt_keyset_add(ks, k);
	}
	json_object_put(root);
	if (ks->n == 0) {
		jwt_keyset_free(ks);
		return perr_set(e, 400, "failed to decode keys: "
		    "no usable signing key in JWKS");
	}
	*out = ks;
	return 0;
}

void
jwt_keyset_free(struct jwt_keyset *ks)
{
	size_t	i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->n; i++)
		jwt_key_free(ks->keys[i]);
	free(ks->keys);
	free(ks);
}

/* ------------------------------------------------------------------ */
/* verification */

/* DER INTEGER of the unsigned big-endian n bytes at p, appended to o. */
static size_t
der_int(unsigned char *o, const unsigned char *p, size_t n)
{
	size_t	 len = 0;

	while (n > 1 && *p == 0) {
		p++;
		n--;
	}
	o[len++] = 0x02;
	o[len++] = (unsigned char)(n + (*p & 0x80 ? 1 : 0));
	if (*p & 0x80)
		o[len++] = 0;
	memcpy(o + len, p, n);
	return len + n;
}

/* JWS r||s (2 * half bytes) to a DER ECDSA-Sig-Value in out (>= 160). */
static size_t
ecdsa_der(unsigned char *out, const unsigned char *sig, size_t half)
{
	unsigned char	body[150];
	size_t		n, o = 0;

	n = der_int(body, sig, half);
	n += der_int(body + n, sig + half, half);
	out[o++] = 0x30;
	if (n >= 0x80)
		out[o++] = 0x81;
	out[o++] = (unsigned char)n;
	memcpy(out + o, body, n);
	return o + n;
}

static int
verify_one(const struct jwt *j, int alg, const struct jwt_key *k)
{
	gnutls_datum_t	 data, sig;
	unsigned char	 der[160];
	size_t		 half;
	int		 sign;

	sign = algs[alg].sign;
	switch (algs[alg].pk) {
	case GNUTLS_PK_RSA:
		if (k->pk == GNUTLS_PK_RSA_PSS) {
			if (algs[alg].pss_sign == 0)
				return -1;
			sign = algs[alg].pss_sign;
		} else if (k->pk != GNUTLS_PK_RSA)
			return -1;
		sig.data = j->sig;
		sig.size = (unsigned int)j->siglen;
		break;
	case GNUTLS_PK_ECDSA:
		if (k->pk != GNUTLS_PK_ECDSA || k->curve != algs[alg].curve)
			return -1;
		half = alg == JWT_ES256 ? 32 : alg == JWT_ES384 ? 48 : 66;
		if (j->siglen != 2 * half)
			return -1;
		sig.size = (unsigned int)ecdsa_der(der, j->sig, half);
		sig.data = der;
		break;
	case GNUTLS_PK_EDDSA_ED25519:
		if (k->pk != GNUTLS_PK_EDDSA_ED25519 || j->siglen != 64)
			return -1;
		sig.data = j->sig;
		sig.size = (unsigned int)j->siglen;
		break;
	default:
		return -1;
	}
	data.data = (unsigned char *)j->input;
	data.size = (unsigned int)j->inputlen;
	return gnutls_pubkey_verify_data2(k->pub, sign, 0, &data, &sig) < 0 ?
	    -1 : 0;
}

/*
 * Verify j's signature with any key of ks, using only the algorithms
 * in mask (JWT_ALG_BIT bits).  When the token names a kid, keys with a
 * different kid are skipped (keys without one, such as PEM keys, are
 * tried).  Returns 0 when one key verifies; else status 400 and either
 * go-oidc's "id token signed with unsupported algorithm, expected
 * [...] got \"<alg>\"" (none, HS*, unknown, or not in mask) or "failed
 * to verify id token signature".
 */
int
jwt_verify(const struct jwt *j, const struct jwt_keyset *ks, unsigned mask,
    struct perr *e)
{
	char	 list[256];
	size_t	 i, off = 0;
	int	 alg, a;

	alg = jwt_alg_parse(j->alg);
	if (alg == -1 || (mask & JWT_ALG_BIT(alg)) == 0) {
		list[0] = '\0';
		for (a = 0; a < JWT_ALG__MAX; a++) {
			if ((mask & JWT_ALG_BIT(a)) == 0)
				continue;
			off += (size_t)snprintf(list + off, sizeof(list) - off,
			    "%s\"%s\"", off ? " " : "", algs[a].name);
		}
		return perr_set(e, 400, "id token signed with unsupported "
		    "algorithm, expected [%s] got \"%.32s\"", list, j->alg);
	}
	for (i = 0; ks != NULL && i < ks->n; i++) {
		if (j->kid != NULL && ks->keys[i]->kid != NULL &&
		    strcmp(j->kid, ks->keys[i]->kid) != 0)
			continue;
		if (ks->keys[i]->alg != NULL &&
		    strcmp(ks->keys[i]->alg, j->alg) != 0)
			continue;
		if (verify_one(j, alg, ks->keys[i]) == 0)
			return 0;
	}
	return perr_set(e, 400, "failed to verify id token signature");
}

/* ------------------------------------------------------------------ */
/* claims */

/*
 * Look a claim up as Consul's getClaim (oidcjwt.go): a name not
 * starting with '/' is a top-level key; otherwise a JSON pointer
 * (RFC 6901, "~1" for '/', "~0" for '~'; array elements by index).
 * Returns the value, borrowed from claims, or NULL when absent.
 */
struct json_object *
jwt_claim_get(struct json_object *claims, const char *name)
{
	struct json_object	*cur = claims, *next;
	char			 tok[256];
	const char		*p;
	char			*end;
	size_t			 n;
	long			 idx;

	if (name[0] != '/')
		return json_object_object_get_ex(claims, name, &next) ?
		    next : NULL;
	for (p = name + 1;; ) {
		for (n = 0; *p != '\0' && *p != '/'; p++) {
			if (n + 1 >= sizeof(tok))
				return NULL;
			if (*p == '~' && p[1] == '1') {
				tok[n++] = '/';
				p++;
			} else if (*p == '~' && p[1] == '0') {
				tok[n++] = '~';
				p++;
			} else
				tok[n++] = *p;
		}
		tok[n] = '\0';
		if (json_object_is_type(cur, json_type_object)) {
			if (!json_object_object_get_ex(cur, tok, &next))
				return NULL;
		} else if (json_object_is_type(cur, json_type_array)) {
			idx = strtol(tok, &end, 10);
			if (n == 0 || *end != '\0' || idx < 0 ||
			    (size_t)idx >= json_object_array_length(cur))
				return NULL;
			next = json_object_array_get_idx(cur, (size_t)idx);
		} else
			return NULL;
		cur = next;
		if (*p == '\0')
			return cur;
		p++;
	}
}

/*
 * A NumericDate claim: 0 when absent, -1 when not a number.  A
 * fraction is truncated, as Go's int64(float64) does; a finite value
 * out of int64's range becomes INT64_MIN, what that conversion gives
 * on amd64 (Consul's usual platform), instead of undefined behaviour;
 * NaN and infinities are not numbers (Go's strconv refuses 1e400).
 */
static int
numdate(struct json_object *claims, const char *name, int64_t *out)
{
	struct json_object	*v;
	double			 d;

	*out = 0;
	if (!json_object_object_get_ex(claims, name, &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (!isfinite(d))
			return -1;
		/* Out of int64: INT64_MIN, as Go's int64(f) on amd64. */
		if (json_double_int64(d, out) == -1)
			*out = INT64_MIN;
		return 0;
	}
	return -1;
}

/* a + b, saturated at the ends of int64 (Go would wrap; nothing here
 * should turn a far-future time into a past one). */
static int64_t
sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

static int
aud_has(struct json_object *aud, const char *want)
{
	size_t	i, n;

	if (aud == NULL)
		return 0;
	if (json_object_is_type(aud, json_type_string))
		return strcmp(json_object_get_string(aud), want) == 0;
	n = json_object_array_length(aud);
	for (i = 0; i < n; i++)
		if (strcmp(json_object_get_string(
		    json_object_array_get_idx(aud, i)), want) == 0)
			return 1;
	return 0;
}

static int64_t
leeway(int64_t set, int64_t dflt)
{
	return set < 0 ? 0 : set == 0 ? dflt : set;
}

/* Go's time.Time %v for a Unix time, in UTC. */
static void
gotime(int64_t t, char *buf, size_t len)
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL) {	/* year out of int's range */
		snprintf(buf, len, "%lld (Unix time)", (long long)t);
		return;
	}
	strftime(buf, len, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
}

/*
 * Check j's registered claims under p (see struct jwt_policy).  With
 * p->oidc clear these are Consul's verifyVanillaJWT rules, messages
 * prefixed "error validating claims: "; with it set, go-oidc's
 * Verifier plus the non-strict audience check.  Returns 0, or -1 with
 * status 400.
 */
int
jwt_check_claims(const struct jwt *j, const struct jwt_policy *p,
    struct perr *e)
{
	struct json_object	*aud = NULL, *v;
	const char		*iss = "";
	char			 t1[64], t2[64];
	int64_t			 iat, nbf, exp, skew, now = (int64_t)p->now;
	size_t			 i, n;

	if (numdate(j->claims, "iat", &iat) == -1 ||
	    numdate(j->claims, "nbf", &nbf) == -1 ||
	    numdate(j->claims, "exp", &exp) == -1)
		return perr_set(e, 400, "failed to unmarshal claims: "
		    "time claims must be numbers");
	if (json_object_object_get_ex(j->claims, "iss", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_string))
			return perr_set(e, 400, "failed to unmarshal claims: "
			    "iss must be a string");
		iss = json_object_get_string(v);
	}
	if (json_object_object_get_ex(j->claims, "aud", &aud) && aud != NULL) {
		if (json_object_is_type(aud, json_type_array)) {
			n = json_object_array_length(aud);
			for (i = 0; i < n; i++)
				if (!json_object_is_type(
				    json_object_array_get_idx(aud, i),
				    json_type_string))
					return perr_set(e, 400, "failed to "
					    "unmarshal claims: aud must be "
					    "strings");
		} else if (!json_object_is_type(aud, json_type_string))
			return perr_set(e, 400, "failed to unmarshal claims: "
			    "aud must be a string or a list of strings");
	}

	if (p->oidc) {
		if (p->issuer != NULL && p->issuer[0] != '\0' &&
		    strcmp(iss, p->issuer) != 0)
			return perr_set(e, 400, "oidc: id token issued by a "
			    "different provider, expected \"%.128s\" got "
			    "\"%.128s\"", p->issuer, iss);
		if (p->client_id != NULL && !aud_has(aud, p->client_id))
			return perr_set(e, 400, "oidc: expected audience "
			    "\"%.128s\" got %.200s", p->client_id,
			    aud ? json_object_to_json_string(aud) : "[]");
		if (exp < now) {
			gotime(exp, t1, sizeof(t1));
			return perr_set(e, 400, "oidc: token is expired "
			    "(Token Expiry: %s)", t1);
		}
		if (nbf != 0 && sat_add(now, OIDC_NBF_LEEWAY) < nbf) {
			gotime(now, t1, sizeof(t1));
			gotime(nbf, t2, sizeof(t2));
			return perr_set(e, 400, "oidc: current time %s before "
			    "the nbf (not before) time: %s", t1, t2);
		}
	} else {
		if (iat == 0 && exp == 0 && nbf == 0)
			return perr_set(e, 400, "no issue time, notbefore, or "
			    "expiration time encoded in token");
		if (exp == 0)
			exp = sat_add(nbf > iat ? nbf : iat,
			    leeway(p->exp_leeway, DEFAULT_LEEWAY));
		if (nbf == 0)
			nbf = iat != 0 ? iat :
			    sat_add(exp, -leeway(p->nbf_leeway, DEFAULT_LEEWAY));
		skew = leeway(p->skew_leeway, DEFAULT_SKEW);
		if (p->issuer != NULL && p->issuer[0] != '\0' &&
		    strcmp(iss, p->issuer) != 0)
			return perr_set(e, 400, "error validating claims: "
			    E_ISS);
		if (sat_add(now, skew) < nbf)
			return perr_set(e, 400, "error validating claims: "
			    E_NBF);
		if (sat_add(now, -skew) > exp)
			return perr_set(e, 400, "error validating claims: "
			    E_EXP);
		if (sat_add(now, skew) < iat)
			return perr_set(e, 400, "error validating claims: "
			    E_IAT);
		if (p->naudiences == 0 && aud != NULL &&
		    (json_object_is_type(aud, json_type_string) ||
		    json_object_array_length(aud) > 0))
			return perr_set(e, 400, "error validating claims: "
			    "audience claim found in JWT but no audiences "
			    "are bound");
	}
	if (p->naudiences > 0) {
		for (i = 0; i < p->naudiences; i++)
			if (aud_has(aud, p->audiences[i]))
				return 0;
		return perr_set(e, 400, "error validating claims: aud claim "
		    "does not match any bound audience");
	}
	return 0;
}
