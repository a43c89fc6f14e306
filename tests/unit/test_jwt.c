/*
 * test_jwt.c -- jwt.c: compact JWS parsing, signatures (RS, PS, ES,
 * EdDSA) with PEM keys, certificates and JWKS, algorithm confusion
 * (none, HS256 keyed with the RSA public key, ES256 by a P-384 key),
 * Consul's time and audience rules, JSON-pointer claims.  Keys and
 * tokens are made fresh by tests/unit/data/jwt_mint.py
 * (python3-cryptography): nothing secret is committed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "jwt.h"
#include "tap.h"

#define ALL	((1u << JWT_ALG__MAX) - 1)

static char	 dir[64];
static struct tok {
	char	*name, *jws;
}		 toks[64];
static int	 ntoks;

static char *
slurp(const char *name)
{
	char	 path[256], *buf;
	FILE	*f;
	long	 n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = xmalloc((size_t)n + 1);
	buf[fread(buf, 1, (size_t)n, f)] = '\0';
	fclose(f);
	return buf;
}

static const char *
tok(const char *name)
{
	int	i;

	for (i = 0; i < ntoks; i++)
		if (strcmp(toks[i].name, name) == 0)
			return toks[i].jws;
	fprintf(stderr, "no token %s\n", name);
	exit(2);
}

static struct jwt_keyset *
pemset(const char *file)
{
	struct jwt_keyset	*ks = jwt_keyset_new();
	struct jwt_key		*k;
	struct perr		 e;
	char			*pem = slurp(file);

	if (jwt_key_from_pem(pem, &k, &e) == -1) {
		printf("# %s: %s\n", file, e.msg);
		exit(2);
	}
	jwt_keyset_add(ks, k);
	free(pem);
	return ks;
}

/* Verify token name with keys; returns "" or the error text. */
static const char *
verify(const char *name, const struct jwt_keyset *ks, unsigned mask)
{
	static struct perr	 e;
	struct jwt		*j;
	int			 rc;

	perr_clear(&e);
	if (jwt_parse(tok(name), &j, &e) == -1)
		return e.msg;
	rc = jwt_verify(j, ks, mask, &e);
	jwt_free(j);
	return rc == 0 ? "" : e.msg;
}

static const char *
claims(const char *name, const char *const *aud, size_t naud,
    const char *iss, int64_t exp_lw)
{
	static struct perr	 e;
	struct jwt_policy	 p;
	struct jwt		*j;
	int			 rc;

	perr_clear(&e);
	if (jwt_parse(tok(name), &j, &e) == -1)
		return e.msg;
	memset(&p, 0, sizeof(p));
	p.now = time(NULL);
	p.audiences = aud;
	p.naudiences = naud;
	p.issuer = iss;
	p.exp_leeway = exp_lw;
	rc = jwt_check_claims(j, &p, &e);
	jwt_free(j);
	return rc == 0 ? "" : e.msg;
}

static void
load_tokens(void)
{
	char	*all = slurp("tokens.txt"), *line, *sp, *save;

	for (line = strtok_r(all, "\n", &save); line != NULL && ntoks < 64;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp = '\0';
		toks[ntoks].name = xstrdup(line);
		toks[ntoks].jws = xstrdup(sp + 1);
		ntoks++;
	}
	free(all);
}

static void
test_base64(void)
{
	unsigned char	*out;
	size_t		 n;
	char		*s;

	ok(b64url_decode("aGk", 3, &out, &n) == 0 && n == 2 &&
	    memcmp(out, "hi", 2) == 0, "base64url decodes unpadded input");
	free(out);
	ok(b64url_decode("aGk=", 4, &out, &n) == 0 && n == 2,
	    "trailing padding is tolerated, as go-jose strips it");
	free(out);
	ok(b64url_decode("a+k", 3, &out, &n) == -1,
	    "standard-alphabet '+' is refused");
	ok(b64url_decode("a", 1, &out, &n) == -1, "an impossible length is "
	    "refused");
	s = b64url_encode((const unsigned char *)"\xfb\xff", 2);
	is_str(s, "-_8", "base64url encodes with - and _");
	free(s);
}

