/*
 * test_authmethod.c -- authmethod.c and fetch.c: Config validation with
 * Consul's texts, BindName interpolation, redirect URI matching, and
 * verification against real servers on loopback: the fake Kubernetes
 * API server and the fake OIDC provider of tests/e2e/fakes/, started
 * here (HTTPS with CAs they make at start), including their "slow",
 * "down" and "huge" misbehaviours.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "authmethod.h"
#include "bexpr.h"
#include "fetch.h"
#include "jwt.h"
#include "util.h"
#include "tap.h"

static char	 dir[64];
static const char *srcdir;

struct fake {
	pid_t			 pid;
	struct json_object	*info;
	const char		*url;
	const char		*ca;
};

static char *
slurp(const char *path)
{
	char	*buf;
	FILE	*f;
	long	 n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = xmalloc((size_t)n + 1);
	buf[fread(buf, 1, (size_t)n, f)] = '\0';
	fclose(f);
	return buf;
}

static int
fake_start(struct fake *f, const char *script)
{
	char		 prog[512], ready[128], *s;
	struct json_object *v;
	int		 i;

	snprintf(prog, sizeof(prog), "%s/tests/e2e/fakes/%s", srcdir, script);
	snprintf(ready, sizeof(ready), "%s/%s.ready", dir, script);
	if ((f->pid = fork()) == 0) {
		execl("/usr/bin/python3", "python3", prog, "--ready", ready,
		    (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if ((s = slurp(ready)) != NULL) {
			f->info = json_tokener_parse(s);
			free(s);
			json_object_object_get_ex(f->info, "url", &v);
			f->url = json_object_get_string(v);
			json_object_object_get_ex(f->info, "ca_pem", &v);
			f->ca = json_object_get_string(v);
			return 0;
		}
		usleep(50000);
	}
	return -1;
}

static void
fake_stop(struct fake *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
	}
	json_object_put(f->info);
}

/* POST path with a JSON body to a fake; returns the reply body. */
static char *
fake_post(struct fake *f, const char *path, const char *json)
{
	struct fetch_req	 r;
	struct fetch_resp	 resp;
	struct perr		 e;
	char			*url;

	memset(&r, 0, sizeof(r));
	xasprintf(&url, "%s%s", f->url, path);
	r.url = url;
	r.ca_pem = f->ca;
	r.method = "POST";
	r.body = json;
	r.body_len = strlen(json);
	if (fetch_do(&r, &resp, &e) == -1) {
		printf("# %s: %s\n", path, e.msg);
		free(url);
		return xstrdup("");
	}
	free(url);
	return resp.body;
}

static const char *
fake_str(struct fake *f, const char *a, const char *b)
{
	struct json_object	*v = f->info;

	json_object_object_get_ex(v, a, &v);
	if (b != NULL)
		json_object_object_get_ex(v, b, &v);
	return json_object_get_string(v);
}

/* Load a method from a JSON config; returns "" or the error. */
static const char *
load(const char *type, const char *cfg, struct authmethod **m, int flags)
{
	static struct perr	 e;
	struct json_object	*o = json_tokener_parse(cfg);
	struct authmethod	*tmp;
	int			 rc;

	perr_clear(&e);
	rc = authmethod_load("m", type, o, flags, m ? m : &tmp, &e);
	json_object_put(o);
	if (rc == 0 && m == NULL)
		authmethod_free(tmp);
	return rc == 0 ? "" : e.msg;
}

static char *
jstr(const char *s)
{
	struct json_object	*o = json_object_new_string(s);
	char			*r = xstrdup(json_object_to_json_string(o));

	json_object_put(o);
	return r;
}

