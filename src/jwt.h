/*
 * jwt.h -- compact JWS parsing and verification (GnuTLS), JWK/JWKS and
 * PEM public keys, and Consul's JWT claim checks.  Documentation lives
 * in jwt.c.
 */
#ifndef JWT_H
#define JWT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "portcullis.h"

struct json_object;

#define JWT_MAXLEN	65536	/* bytes of compact JWS */
#define JWT_MAXHEADER	8192	/* bytes of decoded header JSON */
#define JWT_MAXJWKS	(1024 * 1024)	/* bytes of JWKS document */
#define JWT_MAXKEYS	64	/* keys kept from one JWKS */

/* Signature algorithms (RFC 7518 names in jwt_alg_name()). */
enum jwt_alg {
	JWT_RS256,
	JWT_RS384,
	JWT_RS512,
	JWT_PS256,
	JWT_PS384,
	JWT_PS512,
	JWT_ES256,
	JWT_ES384,
	JWT_ES512,
	JWT_EDDSA,
	JWT_ALG__MAX
};

#define JWT_ALG_BIT(a)	(1u << (a))
#define JWT_ALGS_DEFAULT JWT_ALG_BIT(JWT_RS256)	/* Consul's default */

struct jwt;		/* a parsed, not yet verified, compact JWS */
struct jwt_key;		/* one public key */
struct jwt_keyset;	/* keys to try, in order */

/* What jwt_check_claims() enforces. */
struct jwt_policy {
	time_t			 now;
	int			 oidc;		/* go-oidc rules, not go-jose's */
	int64_t			 exp_leeway;	/* seconds; 0 default, <0 off */
	int64_t			 nbf_leeway;
	int64_t			 skew_leeway;
	const char		*issuer;	/* NULL or "": not checked */
	const char		*client_id;	/* oidc: aud must hold it */
	const char *const	*audiences;	/* BoundAudiences */
	size_t			 naudiences;
};

int	 jwt_alg_parse(const char *);
const char *jwt_alg_name(enum jwt_alg);

int	 jwt_parse(const char *, struct jwt **, struct perr *) PC_MUSTCHECK;
void	 jwt_free(struct jwt *);
const char *jwt_header_alg(const struct jwt *);
const char *jwt_header_kid(const struct jwt *);
struct json_object *jwt_claims(const struct jwt *);

int	 jwt_key_from_pem(const char *, struct jwt_key **, struct perr *)
	    PC_MUSTCHECK;
int	 jwt_key_from_jwk(struct json_object *, struct jwt_key **,
	    struct perr *) PC_MUSTCHECK;
void	 jwt_key_free(struct jwt_key *);

struct jwt_keyset *jwt_keyset_new(void);
void	 jwt_keyset_add(struct jwt_keyset *, struct jwt_key *);
size_t	 jwt_keyset_count(const struct jwt_keyset *);
int	 jwt_keyset_has_kid(const struct jwt_keyset *, const char *);
int	 jwt_keyset_from_jwks(const char *, size_t, struct jwt_keyset **,
	    struct perr *) PC_MUSTCHECK;
void	 jwt_keyset_free(struct jwt_keyset *);

int	 jwt_verify(const struct jwt *, const struct jwt_keyset *, unsigned,
	    struct perr *) PC_MUSTCHECK;
int	 jwt_check_claims(const struct jwt *, const struct jwt_policy *,
	    struct perr *) PC_MUSTCHECK;
struct json_object *jwt_claim_get(struct json_object *, const char *);

int	 b64url_decode(const char *, size_t, unsigned char **, size_t *);
char	*b64url_encode(const unsigned char *, size_t);

#endif /* JWT_H */