static void
test_parse(void)
{
	struct jwt	*j;
	struct perr	 e;
	char		*big;

	ok(jwt_parse("a.b", &j, &e) == -1 && e.status == 400,
	    "two parts are refused with 400");
	is_str(e.msg, "go-jose/go-jose: compact JWS format must have three "
	    "parts", "go-jose's text for a wrong part count");
	ok(jwt_parse("a.b.c.d", &j, &e) == -1, "four parts are refused");
	ok(jwt_parse("e30.e30.", &j, &e) == -1, "a header without alg is "
	    "refused");
	is_str(e.msg, "go-jose/go-jose: missing alg in JWS header",
	    "the missing alg is named");
	ok(jwt_parse("W10.e30.", &j, &e) == -1, "a header that is not an "
	    "object is refused");
	ok(jwt_parse("eyJhbGciOiJSUzI1NiJ9.W10.", &j, &e) == -1,
	    "claims that are not an object are refused");
	ok(jwt_parse(tok("crit"), &j, &e) == -1, "a crit header is refused");
	big = xmalloc(JWT_MAXLEN + 10);
	memset(big, 'A', JWT_MAXLEN + 9);
	big[JWT_MAXLEN + 9] = '\0';
	big[10] = '.';
	big[20] = '.';
	ok(jwt_parse(big, &j, &e) == -1 && strstr(e.msg, "larger") != NULL,
	    "a token over JWT_MAXLEN is refused before decoding");
	free(big);
	ok(jwt_parse(tok("rs256_kid"), &j, &e) == 0, "a good token parses");
	is_str(jwt_header_alg(j), "RS256", "alg is read");
	is_str(jwt_header_kid(j), "rsa1", "kid is read");
	jwt_free(j);
	jwt_free(NULL);
}

static void
test_signatures(void)
{
	static const struct {
		const char	*tok, *key;
		unsigned	 mask;
		const char	*want;		/* "" = verifies */
		const char	*why;
	} cases[] = {
		{ "rs256", "rsa.pub.pem", ALL, "", "RS256 with an RSA PEM key" },
		{ "rs384", "rsa.pub.pem", ALL, "", "RS384" },
		{ "rs512", "rsa.pub.pem", ALL, "", "RS512" },
		{ "ps256", "rsa.pub.pem", ALL, "", "PS256 (RSA-PSS)" },
		{ "ps512", "rsa.pub.pem", ALL, "", "PS512" },
		{ "es256", "ec256.pub.pem", ALL, "", "ES256, raw r||s converted "
		    "to DER" },
		{ "es384", "ec384.pub.pem", ALL, "", "ES384" },
		{ "es512", "ec521.pub.pem", ALL, "", "ES512 on P-521" },
		{ "eddsa", "ed25519.pub.pem", ALL, "", "EdDSA (Ed25519)" },
		{ "rs256", "rsa.cert.pem", ALL, "", "a certificate's key is "
		    "accepted, as parsePublicKeyPEM does" },
		{ "bad_sig", "rsa.pub.pem", ALL,
		    "failed to verify id token signature",
		    "a token signed by another key fails" },
		{ "tampered", "rsa.pub.pem", ALL,
		    "failed to verify id token signature",
		    "a tampered payload fails" },
		{ "es256", "rsa.pub.pem", ALL,
		    "failed to verify id token signature",
		    "ES256 against an RSA key fails (alg/key mismatch)" },
		{ "rs256", "ec256.pub.pem", ALL,
		    "failed to verify id token signature",
		    "RS256 against an EC key fails" },
		{ "es256_by_es384", "ec384.pub.pem", ALL,
		    "failed to verify id token signature",
		    "ES256 by a P-384 key fails: the curve must match" },
		{ "none", "rsa.pub.pem", ALL,
		    "id token signed with unsupported algorithm, expected "
		    "[\"RS256\" \"RS384\" \"RS512\" \"PS256\" \"PS384\" "
		    "\"PS512\" \"ES256\" \"ES384\" \"ES512\" \"EdDSA\"] "
		    "got \"none\"", "alg none is never accepted" },
		{ "hs256_pub", "rsa.pub.pem", ALL,
		    "id token signed with unsupported algorithm, expected "
		    "[\"RS256\" \"RS384\" \"RS512\" \"PS256\" \"PS384\" "
		    "\"PS512\" \"ES256\" \"ES384\" \"ES512\" \"EdDSA\"] "
		    "got \"HS256\"",
		    "HS256 keyed with the RSA public key is refused" },
		{ "es256", "ec256.pub.pem", JWT_ALG_BIT(JWT_RS256),
		    "id token signed with unsupported algorithm, expected "
		    "[\"RS256\"] got \"ES256\"",
		    "an algorithm outside JWTSupportedAlgs is refused" },
	};
	struct jwt_keyset	*ks;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ks = pemset(cases[i].key);
		is_str(verify(cases[i].tok, ks, cases[i].mask), cases[i].want,
		    "%s", cases[i].why);
		jwt_keyset_free(ks);
	}
}