static void
test_config(void)
{
	static const struct {
		const char	*type, *cfg, *want, *why;
	} cases[] = {
		{ "kubernetes", "{}", "Config.Host is required", "k8s: Host" },
		{ "kubernetes", "{\"Host\":\"https://k\"}",
		    "Config.CACert is required", "k8s: CACert" },
		{ "kubernetes", "{\"Host\":\"https://k\",\"CACert\":\"x\"}",
		    "error parsing kubernetes ca cert: data does not contain any "
		    "valid RSA or ECDSA certificates", "k8s: CACert must parse" },
		{ "kubernetes", "{\"Host\":\"h\",\"Bogus\":1,\"Alpha\":2}",
		    "error decoding config: 1 error(s) decoding:\n\n* '' has "
		    "invalid keys: Alpha, Bogus", "unknown keys, sorted" },
		{ "kubernetes", "{\"Host\":{}}", "error decoding config: 1 "
		    "error(s) decoding:\n\n* 'Host' expected type 'string', got "
		    "unconvertible type 'map[string]interface {}'",
		    "mapstructure's type error" },
		{ "jwt", "{}", "exactly one of 'JWTValidationPubKeys', 'JWKSURL', "
		    "or 'OIDCDiscoveryURL' must be set for type \"jwt\"",
		    "jwt: no key source" },
		{ "jwt", "{\"JWKSURL\":\"https://a\",\"OIDCDiscoveryURL\":"
		    "\"https://b\"}", "exactly one of 'JWTValidationPubKeys', "
		    "'JWKSURL', or 'OIDCDiscoveryURL' must be set for type \"jwt\"",
		    "jwt: two key sources" },
		{ "jwt", "{\"JWKSURL\":\"https://a\",\"OIDCClientID\":\"c\"}",
		    "'OIDCClientID' must not be set for type \"jwt\"",
		    "jwt: OIDC flow keys are refused" },
		{ "jwt", "{\"JWTValidationPubKeys\":[\"junk\"]}", "error parsing "
		    "public key JWTValidationPubKeys[0]: data does not contain any "
		    "valid RSA, ECDSA, or ED25519 public keys", "jwt: bad key" },
		{ "jwt", "{\"OIDCDiscoveryURL\":\"https://a\",\"JWKSCACert\":"
		    "\"x\"}", "'JWKSCACert' should not be set unless 'JWKSURL' is "
		    "set", "jwt: CA without its URL" },
		{ "jwt", "{\"JWKSURL\":\"https://a\",\"JWTSupportedAlgs\":"
		    "[\"HS256\"]}", "Invalid supported algorithm: HS256",
		    "jwt: HS256 is not an algorithm we support" },
		{ "jwt", "{\"JWKSURL\":\"https://a\",\"ClaimMappings\":{\"a\":"
		    "\"x\",\"b\":\"x\"}}", "ClaimMappings contains multiple "
		    "mappings for key \"x\"", "jwt: duplicate attribute" },
		{ "jwt", "{\"JWKSURL\":\"https://a\",\"ExpirationLeeway\":"
		    "\"bogus\"}", "error decoding config: 1 error(s) decoding:\n\n"
		    "* error decoding 'ExpirationLeeway': time: invalid duration "
		    "\"bogus\"", "jwt: durations are Go durations" },
		{ "jwt", "{\"JWKSURL\":\"https://a\",\"ExpirationLeeway\":"
		    "1e300}", "error decoding config: 1 error(s) decoding:\n\n"
		    "* error decoding 'ExpirationLeeway': 1e+300 overflows "
		    "time.Duration", "jwt: a number past int64 is refused, not "
		    "cast (UB)" },
		{ "jwt", "{\"JWKSURL\":\"https://a\",\"ClockSkewLeeway\":"
		    "-9.3e18}", "error decoding config: 1 error(s) decoding:\n\n"
		    "* error decoding 'ClockSkewLeeway': -9.3e+18 overflows "
		    "time.Duration", "jwt: a number below int64 is refused" },
		{ "jwt", "{\"JWKSURL\":\"https://a\",\"NotBeforeLeeway\":"
		    "\"9223372036854775808ns\"}", "error decoding config: 1 "
		    "error(s) decoding:\n\n* error decoding 'NotBeforeLeeway': "
		    "time: invalid duration \"9223372036854775808ns\"",
		    "jwt: a duration past int64 is Go's invalid duration" },
		{ "jwt", "{\"JWKSURL\":\"https://a\",\"ExpirationLeeway\":"
		    "\"10\"}", "error decoding config: 1 error(s) decoding:\n\n"
		    "* error decoding 'ExpirationLeeway': time: missing unit in "
		    "duration \"10\"", "jwt: Go's missing unit text" },
		{ "jwt", "{\"JWKSURL\":\"https://a\",\"ExpirationLeeway\":"
		    "\"2562047h47m16.854775807s\"}", "",
		    "jwt: the largest Go duration is accepted" },
		{ "jwt", "{\"JWKSURL\":\"https://a\",\"ExpirationLeeway\":\"2m\","
		    "\"JWTSupportedAlgs\":\"ES256\"}", "",
		    "jwt: a single string is a list of one (weak decoding)" },
		{ "oidc", "{}", "'OIDCDiscoveryURL' must be set for type \"oidc\"",
		    "oidc: discovery URL" },
		{ "oidc", "{\"OIDCDiscoveryURL\":\"https://a\",\"OIDCClientID\":"
		    "\"c\",\"OIDCClientSecret\":\"s\"}", "'AllowedRedirectURIs' "
		    "must be set for type \"oidc\"", "oidc: redirect URIs" },
		{ "oidc", "{\"OIDCDiscoveryURL\":\"https://a\",\"OIDCClientID\":"
		    "\"c\",\"OIDCClientSecret\":\"s\",\"AllowedRedirectURIs\":"
		    "[\"x\"],\"BoundIssuer\":\"i\"}", "'BoundIssuer' must not be "
		    "set for type \"oidc\"", "oidc: jwt-only keys are refused" },
		{ "aws-iam", "{}", "Type should be one of: [jwt kubernetes oidc]",
		    "unsupported type" },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_str(load(cases[i].type, cases[i].cfg, NULL, 0),
		    cases[i].want, "%s", cases[i].why);
}

static void
test_duration(void)
{
	static const struct {
		const char	*in;
		int64_t		 ns;
		const char	*err;	/* NULL: parses to ns */
	} cases[] = {
		{ "0", 0, NULL },
		{ "-0", 0, NULL },
		{ "1h30m", 5400000000000LL, NULL },
		{ "1.5s", 1500000000LL, NULL },
		{ ".5s", 500000000LL, NULL },
		{ "-1.5h", -5400000000000LL, NULL },
		{ "3\xc2\xb5s", 3000, NULL },
		{ "1.00000000000000000000000001s", 1000000000LL, NULL },
		{ "9223372036854775807ns", INT64_MAX, NULL },
		{ "-9223372036854775808ns", INT64_MIN, NULL },
		{ "2562047h47m16.854775807s", INT64_MAX, NULL },
		{ "9223372036854775808ns", 0,
		    "time: invalid duration \"9223372036854775808ns\"" },
		{ "2562048h", 0, "time: invalid duration \"2562048h\"" },
		{ "2562047h47m16.854775808s", 0,
		    "time: invalid duration \"2562047h47m16.854775808s\"" },
		{ "99999999999999999999s", 0,
		    "time: invalid duration \"99999999999999999999s\"" },
		{ "9999999999h9999999999h", 0,
		    "time: invalid duration \"9999999999h9999999999h\"" },
		{ "", 0, "time: invalid duration \"\"" },
		{ "-", 0, "time: invalid duration \"-\"" },
		{ ".s", 0, "time: invalid duration \".s\"" },
		{ "1", 0, "time: missing unit in duration \"1\"" },
		{ "1.5.5s", 0, "time: missing unit in duration \"1.5.5s\"" },
		{ "1e30s", 0, "time: unknown unit \"e\" in duration \"1e30s\"" },
		{ "1d", 0, "time: unknown unit \"d\" in duration \"1d\"" },
		{ "\x01s", 0, "time: invalid duration \"\\x01s\"" },
	};
	char	err[256];
	int64_t	ns;
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ns = 12345;
		rc = authmethod_duration(cases[i].in, &ns, err, sizeof(err));
		if (cases[i].err == NULL)
			ok(rc == 0 && ns == cases[i].ns, "duration \"%s\" is "
			    "%lld ns (got %lld, %s)", cases[i].in,
			    (long long)cases[i].ns, (long long)ns, err);
		else
			ok(rc == -1 && strcmp(err, cases[i].err) == 0,
			    "duration \"%s\" is refused as Go refuses it (%s)",
			    cases[i].in, err);
	}
}

