/*
 * fuzz_jwt.c -- fuzz the JWT/JWK parsers of jwt.c.  The input is fed
 * to jwt_parse() (then jwt_verify() against a fixed Ed25519 JWK and
 * jwt_check_claims(), which must refuse or accept cleanly), to
 * jwt_keyset_from_jwks(), and, as a claim path, to jwt_claim_get().
 * Every refusal must be a 400 with a message.  Corpus:
 * tests/fuzz/corpus/jwt/.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "jwt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* RFC 8037 A.2's Ed25519 public key. */
static const char jwks[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

static struct jwt_keyset	*ks;

static void
refused(const struct perr *e)
{
	if (e->status != 400 || e->msg[0] == '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwt		*j;
	struct jwt_keyset	*k2;
	struct jwt_policy	 p;
	struct perr		 e;
	char			*s;

	if (size > JWT_MAXLEN + 16)
		return 0;
	if (ks == NULL && jwt_keyset_from_jwks(jwks, strlen(jwks), &ks, &e))
		abort();
	s = xstrndup((const char *)data, size);

	if (jwt_parse(s, &j, &e) == 0) {
		if (jwt_verify(j, ks, (1u << JWT_ALG__MAX) - 1, &e) == -1)
			refused(&e);
		memset(&p, 0, sizeof(p));
		p.now = 1700000000;
		if (jwt_check_claims(j, &p, &e) == -1)
			refused(&e);
		p.oidc = 1;
		p.issuer = "https://issuer";
		p.client_id = "client";
		if (jwt_check_claims(j, &p, &e) == -1)
			refused(&e);
		(void)jwt_claim_get(jwt_claims(j), "/a/0/b~1c");
		jwt_free(j);
	} else
		refused(&e);

	if (jwt_keyset_from_jwks(s, size, &k2, &e) == 0)
		jwt_keyset_free(k2);
	else
		refused(&e);

	if (size > 0 && s[0] == '/') {
		struct json_object *o = json_tokener_parse(
		    "{\"a\":[{\"b/c\":1}],\"x\":{\"~\":[true]}}");
		(void)jwt_claim_get(o, s);
		json_object_put(o);
	}
	free(s);
	return 0;
}