static void
test_jwks(void)
{
	struct jwt_keyset	*ks;
	struct json_object	*o;
	struct jwt_key		*k;
	struct perr		 e;
	char			*doc = slurp("jwks.json");

	ok(jwt_keyset_from_jwks(doc, strlen(doc), &ks, &e) == 0,
	    "a JWKS with RSA, EC and OKP keys loads");
	is_int(jwt_keyset_count(ks), 3, "the oct (HMAC) key is skipped");
	is_str(verify("rs256_kid", ks, ALL), "", "RS256 picked by kid");
	is_str(verify("es256_kid", ks, ALL), "", "ES256 picked by kid");
	is_str(verify("eddsa_kid", ks, ALL), "", "EdDSA picked by kid");
	is_str(verify("rs256", ks, ALL), "", "no kid: every key is tried");
	is_str(verify("kid_unknown", ks, ALL),
	    "failed to verify id token signature",
	    "an unknown kid matches no key");
	ok(strstr(verify("hs256_pub", ks, ALL), "unsupported algorithm") !=
	    NULL, "HS256 is refused with a JWKS too");
	jwt_keyset_free(ks);
	free(doc);

	ok(jwt_keyset_from_jwks("{\"keys\":[]}", 11, &ks, &e) == -1,
	    "a JWKS without usable keys is an error");
	ok(jwt_keyset_from_jwks("[1]", 3, &ks, &e) == -1 && e.status == 400,
	    "a JWKS that is not an object is a 400");
	o = json_tokener_parse("{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"AAAA\",\"y\":\"AAAA\"}");
	ok(jwt_key_from_jwk(o, &k, &e) == -1, "EC coordinates of the wrong "
	    "size are refused");
	json_object_put(o);
	o = json_tokener_parse("{\"kty\":\"OKP\",\"crv\":\"X25519\","
	    "\"x\":\"AAAA\"}");
	ok(jwt_key_from_jwk(o, &k, &e) == -1, "X25519 is not a signing key");
	json_object_put(o);
	ok(jwt_key_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n"
	    "-----END PUBLIC KEY-----\n", &k, &e) == -1, "a broken PEM fails");
	is_str(e.msg, "data does not contain any valid RSA, ECDSA, or ED25519 "
	    "public keys", "with parsePublicKeyPEM's text");
}