static void
test_bind_name(void)
{
	static const struct {
		const char	*tmpl, *want;
	} cases[] = {
		{ "k8s-${serviceaccount.name}", "k8s-web" },
		{ "${ serviceaccount.name }-${serviceaccount.namespace}",
		    "web-default" },
		{ "Plain-{{name}}", "Plain-{{name}}" },
		{ "lit-$${x}", "lit-${x}" },
		{ "${serviceaccount.nope}", "error interpreting template: 1:3: "
		    "unknown variable accessed: serviceaccount.nope" },
		{ "a-${", "error interpreting template: 1:5: expected \"}\" but "
		    "found end of string" },
		{ "${upper(serviceaccount.name)}", "error interpreting template: "
		    "1:3: only variable interpolation is supported" },
	};
	struct json_object	*vars;
	struct perr		 e;
	char			*out;
	size_t			 i;

	vars = json_tokener_parse("{\"serviceaccount.name\":\"Web\","
	    "\"serviceaccount.namespace\":\"default\"}");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (authmethod_bind_name(cases[i].tmpl, vars, &out, &e) == 0) {
			is_str(out, cases[i].want, "BindName %s", cases[i].tmpl);
			free(out);
		} else
			is_str(e.msg, cases[i].want, "BindName %s fails",
			    cases[i].tmpl);
	}
	json_object_put(vars);
}

static void
test_redirects(void)
{
	struct authmethod	*m;

	if (load("oidc", "{\"OIDCDiscoveryURL\":\"https://a\",\"OIDCClientID\":"
	    "\"c\",\"OIDCClientSecret\":\"s\",\"AllowedRedirectURIs\":["
	    "\"https://app.example/cb\",\"http://localhost:8550/oidc/callback\","
	    "\"http://[::1]:1/cb\"]}", &m, 0)[0] != '\0') {
		ok(0, "oidc method loads");
		return;
	}
	ok(authmethod_redirect_allowed(m, "https://app.example/cb"),
	    "an exact redirect URI is allowed");
	ok(!authmethod_redirect_allowed(m, "https://app.example:444/cb"),
	    "a non-loopback port must match");
	ok(authmethod_redirect_allowed(m, "http://localhost:9999/oidc/callback"),
	    "localhost: the port is ignored");
	ok(authmethod_redirect_allowed(m, "http://[::1]:7/cb"),
	    "::1: the port is ignored");
	ok(!authmethod_redirect_allowed(m, "http://localhost:1/other"),
	    "localhost: the path must match");
	ok(!authmethod_redirect_allowed(m, "http://127.0.0.1:8550/oidc/callback"),
	    "127.0.0.1 is not localhost");
	authmethod_free(m);
}