static void
test_claims(void)
{
	static const char *const	aud[] = { "portcullis" };
	static const char *const	aud2[] = { "nobody", "portcullis" };
	static const char *const	aud3[] = { "nobody" };
	struct json_object		*c;
	struct jwt			*j;
	struct perr			 e;

#define VE "error validating claims: "
	is_str(claims("rs256", aud, 1, NULL, 0), "", "a fresh token passes");
	is_str(claims("rs256", aud, 1, "https://issuer.example", 0), "",
	    "the bound issuer matches");
	is_str(claims("iss_other", aud, 1, "https://issuer.example", 0),
	    VE "go-jose/go-jose/jwt: validation failed, invalid issuer claim "
	    "(iss)", "another issuer is refused");
	is_str(claims("expired", aud, 1, NULL, 0), VE "go-jose/go-jose/jwt: "
	    "validation failed, token is expired (exp)", "expired is refused");
	is_str(claims("expired_in_skew", aud, 1, NULL, 0), "",
	    "expired 30 s ago passes with the 60 s clock skew leeway");
	is_str(claims("not_yet", aud, 1, NULL, 0), VE "go-jose/go-jose/jwt: "
	    "validation failed, token not valid yet (nbf)",
	    "not yet valid is refused");
	is_str(claims("iat_future", aud, 1, NULL, 0), VE "go-jose/go-jose/jwt: "
	    "validation failed, token not valid yet (nbf)",
	    "an iat in the future stands for the missing nbf");
	is_str(claims("no_times", aud, 1, NULL, 0), "no issue time, notbefore, "
	    "or expiration time encoded in token", "a token without times is "
	    "refused");
	is_str(claims("only_iat_old", aud, 1, NULL, 0), VE "go-jose/go-jose/"
	    "jwt: validation failed, token is expired (exp)",
	    "iat only: exp = iat + 150 s (ExpirationLeeway 0)");
	is_str(claims("only_iat_old", aud, 1, NULL, 300), "",
	    "ExpirationLeeway 300 s extends it");
	is_str(claims("only_iat_new", aud, 1, NULL, 0), "",
	    "iat 100 s ago: within the default 150 s");
	is_str(claims("only_iat_new", aud, 1, NULL, -1), VE "go-jose/go-jose/"
	    "jwt: validation failed, token is expired (exp)",
	    "a negative ExpirationLeeway disables it");
	is_str(claims("only_exp", aud, 1, NULL, 0), "", "exp only: nbf = exp - "
	    "150 s");
	is_str(claims("rs256", NULL, 0, NULL, 0), VE "audience claim found in "
	    "JWT but no audiences are bound", "an aud without BoundAudiences "
	    "is refused (strict)");
	is_str(claims("no_aud", NULL, 0, NULL, 0), "", "no aud, none bound");
	is_str(claims("no_aud", aud, 1, NULL, 0), VE "aud claim does not match "
	    "any bound audience", "no aud but bound ones");
	is_str(claims("aud_list", aud2, 2, NULL, 0), "", "one match in a list "
	    "is enough");
	is_str(claims("aud_other", aud3, 1, NULL, 0), VE "aud claim does not "
	    "match any bound audience", "a wrong audience is refused");
#undef VE

	if (jwt_parse(tok("rs256"), &j, &e) == -1)
		return;
	c = jwt_claims(j);
	is_str(json_object_get_string(jwt_claim_get(c, "team")), "Payments",
	    "a plain claim name");
	is_int(json_object_get_int(jwt_claim_get(c, "/nested/deep/id")), 42,
	    "a JSON pointer");
	is_str(json_object_get_string(jwt_claim_get(c, "/nested/a~1b")),
	    "slash", "~1 in a pointer is '/'");
	is_str(json_object_get_string(jwt_claim_get(c, "/groups/1")), "dev",
	    "a pointer indexes arrays");
	ok(jwt_claim_get(c, "/nested/missing") == NULL &&
	    jwt_claim_get(c, "/groups/9") == NULL &&
	    jwt_claim_get(c, "nested/deep") == NULL, "missing claims are NULL");
	jwt_free(j);
}

/*
 * Check the claims of an unsigned token whose payload is the JSON
 * text payload (the signature is not looked at), at now; oidc selects
 * go-oidc's rules.  Returns "" or the error text.
 */