static void
test_k8s(struct fake *k)
{
	static const struct {
		const char	*tok, *want, *name;
	} cases[] = {
		{ "valid", "", "web" },
		{ "annotated", "", "Override-Svc" },
		{ "rejected", "lookup failed: service account jwt not valid", "" },
		{ "error", "lookup failed: token has expired", "" },
		{ "notsa", "lookup failed: username returned is not a service "
		    "account", "" },
	};
	struct authmethod		*m, *bad;
	struct authmethod_identity	*id;
	struct json_object		*v;
	struct bexpr			*bx;
	struct perr			 e;
	char				*cfg, *ca, *sa, *bn;
	size_t				 i;

	ca = jstr(k->ca);
	sa = jstr(fake_str(k, "reviewer_jwt", NULL));
	xasprintf(&cfg, "{\"Host\":\"%s\",\"CACert\":%s,"
	    "\"ServiceAccountJWT\":%s}", k->url, ca, sa);
	is_str(load("kubernetes", cfg, &m, 0), "", "a kubernetes method loads");
	free(cfg);
	if (m == NULL)
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		perr_clear(&e);
		if (authmethod_verify(m, fake_str(k, "tokens", cases[i].tok),
		    &id, &e) == 0) {
			json_object_object_get_ex(id->vars,
			    "serviceaccount.name", &v);
			is_str(json_object_get_string(v), cases[i].name,
			    "TokenReview %s: name", cases[i].tok);
			is_str("", cases[i].want, "TokenReview %s accepted",
			    cases[i].tok);
			if (i == 0) {
				ok(bexpr_compile_selector("serviceaccount."
				    "namespace==default and serviceaccount.name"
				    "!=vault", authmethod_selector_fields(
				    AM_KUBERNETES), &bx, &e) == 0 &&
				    bexpr_match(bx, id->fields),
				    "the identity matches a k8s selector");
				bexpr_free(bx);
				ok(authmethod_bind_name("k8s-${serviceaccount."
				    "name}", id->vars, &bn, &e) == 0,
				    "BindName interpolates the identity");
				is_str(bn, "k8s-web", "into k8s-web");
				free(bn);
			}
			authmethod_identity_free(id);
		} else {
			is_str(e.msg, cases[i].want, "TokenReview %s refused",
			    cases[i].tok);
			is_int(e.status, 500, "with status 500");
		}
	}
	ok(authmethod_verify(m, "not-a-jwt", &id, &e) == -1, "a bearer that "
	    "is not a JWT is refused before TokenReview");
	is_str(e.msg, "failed to parse and validate JWT: square/go-jose: "
	    "compact JWS format must have three parts", "with go-jose v2's text");

	/* wrong reviewer credentials */
	xasprintf(&cfg, "{\"Host\":\"%s\",\"CACert\":%s,"
	    "\"ServiceAccountJWT\":\"a.b.c\"}", k->url, ca);
	if (load("kubernetes", cfg, &bad, 0)[0] == '\0') {
		ok(authmethod_verify(bad, fake_str(k, "tokens", "valid"), &id,
		    &e) == -1, "a wrong ServiceAccountJWT is refused");
		is_str(e.msg, "Unauthorized", "with the API server's Status");
		authmethod_free(bad);
	}
	free(cfg);
	/* a CA that does not vouch for the server */
	xasprintf(&cfg, "{\"Host\":\"%s\",\"CACert\":%s,"
	    "\"ServiceAccountJWT\":%s}", k->url, ca, sa);
	free(cfg);

	free(fake_post(k, "/_fake/config", "{\"mode\":\"slow\",\"delay\":3}"));
	ok(authmethod_verify(m, fake_str(k, "tokens", "valid"), &id, &e) == -1,
	    "a slow API server times out");
	ok(strstr(e.msg, "context deadline exceeded") != NULL, "(%s)", e.msg);
	free(fake_post(k, "/_fake/config", "{\"mode\":\"huge\"}"));
	ok(authmethod_verify(m, fake_str(k, "tokens", "valid"), &id, &e) == -1,
	    "a huge TokenReview answer is cut off");
	ok(strstr(e.msg, "response body larger than") != NULL, "(%s)", e.msg);
	free(fake_post(k, "/_fake/config", "{\"mode\":\"ok\"}"));
	authmethod_free(m);
	free(ca);
	free(sa);
}

static char *
mint(struct fake *o, const char *alg, const char *extra)
{
	struct json_object	*r, *v;
	char			*body, *out, *req;
	time_t			 now = time(NULL);

	xasprintf(&req, "{\"alg\":\"%s\",\"claims\":{\"iss\":\"%s\","
	    "\"sub\":\"alice\",\"iat\":%lld,\"exp\":%lld,\"team\":\"Payments\","
	    "\"groups\":[\"admins\",\"dev\"],\"nested\":{\"id\":42}%s}}",
	    alg, o->url, (long long)now, (long long)now + 300, extra);
	body = fake_post(o, "/_fake/mint", req);
	free(req);
	r = json_tokener_parse(body);
	free(body);
	json_object_object_get_ex(r, "token", &v);
	out = xstrdup(json_object_get_string(v) ? json_object_get_string(v) :
	    "");
	json_object_put(r);
	return out;
}

/* A number claim past the int64 range is unconvertible, not cast (UB). */
static void
test_jwt_huge_number_claim(struct fake *o)
{
	struct authmethod		*m = NULL;
	struct authmethod_identity	*id = NULL;
	struct perr			 e;
	char				*cfg, *ca, *t;

	perr_clear(&e);
	ca = jstr(o->ca);
	xasprintf(&cfg, "{\"JWKSURL\":\"%s/jwks\",\"JWKSCACert\":%s,"
	    "\"ClaimMappings\":{\"huge\":\"huge\"},\"JWTSupportedAlgs\":"
	    "[\"ES256\"]}", o->url, ca);
	is_str(load("jwt", cfg, &m, AM_LOAD_REMOTE), "", "a JWKS method loads");
	free(cfg);
	free(ca);
	if (m == NULL)
		return;
	t = mint(o, "ES256", ",\"huge\":1e300");
	ok(authmethod_verify(m, t, &id, &e) == -1 && strcmp(e.msg,
	    "error converting claim 'huge' to string from unknown type "
	    "float64") == 0, "a claim of 1e300 is refused (%s)", e.msg);
	authmethod_identity_free(id);
	free(t);
	t = mint(o, "ES256", ",\"huge\":1e15");
	perr_clear(&e);
	ok(authmethod_verify(m, t, &id, &e) == 0, "a claim of 1e15 maps "
	    "(%s)", e.msg);
	authmethod_identity_free(id);
	free(t);
	authmethod_free(m);
}

static void
test_jwt_remote(struct fake *o)
{
	struct authmethod		*m;
	struct authmethod_identity	*id;
	struct json_object		*v;
	struct perr			 e;
	char				*cfg, *ca, *t;

	memset(&e, 0, sizeof(e));
	ca = jstr(o->ca);
	xasprintf(&cfg, "{\"JWKSURL\":\"%s/jwks\",\"JWKSCACert\":%s,"
	    "\"BoundIssuer\":\"%s\",\"ClaimMappings\":{\"team\":\"team\","
	    "\"/nested/id\":\"id\"},\"ListClaimMappings\":{\"groups\":"
	    "\"groups\"},\"JWTSupportedAlgs\":[\"RS256\",\"ES256\"]}",
	    o->url, ca, o->url);
	is_str(load("jwt", cfg, &m, AM_LOAD_REMOTE), "", "a JWKS method loads "
	    "(and fetches the JWKS)");
	free(cfg);
	if (m != NULL) {
		t = mint(o, "ES256", "");
		ok(authmethod_verify(m, t, &id, &e) == 0, "an ES256 token "
		    "verifies against the JWKS (%s)", e.msg);
		free(t);
		if (id != NULL) {
			json_object_object_get_ex(id->vars, "value.team", &v);
			is_str(json_object_get_string(v), "Payments",
			    "value.team is a variable");
			json_object_object_get_ex(id->vars, "value.id", &v);
			is_str(json_object_get_string(v), "42",
			    "a JSON pointer mapping, number stringified");
			is_str(json_object_to_json_string_ext(id->fields,
			    JSON_C_TO_STRING_PLAIN), "{\"value\":{\"team\":"
			    "\"Payments\",\"id\":\"42\"},\"list\":{\"groups\":"
			    "[\"admins\",\"dev\"]}}", "the selector fields");
			authmethod_identity_free(id);
		}
		t = mint(o, "RS256", ",\"aud\":\"x\"");
		ok(authmethod_verify(m, t, &id, &e) == -1, "an aud without "
		    "BoundAudiences is refused");
		free(t);
		free(fake_post(o, "/_fake/config", "{\"mode\":\"down\"}"));
		t = mint(o, "RS256", "");
		ok(authmethod_verify(m, t, &id, &e) == 0, "the cached JWKS "
		    "outlives a provider outage");
		authmethod_identity_free(id);
		free(t);
		free(fake_post(o, "/_fake/config", "{\"mode\":\"ok\"}"));
		authmethod_free(m);
	}
	xasprintf(&cfg, "{\"OIDCDiscoveryURL\":\"%s\",\"OIDCDiscoveryCACert\":"
	    "%s,\"ClaimMappings\":{\"team\":\"team\"}}", o->url, ca);
	is_str(load("jwt", cfg, &m, AM_LOAD_REMOTE), "", "a discovery method "
	    "loads");
	free(cfg);
	if (m != NULL) {
		t = mint(o, "RS256", "");
		ok(authmethod_verify(m, t, &id, &e) == 0, "an RS256 token "
		    "verifies through discovery (%s)", e.msg);
		authmethod_identity_free(id);
		free(t);
		t = mint(o, "RS256", ",\"iss\":\"https://evil\"");
		ok(authmethod_verify(m, t, &id, &e) == -1 && strstr(e.msg,
		    "issued by a different provider") != NULL,
		    "another issuer is refused (%s)", e.msg);
		free(t);
		authmethod_free(m);
	}
	xasprintf(&cfg, "{\"OIDCDiscoveryURL\":\"%s\"}", o->url);
	ok(strstr(load("jwt", cfg, NULL, AM_LOAD_REMOTE), "error checking "
	    "OIDCDiscoveryURL: ") != NULL, "without the CA the provider is "
	    "not trusted");
	free(cfg);
	free(ca);
}