static const char *
rawclaims(const char *payload, time_t now, int oidc, int64_t skew)
{
	static struct perr	 e;
	struct jwt_policy	 p;
	struct jwt		*j;
	char			*b, *jws;
	int			 rc;

	perr_clear(&e);
	b = b64url_encode((const unsigned char *)payload, strlen(payload));
	if (xasprintf(&jws, "eyJhbGciOiJFZERTQSJ9.%s.AAAA", b) < 0)
		exit(2);
	free(b);
	rc = jwt_parse(jws, &j, &e);
	free(jws);
	if (rc == -1)
		return e.msg;
	memset(&p, 0, sizeof(p));
	p.now = now;
	p.oidc = oidc;
	p.skew_leeway = skew;
	rc = jwt_check_claims(j, &p, &e);
	jwt_free(j);
	return rc == 0 ? "" : e.msg;
}

/*
 * Times at the edges of int64 and of double (found by fuzzing: the
 * double-to-integer casts and the leeway additions were undefined).
 */
static void
test_claims_edges(void)
{
	const time_t	now = 1700000000;

#define VE "error validating claims: go-jose/go-jose/jwt: validation failed, "
	is_str(rawclaims("{\"exp\":1e300}", now, 0, 0), VE "token is expired "
	    "(exp)", "an exp of 1e300 is out of int64: Go's amd64 INT64_MIN, "
	    "expired");
	is_str(rawclaims("{\"nbf\":-1e300,\"exp\":1e300}", now, 0, 0),
	    VE "token is expired (exp)", "nbf -1e300 and exp 1e300 do not "
	    "overflow");
	is_str(rawclaims("{\"exp\":9223372036854775807.0}", now, 0, 0),
	    VE "token is expired (exp)", "2^63 as a double is out of range");
	is_str(rawclaims("{\"iat\":1700000000,\"exp\":4102444800.5}",
	    now, 0, 0), "",
	    "a fractional exp in range is truncated and valid");
	is_str(rawclaims("{\"exp\":1e400}", now, 0, 0), "failed to unmarshal "
	    "claims: time claims must be numbers", "an exp of 1e400 (inf) is "
	    "not a number");
	is_str(rawclaims("{\"exp\":-1e400}", now, 0, 0), "failed to unmarshal "
	    "claims: time claims must be numbers", "-inf is not a number");
	is_str(rawclaims("{\"iat\":9223372036854775807}", now, 0, 0),
	    VE "token not valid yet (nbf)", "iat INT64_MAX plus the leeway "
	    "saturates instead of overflowing");
	is_str(rawclaims("{\"iat\":9223372036854775800,\"nbf\":1}", now, 0,
	    0), "error validating claims: go-jose/go-jose/jwt: validation "
	    "field, token issued in the future (iat)", "an iat near INT64_MAX "
	    "with an nbf: exp saturates, the iat check refuses");
	is_str(rawclaims("{\"exp\":-9223372036854775807}", now, 0, 0),
	    VE "token is expired (exp)", "exp near INT64_MIN minus the nbf "
	    "leeway saturates");
	is_str(rawclaims("{\"iat\":1,\"exp\":9223372036854775807}",
	    now, 0, INT64_MAX), "", "a huge clock skew leeway does not overflow");
	is_str(rawclaims("{\"exp\":9223372036854775807,"
	    "\"nbf\":9223372036854775807}", now, 1, 0), "oidc: current time "
	    "2023-11-14 22:13:20 +0000 UTC before the nbf (not before) time: "
	    "9223372036854775807 (Unix time)", "oidc: an nbf past year 2^31 "
	    "is printed as a Unix time");
	is_str(rawclaims("{\"exp\":1e300}", now, 1, 0), "oidc: token is "
	    "expired (Token Expiry: -9223372036854775808 (Unix time))",
	    "oidc: an exp of 1e300 is expired");
#undef VE
}

int
main(void)
{
	char	cmd[512];

	snprintf(dir, sizeof(dir), "/tmp/test_jwt.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/unit/data/"
	    "jwt_mint.py %s", getenv("srcdir") ? getenv("srcdir") : ".", dir);
	/* A missing dependency must fail the suite, never skip it. */
	if (system(cmd) != 0) {
		printf("Bail out! jwt_mint.py (python3-cryptography) failed\n");
		return 1;
	}
	load_tokens();
	test_base64();
	test_parse();
	test_signatures();
	test_jwks();
	test_claims();
	test_claims_edges();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