static void
test_oidc(struct fake *o)
{
	struct authmethod		*m;
	struct authmethod_identity	*id;
	struct json_object		*r, *v;
	struct fetch_req		 fr;
	struct fetch_resp		 resp;
	struct perr			 e;
	char				 state[AM_STATE_LEN + 1];
	char				 nonce[AM_STATE_LEN + 1];
	char				*cfg, *ca, *url, *code;
	const char			*redir = "http://localhost:8550/cb";
	static const char *const	 modes[][2] = {
		{ "bad_nonce", "Token verification failed: Invalid ID token "
		    "nonce." },
		{ "omit", "Token verification failed: No id_token found in "
		    "response." },
		{ "wrong_aud", "Token verification failed: error validating "
		    "signature: oidc: expected audience \"portcullis\" got "
		    "\"someone-else\"" },
		{ "expired", "Token verification failed: error validating "
		    "signature: oidc: token is expired" },
		{ "bad_sig", "Token verification failed: error validating "
		    "signature: failed to verify id token signature" },
	};
	size_t				 i;

	memset(&e, 0, sizeof(e));
	ca = jstr(o->ca);
	xasprintf(&cfg, "{\"OIDCDiscoveryURL\":\"%s\",\"OIDCDiscoveryCACert\":"
	    "%s,\"OIDCClientID\":\"%s\",\"OIDCClientSecret\":\"%s\","
	    "\"AllowedRedirectURIs\":[\"http://localhost/cb\"],\"OIDCScopes\":"
	    "[\"email\"],\"ClaimMappings\":{\"team\":\"team\",\"department\":"
	    "\"dept\"},\"ListClaimMappings\":{\"groups\":\"groups\"}}", o->url,
	    ca, fake_str(o, "client_id", NULL), fake_str(o, "client_secret",
	    NULL));
	is_str(load("oidc", cfg, &m, AM_LOAD_REMOTE), "", "an oidc method "
	    "loads");
	free(cfg);
	free(ca);
	if (m == NULL)
		return;
	ok(authmethod_oidc_auth_url(m, "https://evil/cb", "s", "n", &url, &e)
	    == -1, "an unlisted redirect URI is refused");
	is_str(e.msg, "unauthorized redirect_uri: https://evil/cb", "with "
	    "Consul's text");
	ok(authmethod_oidc_auth_url(m, "", "s", "n", &url, &e) == -1 &&
	    strcmp(e.msg, "missing redirect_uri") == 0, "an empty one too");
	ok(authmethod_oidc_callback(m, "", redir, "n", &id, &e) == -1 &&
	    strcmp(e.msg, "Provider login failed: OAuth code parameter not "
	    "provided") == 0, "an empty code is refused first");

	for (i = 0; i <= sizeof(modes) / sizeof(modes[0]); i++) {
		if (i > 0) {
			xasprintf(&cfg, "{\"id_token\":\"%s\"}", modes[i - 1][0]);
			free(fake_post(o, "/_fake/config", cfg));
			free(cfg);
		}
		authmethod_oidc_state(state, nonce);
		if (authmethod_oidc_auth_url(m, redir, state, nonce, &url, &e)
		    == -1) {
			ok(0, "auth URL: %s", e.msg);
			continue;
		}
		if (i == 0) {
			xasprintf(&cfg, "%s/authorize?client_id=portcullis&"
			    "nonce=%s&redirect_uri=http%%3A%%2F%%2Flocalhost%%3A"
			    "8550%%2Fcb&response_type=code&scope=openid+email&"
			    "state=%s", o->url, nonce, state);
			is_str(url, cfg, "the auth URL has Consul's parameters "
			    "in Go's order");
			free(cfg);
		}
		/* the browser's visit to the provider */
		memset(&fr, 0, sizeof(fr));
		fr.url = url;
		fr.ca_pem = o->ca;
		if (fetch_do(&fr, &resp, &e) == -1 || resp.status != 302) {
			ok(0, "authorize: %s", e.msg);
			free(url);
			continue;
		}
		free(url);
		r = json_tokener_parse(resp.body);
		fetch_resp_clear(&resp);
		json_object_object_get_ex(r, "code", &v);
		code = xstrdup(json_object_get_string(v));
		json_object_put(r);
		perr_clear(&e);
		if (i == 0) {
			ok(authmethod_oidc_callback(m, code, redir, nonce, &id,
			    &e) == 0, "the code exchange logs in (%s)", e.msg);
			if (id != NULL) {
				is_str(json_object_to_json_string_ext(
				    id->fields, JSON_C_TO_STRING_PLAIN),
				    "{\"value\":{\"team\":\"Payments\",\"dept\":"
				    "\"Engineering\"},\"list\":{\"groups\":"
				    "[\"admins\",\"dev\"]}}", "ID token and "
				    "userinfo claims are mapped");
				authmethod_identity_free(id);
			}
			ok(authmethod_oidc_callback(m, code, redir, nonce, &id,
			    &e) == -1 && strstr(e.msg, "Provider login "
			    "failed: Error exchanging oidc code") != NULL,
			    "a code is single-use (%s)", e.msg);
		} else {
			ok(authmethod_oidc_callback(m, code, redir, nonce, &id,
			    &e) == -1 && strncmp(e.msg, modes[i - 1][1],
			    strlen(modes[i - 1][1])) == 0,
			    "%s is refused (%s)", modes[i - 1][0], e.msg);
		}
		free(code);
	}
	free(fake_post(o, "/_fake/config", "{\"id_token\":\"\"}"));
	authmethod_free(m);
}

static void
test_fetch(struct fake *o)
{
	struct fetch_req	 r;
	struct fetch_resp	 resp;
	struct fetch_cache	*c;
	struct perr		 e;
	char			*url, *hits;

	memset(&r, 0, sizeof(r));
	xasprintf(&url, "%s/jwks", o->url);
	r.url = url;
	ok(fetch_do(&r, &resp, &e) == -1, "the system CAs do not trust the "
	    "fake's CA (%s)", e.msg);
	r.ca_pem = o->ca;
	r.max_bytes = 100;
	ok(fetch_do(&r, &resp, &e) == -1 && strstr(e.msg, "larger than 100") !=
	    NULL, "the response cap holds (%s)", e.msg);
	r.max_bytes = 0;
	r.url = "file:///etc/passwd";
	ok(fetch_do(&r, &resp, &e) == -1, "only http and https");
	r.url = "http://127.0.0.1:1/";
	r.connect_ms = 500;
	ok(fetch_do(&r, &resp, &e) == -1 && e.status == 500,
	    "a closed port fails with 500");
	r.url = url;
	c = fetch_cache_new(60000, 2);
	ok(fetch_cached(c, &r, &resp, &e) == 0 && resp.status == 200,
	    "the cache fetches");
	fetch_resp_clear(&resp);
	free(fake_post(o, "/_fake/config", "{\"mode\":\"down\"}"));
	ok(fetch_cached(c, &r, &resp, &e) == 0 && resp.status == 200,
	    "then answers from memory");
	fetch_resp_clear(&resp);
	fetch_cache_forget(c, url);
	ok(fetch_cached(c, &r, &resp, &e) == 0 && resp.status == 503,
	    "forgotten, it asks again (and does not keep a 503)");
	fetch_resp_clear(&resp);
	free(fake_post(o, "/_fake/config", "{\"mode\":\"ok\"}"));
	fetch_cache_free(c);
	hits = fake_post(o, "/_fake/hits", "{}");
	ok(strstr(hits, "\"/jwks\"") != NULL, "the provider saw the requests");
	free(hits);
	free(url);
}

int
main(void)
{
	struct fake		 k = { 0, NULL, NULL, NULL };
	struct fake		 o = { 0, NULL, NULL, NULL };
	struct authmethod_net	 n = { 2000, 1500, 256 * 1024, 60000 };
	char			 cmd[128];

	srcdir = getenv("srcdir") ? getenv("srcdir") : ".";
	snprintf(dir, sizeof(dir), "/tmp/test_authmethod.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 2;
	authmethod_set_net(&n);
	test_config();
	test_duration();
	test_bind_name();
	test_redirects();
	/* A missing dependency must fail the suite, never skip it. */
	if (fake_start(&k, "fake_k8s.py") == -1 ||
	    fake_start(&o, "fake_oidc.py") == -1) {
		ok(0, "the fake Kubernetes and OIDC servers start "
		    "(python3-cryptography?)");
	} else {
		test_fetch(&o);
		test_k8s(&k);
		test_jwt_remote(&o);
		test_jwt_huge_number_claim(&o);
		test_oidc(&o);
	}
	fake_stop(&k);
	fake_stop(&o);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
