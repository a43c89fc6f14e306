/*
 * authmethod.c -- the auth method types behind /v1/acl/auth-method,
 * /v1/acl/login and /v1/acl/oidc/{auth-url,callback}: Config decoding
 * and validation, bearer token verification into an identity (the
 * selector fields and BindName variables of the binding rules), BindName
 * interpolation, and the OIDC authorization-code helpers.  No store
 * access: the endpoint files own auth methods, rules, states and tokens.
 *
 * Consul sources followed (hashicorp/consul):
 *  - agent/consul/authmethod/kubeauth/k8s.go: Config (Host, CACert,
 *    ServiceAccountJWT), its errors, ValidateLogin (TokenReview, the
 *    "system:serviceaccount:<ns>:<name>" username, the
 *    consul.hashicorp.com/service-name annotation override) and the
 *    serviceaccount.{namespace,name,uid} fields.  It uses go-jose v2, so
 *    its JWT errors read "square/go-jose: ...".
 *  - agent/consul/authmethod/ssoauth/sso.go and
 *    internal/go-sso/oidcauth/{config,jwt,oidc,oidcjwt,util}.go: the
 *    jwt/oidc Config and Validate() (order and texts), verifyVanillaJWT,
 *    verifyOIDCToken, extractClaims, validRedirect, the auth-code flow.
 *    Identity: value.<attr> (selector and variable), list.<attr>
 *    (selector only), pre-filled empty as NewIdentity() does.
 *  - agent/consul/authmethod/authmethods.go ParseConfig: mapstructure
 *    with WeaklyTypedInput, ErrorUnused and the duration hook, hence
 *    "error decoding config: N error(s) decoding:\n\n* ...".
 *  - lib/template/hil.go + agent/consul/auth/binder.go: BindName is HIL
 *    with only ${var} interpolation, values lower-cased (spec §6).
 *
 * Beyond Consul: JWTSupportedAlgs, when set, is enforced for static
 * keys and JWKS too (Consul's "TODO(sso)"), and may name EdDSA.  When it
 * is not set, static keys and JWKS accept any asymmetric algorithm that
 * suits the key (as Consul does), while discovery and the OIDC flow take
 * the provider's advertised algorithms, else RS256 (as go-oidc does).
 *
 * Every failure is status 500 with Consul's text: the endpoints prefix
 * "Invalid Auth Method: " on writes, and return it as is on login.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <json-c/json.h>

#include "portcullis.h"
#include "authmethod.h"
#include "bexpr.h"
#include "fetch.h"
#include "json.h"
#include "jwt.h"
#include "util.h"

#define SA_ANNOTATION	"consul.hashicorp.com/service-name"
#define TR_PATH		"/apis/authentication.k8s.io/v1/tokenreviews"
#define WELL_KNOWN	"/.well-known/openid-configuration"
#define CACHE_ENTRIES	64

struct strlist {
	char		**v;
	size_t		  n;
};

struct authmethod {
	enum authmethod_type	 type;
	char			*name;
	/* kubernetes */
	char			*host;
	char			*ca_cert;
	char			*sa_jwt;
	/* jwt, oidc */
	struct strlist		 pubkeys;
	struct strlist		 audiences;
	struct strlist		 algs_s;
	struct strlist		 scopes;
	struct strlist		 acr_values;
	struct strlist		 redirects;
	char			*jwks_url;
	char			*jwks_ca;
	char			*disc_url;
	char			*disc_ca;
	char			*client_id;
	char			*client_secret;
	char			*bound_issuer;
	int			 verbose;
	int64_t			 exp_leeway;	/* nanoseconds */
	int64_t			 nbf_leeway;
	int64_t			 skew_leeway;
	struct json_object	*claim_map;	/* claim -> attribute */
	struct json_object	*list_claim_map;
	unsigned		 algs;		/* 0: not configured */
	struct jwt_keyset	*static_keys;
};

/* An OIDC discovery document, the parts we use. */
struct disc {
	char		*issuer;
	char		*auth_ep;
	char		*token_ep;
	char		*jwks_uri;
	char		*userinfo_ep;
	unsigned	 algs;
};

static const char *const type_names[AM__MAX] = {
	[AM_KUBERNETES] = "kubernetes",
	[AM_JWT] = "jwt",
	[AM_OIDC] = "oidc",
};

static struct authmethod_net net = {
	FETCH_CONNECT_MS, FETCH_TIMEOUT_MS, FETCH_MAXBYTES, 5 * 60 * 1000
};
static struct fetch_cache	*cache;
static pthread_once_t		 cache_once = PTHREAD_ONCE_INIT;

static void
cache_init(void)
{
	cache = fetch_cache_new(net.cache_ttl_ms, CACHE_ENTRIES);
}

/* ------------------------------------------------------------------ */
/* Config decoding (mapstructure, weakly typed, unknown keys refused) */

enum ctype { CT_STRING, CT_STRLIST, CT_MAP, CT_DURATION, CT_BOOL };

#define K8S	(1u << AM_KUBERNETES)
#define SSO	((1u << AM_JWT) | (1u << AM_OIDC))

static const struct cfield {
	const char	*name;
	enum ctype	 type;
	size_t		 off;
	unsigned	 types;
} cfields[] = {
	{ "AllowedRedirectURIs",	CT_STRLIST,	offsetof(struct authmethod, redirects),		SSO },
	{ "BoundAudiences",		CT_STRLIST,	offsetof(struct authmethod, audiences),		SSO },
	{ "BoundIssuer",		CT_STRING,	offsetof(struct authmethod, bound_issuer),	SSO },
	{ "CACert",			CT_STRING,	offsetof(struct authmethod, ca_cert),		K8S },
	{ "ClaimMappings",		CT_MAP,		offsetof(struct authmethod, claim_map),		SSO },
	{ "ClockSkewLeeway",		CT_DURATION,	offsetof(struct authmethod, skew_leeway),	SSO },
	{ "ExpirationLeeway",		CT_DURATION,	offsetof(struct authmethod, exp_leeway),	SSO },
	{ "Host",			CT_STRING,	offsetof(struct authmethod, host),		K8S },
	{ "JWKSCACert",			CT_STRING,	offsetof(struct authmethod, jwks_ca),		SSO },
	{ "JWKSURL",			CT_STRING,	offsetof(struct authmethod, jwks_url),		SSO },
	{ "JWTSupportedAlgs",		CT_STRLIST,	offsetof(struct authmethod, algs_s),		SSO },
	{ "JWTValidationPubKeys",	CT_STRLIST,	offsetof(struct authmethod, pubkeys),		SSO },
	{ "ListClaimMappings",		CT_MAP,		offsetof(struct authmethod, list_claim_map),	SSO },
	{ "NotBeforeLeeway",		CT_DURATION,	offsetof(struct authmethod, nbf_leeway),	SSO },
	{ "OIDCACRValues",		CT_STRLIST,	offsetof(struct authmethod, acr_values),	SSO },
	{ "OIDCClientID",		CT_STRING,	offsetof(struct authmethod, client_id),		SSO },
	{ "OIDCClientSecret",		CT_STRING,	offsetof(struct authmethod, client_secret),	SSO },
	{ "OIDCDiscoveryCACert",	CT_STRING,	offsetof(struct authmethod, disc_ca),		SSO },
	{ "OIDCDiscoveryURL",		CT_STRING,	offsetof(struct authmethod, disc_url),		SSO },
	{ "OIDCScopes",			CT_STRLIST,	offsetof(struct authmethod, scopes),		SSO },
	{ "ServiceAccountJWT",		CT_STRING,	offsetof(struct authmethod, sa_jwt),		K8S },
	{ "VerboseOIDCLogging",		CT_BOOL,	offsetof(struct authmethod, verbose),		SSO },
};

struct errs {
	char	*v[32];
	size_t	 n;
};

static void
errs_add(struct errs *es, const char *fmt, ...) PC_PRINTF(2, 3);

static void
errs_add(struct errs *es, const char *fmt, ...)
{
	va_list	ap;
	char	buf[300];

	if (es->n >= sizeof(es->v) / sizeof(es->v[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	es->v[es->n++] = xstrdup(buf);
}

/* ---------------------------------------------------------------- */
/* Durations, exactly as Go's time.ParseDuration.                     */

#define DUR_LIMIT	((uint64_t)1 << 63)

/* Go's time.quote: "s" with \xNN for bytes outside printable ASCII. */
static void
go_quote(const char *s, char *out, size_t outlen)
{
	size_t	n = 0;

	if (outlen < 3)
		return;
	out[n++] = '"';
	for (; *s != '\0' && n + 5 < outlen; s++) {
		unsigned char	c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x80)
			n += (size_t)snprintf(out + n, outlen - n, "\\x%02x", c);
		else {
			if (c == '"' || c == '\\')
				out[n++] = '\\';
			out[n++] = (char)c;
		}
	}
	out[n++] = '"';
	out[n] = '\0';
}

/*
 * Parse s as Go's time.ParseDuration does, in integers (no rounding
 * through a double, no overflow: a value past the int64 range is
 * refused as Go refuses it).  Returns 0 with *ns, or -1 with err set to
 * Go's text: time: invalid duration "x", time: missing unit in
 * duration "1", time: unknown unit "x" in duration "1x".
 */
int
authmethod_duration(const char *s, int64_t *ns, char *err, size_t errlen)
{
	static const struct {
		const char	*name;
		uint64_t	 ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 },
		{ "\xce\xbcs", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
		{ "m", 60 * (uint64_t)1000000000 },
		{ "h", 3600 * (uint64_t)1000000000 },
	};
	const char	*orig = s, *u;
	char		 q[160], qu[64];
	uint64_t	 d = 0, v, f, unit;
	double		 scale;
	size_t		 i, ul;
	int		 neg = 0, pre, post, over;

	go_quote(orig, q, sizeof(q));
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (*s == '\0')
		goto invalid;
	while (*s != '\0') {
		if (*s != '.' && !isdigit((unsigned char)*s))
			goto invalid;
		/* [0-9]* */
		for (v = 0, pre = 0; isdigit((unsigned char)*s); s++, pre = 1) {
			if (v > DUR_LIMIT / 10)
				goto invalid;
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > DUR_LIMIT)
				goto invalid;
		}
		/* (\.[0-9]*)? : digits past what fits are dropped, as Go */
		f = 0;
		scale = 1;
		post = 0;
		if (*s == '.') {
			for (s++, over = 0; isdigit((unsigned char)*s); s++) {
				post = 1;
				if (over)
					continue;
				if (f > (DUR_LIMIT - 1) / 10 ||
				    f * 10 + (uint64_t)(*s - '0') > DUR_LIMIT) {
					over = 1;
					continue;
				}
				f = f * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
		}
		if (!pre && !post)
			goto invalid;
		for (u = s; *s != '\0' && *s != '.' &&
		    !isdigit((unsigned char)*s); s++)
			;
		ul = (size_t)(s - u);
		if (ul == 0) {
			snprintf(err, errlen, "time: missing unit in duration %s",
			    q);
			return -1;
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].name) == ul &&
			    strncmp(units[i].name, u, ul) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0])) {
			char	uname[48];

			snprintf(uname, sizeof(uname), "%.*s",
			    (int)(ul < 40 ? ul : 40), u);
			go_quote(uname, qu, sizeof(qu));
			snprintf(err, errlen, "time: unknown unit %s in "
			    "duration %s", qu, q);
			return -1;
		}
		unit = units[i].ns;
		if (v > DUR_LIMIT / unit)
			goto invalid;
		v *= unit;
		if (f > 0) {
			/* f < 2^63 and unit / scale <= unit: in range */
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > DUR_LIMIT)
				goto invalid;
		}
		d += v;
		if (d > DUR_LIMIT)
			goto invalid;
	}
	if (neg) {
		*ns = d == DUR_LIMIT ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > DUR_LIMIT - 1)
		goto invalid;
	*ns = (int64_t)d;
	return 0;
invalid:
	snprintf(err, errlen, "time: invalid duration %s", q);
	return -1;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Go's reflect names for what encoding/json produces. */
static const char *
gotype(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return "bool";
	case json_type_int:
	case json_type_double:
		return "float64";
	case json_type_string:
		return "string";
	case json_type_array:
		return "[]interface {}";
	case json_type_object:
		return "map[string]interface {}";
	default:
		return "<nil>";
	}
}

/* mapstructure's weak string conversion; NULL when impossible. */
static char *
weak_string(struct json_object *v)
{
	char	*s;

	switch (json_object_get_type(v)) {
	case json_type_string:
		return xstrdup(json_object_get_string(v));
	case json_type_boolean:
		return xstrdup(json_object_get_boolean(v) ? "1" : "0");
	case json_type_int:
		xasprintf(&s, "%lld", (long long)json_object_get_int64(v));
		return s;
	case json_type_double:
		xasprintf(&s, "%g", json_object_get_double(v));
		return s;
	default:
		return NULL;
	}
}

static void
strlist_free(struct strlist *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
decode_field(struct authmethod *m, const struct cfield *f,
    struct json_object *v, struct errs *es)
{
	void		*dst = (char *)m + f->off;
	struct strlist	*l;
	struct json_object *map;
	char		*s, derr[256];
	size_t		 i, n;
	int64_t		 ns;
	double		 d;

	if (v == NULL)
		return;
	switch (f->type) {
	case CT_STRING:
		if ((s = weak_string(v)) == NULL) {
			errs_add(es, "'%s' expected type 'string', got "
			    "unconvertible type '%s'", f->name, gotype(v));
			return;
		}
		free(*(char **)dst);
		*(char **)dst = s;
		return;
	case CT_STRLIST:
		l = dst;
		strlist_free(l);
		if (!json_object_is_type(v, json_type_array)) {
			/* WeaklyTypedInput: a single value is a list of one */
			if ((s = weak_string(v)) == NULL) {
				errs_add(es, "'%s': source data must be an "
				    "array or slice, got %s", f->name,
				    json_object_is_type(v, json_type_object) ?
				    "map" : gotype(v));
				return;
			}
			l->v = xcalloc(1, sizeof(char *));
			l->v[l->n++] = s;
			return;
		}
		n = json_object_array_length(v);
		l->v = xcalloc(n + 1, sizeof(char *));
		for (i = 0; i < n; i++) {
			s = weak_string(json_object_array_get_idx(v, i));
			if (s == NULL) {
				errs_add(es, "'%s[%zu]' expected type 'string', "
				    "got unconvertible type '%s'", f->name, i,
				    gotype(json_object_array_get_idx(v, i)));
				continue;
			}
			l->v[l->n++] = s;
		}
		return;
	case CT_MAP:
		if (!json_object_is_type(v, json_type_object)) {
			errs_add(es, "'%s' expected a map, got '%s'", f->name,
			    json_object_is_type(v, json_type_array) ? "slice" :
			    json_object_is_type(v, json_type_double) ||
			    json_object_is_type(v, json_type_int) ? "float64" :
			    gotype(v));
			return;
		}
		map = json_object_new_object();
		json_object_object_foreach(v, k, val) {
			if ((s = weak_string(val)) == NULL) {
				errs_add(es, "'%s[%s]' expected type 'string', "
				    "got unconvertible type '%s'", f->name, k,
				    gotype(val));
				continue;
			}
			json_object_object_add(map, k,
			    json_object_new_string(s));
			free(s);
		}
		json_object_put(*(struct json_object **)dst);
		*(struct json_object **)dst = map;
		return;
	case CT_DURATION:
		switch (json_object_get_type(v)) {
		case json_type_string:
			if (authmethod_duration(json_object_get_string(v), &ns,
			    derr, sizeof(derr)) == -1) {
				errs_add(es, "error decoding '%s': %s", f->name,
				    derr);
				return;
			}
			break;
		case json_type_int:
			ns = json_object_get_int64(v);
			break;
		case json_type_double:
			/*
			 * Go converts with int64(f), whose result out of
			 * range is unspecified (and UB in C): refused.
			 */
			d = json_object_get_double(v);
			if (json_double_int64(d, &ns) == -1) {
				errs_add(es, "error decoding '%s': %g overflows "
				    "time.Duration", f->name, d);
				return;
			}
			break;
		case json_type_boolean:
			ns = json_object_get_boolean(v) ? 1 : 0;
			break;
		default:
			errs_add(es, "'%s' expected type 'time.Duration', got "
			    "unconvertible type '%s'", f->name, gotype(v));
			return;
		}
		*(int64_t *)dst = ns;
		return;
	case CT_BOOL:
		switch (json_object_get_type(v)) {
		case json_type_boolean:
			*(int *)dst = json_object_get_boolean(v);
			return;
		case json_type_int:
		case json_type_double:
			*(int *)dst = json_object_get_double(v) != 0;
			return;
		case json_type_string:
			s = (char *)json_object_get_string(v);
			if (strcmp(s, "1") == 0 || strcmp(s, "t") == 0 ||
			    strcmp(s, "T") == 0 || strcmp(s, "true") == 0 ||
			    strcmp(s, "TRUE") == 0 || strcmp(s, "True") == 0)
				*(int *)dst = 1;
			else if (strcmp(s, "0") == 0 || strcmp(s, "f") == 0 ||
			    strcmp(s, "F") == 0 || strcmp(s, "false") == 0 ||
			    strcmp(s, "FALSE") == 0 || strcmp(s, "False") == 0 ||
			    s[0] == '\0')
				*(int *)dst = 0;
			else
				errs_add(es, "cannot parse '%s' as bool: "
				    "strconv.ParseBool: parsing \"%.64s\": "
				    "invalid syntax", f->name, s);
			return;
		default:
			errs_add(es, "'%s' expected type 'bool', got "
			    "unconvertible type '%s'", f->name, gotype(v));
			return;
		}
	}
}

static int
decode_config(struct authmethod *m, struct json_object *cfg, struct perr *e)
{
	struct errs	 es = { .n = 0 };
	char		*bad[64], msg[sizeof(e->msg)];
	size_t		 nbad = 0, i, off;
	unsigned	 bit = 1u << m->type;
	const struct cfield *f;

	if (cfg == NULL || json_object_is_type(cfg, json_type_null))
		return 0;
	if (!json_object_is_type(cfg, json_type_object))
		return perr_set(e, 500, "error decoding config: '' expected a "
		    "map, got '%s'", gotype(cfg));
	json_object_object_foreach(cfg, k, v) {
		for (f = NULL, i = 0; i < sizeof(cfields) / sizeof(cfields[0]);
		    i++)
			if ((cfields[i].types & bit) &&
			    strcmp(cfields[i].name, k) == 0)
				f = &cfields[i];
		if (f == NULL) {
			if (nbad < sizeof(bad) / sizeof(bad[0]))
				bad[nbad++] = k;
			continue;
		}
		decode_field(m, f, v, &es);
	}
	if (nbad > 0) {
		qsort(bad, nbad, sizeof(bad[0]), cmpstr);
		off = (size_t)snprintf(msg, sizeof(msg),
		    "'' has invalid keys: ");
		for (i = 0; i < nbad && off < sizeof(msg); i++)
			off += (size_t)snprintf(msg + off, sizeof(msg) - off,
			    "%s%s", i ? ", " : "", bad[i]);
		errs_add(&es, "%s", msg);
	}
	if (es.n == 0)
		return 0;
	qsort(es.v, es.n, sizeof(es.v[0]), cmpstr);
	off = (size_t)snprintf(msg, sizeof(msg), "error decoding config: "
	    "%zu error(s) decoding:\n", es.n);
	for (i = 0; i < es.n; i++) {
		if (off < sizeof(msg))
			off += (size_t)snprintf(msg + off, sizeof(msg) - off,
			    "\n* %s", es.v[i]);
		free(es.v[i]);
	}
	return perr_set(e, 500, "%s", msg);
}

/* ------------------------------------------------------------------ */
/* remote documents */

static void
net_req(struct fetch_req *r, const char *url, const char *ca)
{
	memset(r, 0, sizeof(*r));
	r->url = url;
	r->ca_pem = ca;
	r->connect_ms = net.connect_ms;
	r->timeout_ms = net.timeout_ms;
	r->max_bytes = net.max_bytes;
}

static int
get_json(const char *url, const char *ca, int cached, struct json_object **out,
    struct perr *e)
{
	struct fetch_req	 r;
	struct fetch_resp	 resp;
	int			 rc;

	*out = NULL;
	pthread_once(&cache_once, cache_init);
	net_req(&r, url, ca);
	rc = cached ? fetch_cached(cache, &r, &resp, e) :
	    fetch_do(&r, &resp, e);
	if (rc == -1)
		return -1;
	if (resp.status != 200) {
		perr_set(e, 500, "%ld %s", resp.status,
		    resp.status == 404 ? "Not Found" : "Error");
		fetch_resp_clear(&resp);
		return -1;
	}
	*out = json_tokener_parse(resp.body);
	fetch_resp_clear(&resp);
	if (*out == NULL || !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return perr_set(e, 500, "failed to decode provider response: "
		    "not a JSON object");
	}
	return 0;
}

static char *
jstrdup(struct json_object *o, const char *k)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return xstrdup(json_object_get_string(v));
}

static void
disc_clear(struct disc *d)
{
	free(d->issuer);
	free(d->auth_ep);
	free(d->token_ep);
	free(d->jwks_uri);
	free(d->userinfo_ep);
	memset(d, 0, sizeof(*d));
}

/* go-oidc's NewProvider: the document, whose issuer must be the URL. */
static int
discover(const struct authmethod *m, struct disc *d, struct perr *e)
{
	struct json_object	*doc, *a;
	char			*url;
	size_t			 i, n, len;
	int			 alg;

	memset(d, 0, sizeof(*d));
	len = strlen(m->disc_url);
	while (len > 0 && m->disc_url[len - 1] == '/')
		len--;
	xasprintf(&url, "%.*s%s", (int)len, m->disc_url, WELL_KNOWN);
	if (get_json(url, m->disc_ca, 1, &doc, e) == -1) {
		free(url);
		return -1;
	}
	free(url);
	d->issuer = jstrdup(doc, "issuer");
	d->auth_ep = jstrdup(doc, "authorization_endpoint");
	d->token_ep = jstrdup(doc, "token_endpoint");
	d->jwks_uri = jstrdup(doc, "jwks_uri");
	d->userinfo_ep = jstrdup(doc, "userinfo_endpoint");
	if (json_object_object_get_ex(doc, "id_token_signing_alg_values_supported",
	    &a) && json_object_is_type(a, json_type_array)) {
		n = json_object_array_length(a);
		for (i = 0; i < n; i++)
			if ((alg = jwt_alg_parse(json_object_get_string(
			    json_object_array_get_idx(a, i)))) != -1)
				d->algs |= JWT_ALG_BIT(alg);
	}
	json_object_put(doc);
	if (d->issuer == NULL || strcmp(d->issuer, m->disc_url) != 0) {
		perr_set(e, 500, "oidc: issuer did not match the issuer "
		    "returned by provider, expected \"%.150s\" got \"%.150s\"",
		    m->disc_url, d->issuer ? d->issuer : "");
		disc_clear(d);
		return -1;
	}
	if (d->jwks_uri == NULL) {
		perr_set(e, 500, "oidc: provider has no jwks_uri");
		disc_clear(d);
		return -1;
	}
	return 0;
}

static int
jwks_get(const char *url, const char *ca, struct jwt_keyset **ks,
    struct perr *e)
{
	struct fetch_req	 r;
	struct fetch_resp	 resp;

	*ks = NULL;
	pthread_once(&cache_once, cache_init);
	net_req(&r, url, ca);
	if (fetch_cached(cache, &r, &resp, e) == -1)
		return -1;
	if (resp.status != 200) {
		perr_set(e, 500, "fetching keys oidc: get keys failed: %ld",
		    resp.status);
		fetch_resp_clear(&resp);
		return -1;
	}
	if (jwt_keyset_from_jwks(resp.body, resp.len, ks, e) == -1) {
		fetch_cache_forget(cache, url);
		fetch_resp_clear(&resp);
		e->status = 500;
		return -1;
	}
	fetch_resp_clear(&resp);
	return 0;
}

/*
 * Verify j's signature against the JWKS at url.  A token whose kid the
 * cached set lacks makes us fetch the set again once: the provider may
 * have rotated its keys (go-oidc's RemoteKeySet does the same).
 */
static int
verify_remote(const struct jwt *j, const char *url, const char *ca,
    unsigned algs, struct perr *e)
{
	struct jwt_keyset	*ks;
	int			 rc;

	if (jwks_get(url, ca, &ks, e) == -1)
		return -1;
	if (jwt_header_kid(j) != NULL &&
	    !jwt_keyset_has_kid(ks, jwt_header_kid(j))) {
		jwt_keyset_free(ks);
		fetch_cache_forget(cache, url);
		if (jwks_get(url, ca, &ks, e) == -1)
			return -1;
	}
	rc = jwt_verify(j, ks, algs, e);
	jwt_keyset_free(ks);
	return rc;
}

/* ------------------------------------------------------------------ */
/* loading and validation */

int
authmethod_type_parse(const char *s)
{
	int	i;

	for (i = 0; i < AM__MAX; i++)
		if (s != NULL && strcmp(type_names[i], s) == 0)
			return i;
	return -1;
}

/* Replace the outbound limits; call before the first request. */
void
authmethod_set_net(const struct authmethod_net *n)
{
	net = *n;
	if (net.connect_ms <= 0)
		net.connect_ms = FETCH_CONNECT_MS;
	if (net.timeout_ms <= 0)
		net.timeout_ms = FETCH_TIMEOUT_MS;
	if (net.max_bytes == 0)
		net.max_bytes = FETCH_MAXBYTES;
	if (cache != NULL) {
		fetch_cache_free(cache);
		cache = fetch_cache_new(net.cache_ttl_ms, CACHE_ENTRIES);
	}
}

static int
certs_parse(const char *pem)
{
	gnutls_x509_crt_t	*crts = NULL;
	gnutls_datum_t		 d;
	unsigned int		 n = 0, i;

	d.data = (unsigned char *)(uintptr_t)pem;
	d.size = (unsigned int)strlen(pem);
	if (gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM,
	    0) < 0 || n == 0)
		return -1;
	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	return 0;
}

/* go-jose v2 (kubeauth) spells its package differently from v3. */
static void
jose_v2(struct perr *e)
{
	char	buf[sizeof(e->msg)];
	char	*p;

	if ((p = strstr(e->msg, "go-jose/go-jose")) == NULL)
		return;
	snprintf(buf, sizeof(buf), "%.*ssquare/go-jose%s", (int)(p - e->msg),
	    e->msg, p + strlen("go-jose/go-jose"));
	memcpy(e->msg, buf, sizeof(buf));
}

static int
validate_k8s(struct authmethod *m, struct perr *e)
{
	struct jwt	*j;

	if (m->host == NULL || m->host[0] == '\0')
		return perr_set(e, 500, "Config.Host is required");
	if (m->ca_cert == NULL || m->ca_cert[0] == '\0')
		return perr_set(e, 500, "Config.CACert is required");
	if (certs_parse(m->ca_cert) == -1)
		return perr_set(e, 500, "error parsing kubernetes ca cert: "
		    "data does not contain any valid RSA or ECDSA "
		    "certificates");
	if (m->sa_jwt == NULL || m->sa_jwt[0] == '\0')
		return perr_set(e, 500, "Config.ServiceAccountJWT is required");
	if (jwt_parse(m->sa_jwt, &j, e) == -1) {
		jose_v2(e);
		return perr_prefix(e, "Config.ServiceAccountJWT is not a valid "
		    "JWT: ");
	}
	jwt_free(j);
	return 0;
}

static int
attr_dup(struct json_object *map, const char *which, struct perr *e)
{
	struct json_object	*seen;
	int			 rc = 0;

	if (map == NULL)
		return 0;
	seen = json_object_new_object();
	json_object_object_foreach(map, k, v) {
		(void)k;
		if (json_object_object_get_ex(seen, json_object_get_string(v),
		    NULL)) {
			rc = perr_set(e, 500, "%s contains multiple mappings "
			    "for key \"%.128s\"", which,
			    json_object_get_string(v));
			break;
		}
		json_object_object_add(seen, json_object_get_string(v), NULL);
	}
	json_object_put(seen);
	return rc;
}

/* internal/go-sso/oidcauth/config.go Validate(), in its order. */
static int
validate_sso(struct authmethod *m, int flags, struct perr *e)
{
	struct jwt_key		*k;
	struct json_object	*doc;
	struct jwt_keyset	*ks;
	struct disc		 d;
	const char		*t = type_names[m->type];
	size_t			 i;
	int			 count, alg;

#define MUSTNOT(cond, key) do {						\
	if (cond)							\
		return perr_set(e, 500, "'%s' must not be set for type "	\
		    "\"%s\"", key, t);					\
} while (0)

	if (m->type == AM_OIDC) {
		if (m->disc_url == NULL || m->disc_url[0] == '\0')
			return perr_set(e, 500, "'OIDCDiscoveryURL' must be set "
			    "for type \"%s\"", t);
		if (m->client_id == NULL || m->client_id[0] == '\0')
			return perr_set(e, 500, "'OIDCClientID' must be set "
			    "for type \"%s\"", t);
		if (m->client_secret == NULL || m->client_secret[0] == '\0')
			return perr_set(e, 500, "'OIDCClientSecret' must be set "
			    "for type \"%s\"", t);
		if (m->redirects.n == 0)
			return perr_set(e, 500, "'AllowedRedirectURIs' must be "
			    "set for type \"%s\"", t);
		MUSTNOT(m->jwks_url && *m->jwks_url, "JWKSURL");
		MUSTNOT(m->jwks_ca && *m->jwks_ca, "JWKSCACert");
		MUSTNOT(m->pubkeys.n, "JWTValidationPubKeys");
		MUSTNOT(m->bound_issuer && *m->bound_issuer, "BoundIssuer");
		MUSTNOT(m->exp_leeway, "ExpirationLeeway");
		MUSTNOT(m->nbf_leeway, "NotBeforeLeeway");
		MUSTNOT(m->skew_leeway, "ClockSkewLeeway");
		for (i = 0; i < m->redirects.n; i++)
			if (strpbrk(m->redirects.v[i], " \t\r\n\x7f") != NULL)
				return perr_set(e, 500, "Invalid "
				    "AllowedRedirectURIs provided: [%.200s]",
				    m->redirects.v[i]);
	} else {
		MUSTNOT(m->client_id && *m->client_id, "OIDCClientID");
		MUSTNOT(m->client_secret && *m->client_secret,
		    "OIDCClientSecret");
		MUSTNOT(m->scopes.n, "OIDCScopes");
		MUSTNOT(m->acr_values.n, "OIDCACRValues");
		MUSTNOT(m->redirects.n, "AllowedRedirectURIs");
		MUSTNOT(m->verbose, "VerboseOIDCLogging");
		count = (m->disc_url && *m->disc_url) + (m->pubkeys.n > 0) +
		    (m->jwks_url && *m->jwks_url);
		if (count != 1)
			return perr_set(e, 500, "exactly one of "
			    "'JWTValidationPubKeys', 'JWKSURL', or "
			    "'OIDCDiscoveryURL' must be set for type \"%s\"", t);
		if (m->jwks_url && *m->jwks_url) {
			if (m->jwks_ca && *m->jwks_ca &&
			    certs_parse(m->jwks_ca) == -1)
				return perr_set(e, 500, "error checking "
				    "JWKSCACert: could not parse CA PEM value "
				    "successfully");
			if (flags & AM_LOAD_REMOTE) {
				if (jwks_get(m->jwks_url, m->jwks_ca, &ks, e) ==
				    -1)
					return perr_prefix(e, "error checking "
					    "JWKSURL: ");
				jwt_keyset_free(ks);
			}
		} else if (m->jwks_ca && *m->jwks_ca)
			return perr_set(e, 500, "'JWKSCACert' should not be set "
			    "unless 'JWKSURL' is set");
		m->static_keys = jwt_keyset_new();
		for (i = 0; i < m->pubkeys.n; i++) {
			if (jwt_key_from_pem(m->pubkeys.v[i], &k, e) == -1)
				return perr_prefix(e, "error parsing public key "
				    "JWTValidationPubKeys[%zu]: ", i);
			jwt_keyset_add(m->static_keys, k);
		}
	}
	if (m->disc_url && *m->disc_url) {
		if (m->disc_ca && *m->disc_ca && certs_parse(m->disc_ca) == -1)
			return perr_set(e, 500, "error checking "
			    "OIDCDiscoveryCACert: could not parse CA PEM value "
			    "successfully");
		if (flags & AM_LOAD_REMOTE) {
			if (discover(m, &d, e) == -1)
				return perr_prefix(e, "error checking "
				    "OIDCDiscoveryURL: ");
			disc_clear(&d);
		}
	} else if (m->disc_ca && *m->disc_ca)
		return perr_set(e, 500, "'OIDCDiscoveryCACert' should not be "
		    "set unless 'OIDCDiscoveryURL' is set");
	for (i = 0; i < m->algs_s.n; i++) {
		if ((alg = jwt_alg_parse(m->algs_s.v[i])) == -1)
			return perr_set(e, 500, "Invalid supported algorithm: "
			    "%.64s", m->algs_s.v[i]);
		m->algs |= JWT_ALG_BIT(alg);
	}
	if (attr_dup(m->claim_map, "ClaimMappings", e) == -1 ||
	    attr_dup(m->list_claim_map, "ListClaimMappings", e) == -1)
		return -1;
	(void)doc;
	return 0;
#undef MUSTNOT
}

/*
 * Decode and validate an auth method's Config for its type.  name and
 * type are the method's; config is borrowed.  With AM_LOAD_REMOTE the
 * JWKSURL or OIDCDiscoveryURL is fetched now, as Consul does when a
 * method is written.  *out is owned by the caller (authmethod_free).
 * Returns -1, status 500, with Consul's validator text (the caller
 * prefixes "Invalid Auth Method: ").
 */
int
authmethod_load(const char *name, const char *type, struct json_object *config,
    int flags, struct authmethod **out, struct perr *e)
{
	struct authmethod	*m;
	int			 t, rc;

	*out = NULL;
	if ((t = authmethod_type_parse(type)) == -1)
		return perr_set(e, 500, "Type should be one of: [jwt "
		    "kubernetes oidc]");
	m = xcalloc(1, sizeof(*m));
	m->type = t;
	m->name = xstrdup(name ? name : "");
	rc = decode_config(m, config, e);
	if (rc == 0)
		rc = m->type == AM_KUBERNETES ? validate_k8s(m, e) :
		    validate_sso(m, flags, e);
	if (rc == -1) {
		e->status = 500;
		authmethod_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

void
authmethod_free(struct authmethod *m)
{
	if (m == NULL)
		return;
	free(m->name);
	free(m->host);
	free(m->ca_cert);
	if (m->sa_jwt != NULL)
		secret_free(m->sa_jwt);
	strlist_free(&m->pubkeys);
	strlist_free(&m->audiences);
	strlist_free(&m->algs_s);
	strlist_free(&m->scopes);
	strlist_free(&m->acr_values);
	strlist_free(&m->redirects);
	free(m->jwks_url);
	free(m->jwks_ca);
	free(m->disc_url);
	free(m->disc_ca);
	free(m->client_id);
	if (m->client_secret != NULL)
		secret_free(m->client_secret);
	free(m->bound_issuer);
	json_object_put(m->claim_map);
	json_object_put(m->list_claim_map);
	jwt_keyset_free(m->static_keys);
	free(m);
}

enum authmethod_type
authmethod_type(const struct authmethod *m)
{
	return m->type;
}

/* ------------------------------------------------------------------ */
/* identities */

static const struct bexpr_field sa_fields[] = {
	{ "namespace",	BF_STRING,	NULL },
	{ "name",	BF_STRING,	NULL },
	{ "uid",	BF_STRING,	NULL },
	{ NULL,		BF_STRING,	NULL }
};
static const struct bexpr_field k8s_fields[] = {
	{ "serviceaccount", BF_STRUCT,	sa_fields },
	{ NULL,		BF_STRING,	NULL }
};
static const struct bexpr_field sso_fields[] = {
	{ "value",	BF_MAP_STRING,	NULL },
	{ "list",	BF_MAP_LIST,	NULL },
	{ NULL,		BF_STRING,	NULL }
};

/* The selector schema of a type's identities (binding-rule Selector). */
const struct bexpr_field *
authmethod_selector_fields(enum authmethod_type t)
{
	return t == AM_KUBERNETES ? k8s_fields : sso_fields;
}

/*
 * An identity with every field and variable present and empty, as
 * Consul's NewIdentity(): what binding-rule validation interpolates
 * (with each variable set to "fake") and what login starts from.
 */
struct authmethod_identity *
authmethod_identity_new(const struct authmethod *m)
{
	struct authmethod_identity	*id;
	struct json_object		*sa, *val, *lst;
	char				*k2;

	id = xcalloc(1, sizeof(*id));
	id->fields = json_object_new_object();
	id->vars = json_object_new_object();
	if (m->type == AM_KUBERNETES) {
		sa = json_object_new_object();
		json_object_object_add(sa, "namespace", json_object_new_string(""));
		json_object_object_add(sa, "name", json_object_new_string(""));
		json_object_object_add(sa, "uid", json_object_new_string(""));
		json_object_object_add(id->fields, "serviceaccount", sa);
		json_object_object_add(id->vars, "serviceaccount.namespace",
		    json_object_new_string(""));
		json_object_object_add(id->vars, "serviceaccount.name",
		    json_object_new_string(""));
		json_object_object_add(id->vars, "serviceaccount.uid",
		    json_object_new_string(""));
		return id;
	}
	val = json_object_new_object();
	lst = json_object_new_object();
	if (m->claim_map != NULL) {
		json_object_object_foreach(m->claim_map, k, v) {
			(void)k;
			json_object_object_add(val, json_object_get_string(v),
			    json_object_new_string(""));
			xasprintf(&k2, "value.%s", json_object_get_string(v));
			json_object_object_add(id->vars, k2,
			    json_object_new_string(""));
			free(k2);
		}
	}
	if (m->list_claim_map != NULL) {
		json_object_object_foreach(m->list_claim_map, k, v) {
			(void)k;
			json_object_object_add(lst, json_object_get_string(v),
			    json_object_new_array());
		}
	}
	json_object_object_add(id->fields, "value", val);
	json_object_object_add(id->fields, "list", lst);
	return id;
}

void
authmethod_identity_free(struct authmethod_identity *id)
{
	if (id == NULL)
		return;
	json_object_put(id->fields);
	json_object_put(id->vars);
	free(id);
}

/* oidcjwt.go stringifyMetadataValue; NULL for other types. */
static char *
stringify(struct json_object *v)
{
	char	*s;
	int64_t	 n;

	switch (json_object_get_type(v)) {
	case json_type_string:
		return xstrdup(json_object_get_string(v));
	case json_type_boolean:
		return xstrdup(json_object_get_boolean(v) ? "true" : "false");
	case json_type_int:
		xasprintf(&s, "%lld", (long long)json_object_get_int64(v));
		return s;
	case json_type_double:
		/* Out of the int64 range the cast is UB: unconvertible. */
		if (json_double_int64(json_object_get_double(v), &n) == -1)
			return NULL;
		xasprintf(&s, "%lld", (long long)n);
		return s;
	default:
		return NULL;
	}
}

/* extractClaims: ClaimMappings and ListClaimMappings into id. */
static int
extract(const struct authmethod *m, struct json_object *claims,
    struct authmethod_identity *id, struct perr *e)
{
	struct json_object	*val, *lst, *raw, *arr, *el;
	char			*s, *k2;
	size_t			 i, n;

	json_object_object_get_ex(id->fields, "value", &val);
	json_object_object_get_ex(id->fields, "list", &lst);
	if (m->claim_map != NULL) {
		json_object_object_foreach(m->claim_map, src, tgt) {
			if ((raw = jwt_claim_get(claims, src)) == NULL)
				continue;
			if ((s = stringify(raw)) == NULL)
				return perr_set(e, 500, "error converting claim "
				    "'%.128s' to string from unknown type %s",
				    src, gotype(raw));
			json_object_object_add(val, json_object_get_string(tgt),
			    json_object_new_string(s));
			xasprintf(&k2, "value.%s", json_object_get_string(tgt));
			json_object_object_add(id->vars, k2,
			    json_object_new_string(s));
			free(k2);
			free(s);
		}
	}
	if (m->list_claim_map != NULL) {
		json_object_object_foreach(m->list_claim_map, src, tgt) {
			if ((raw = jwt_claim_get(claims, src)) == NULL)
				continue;
			if (json_object_is_type(raw, json_type_object))
				return perr_set(e, 500, "\"%.128s\" list claim "
				    "could not be converted to string list", src);
			arr = json_object_new_array();
			n = json_object_is_type(raw, json_type_array) ?
			    json_object_array_length(raw) : 1;
			for (i = 0; i < n; i++) {
				el = json_object_is_type(raw, json_type_array) ?
				    json_object_array_get_idx(raw, i) : raw;
				if ((s = el ? stringify(el) : NULL) == NULL) {
					json_object_put(arr);
					return perr_set(e, 500, "value %.64s in "
					    "\"%.128s\" list claim could not be "
					    "parsed as string",
					    el ? json_object_to_json_string(el) :
					    "<nil>", src);
				}
				if (s[0] != '\0')
					json_object_array_add(arr,
					    json_object_new_string(s));
				free(s);
			}
			json_object_object_add(lst, json_object_get_string(tgt),
			    arr);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* kubernetes */

static char *
k8s_url(const struct authmethod *m, const char *path)
{
	char	*u;
	size_t	 len = strlen(m->host);

	while (len > 0 && m->host[len - 1] == '/')
		len--;
	xasprintf(&u, "%s%.*s%s", strstr(m->host, "://") ? "" : "https://",
	    (int)len, m->host, path);
	return u;
}

/* client-go's error for a non-2xx answer: the Status message. */
static int
k8s_error(struct fetch_resp *resp, struct perr *e)
{
	struct json_object	*st, *msg;

	st = json_tokener_parse(resp->body);
	if (st != NULL && json_object_object_get_ex(st, "message", &msg) &&
	    json_object_is_type(msg, json_type_string))
		perr_set(e, 500, "%.300s", json_object_get_string(msg));
	else if (resp->status == 401)
		perr_set(e, 500, "Unauthorized");
	else
		perr_set(e, 500, "the server responded with HTTP status %ld",
		    resp->status);
	json_object_put(st);
	return -1;
}

static const char *
jpath_str(struct json_object *o, const char *a, const char *b, const char *c)
{
	struct json_object	*v = o;
	const char		*keys[3] = { a, b, c };
	int			 i;

	for (i = 0; i < 3 && keys[i] != NULL; i++)
		if (!json_object_is_type(v, json_type_object) ||
		    !json_object_object_get_ex(v, keys[i], &v))
			return NULL;
	return json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

static int
verify_k8s(const struct authmethod *m, const char *bearer,
    struct authmethod_identity *id, struct perr *e)
{
	struct fetch_req	 r;
	struct fetch_resp	 resp = { 0, NULL, 0 };
	struct json_object	*body, *spec, *tr = NULL, *v, *sa = NULL;
	struct json_object	*fsa;
	struct jwt		*j;
	const char		*user, *uid, *err, *over;
	char			*url = NULL, *reqbody, *ns = NULL, *name = NULL;
	char			*p, *q, *ens, *ename;
	int			 rc = -1;

	if (jwt_parse(bearer, &j, e) == -1) {
		jose_v2(e);
		return perr_prefix(e, "failed to parse and validate JWT: ");
	}
	jwt_free(j);

	body = json_object_new_object();
	spec = json_object_new_object();
	json_object_object_add(body, "kind", json_object_new_string(
	    "TokenReview"));
	json_object_object_add(body, "apiVersion", json_object_new_string(
	    "authentication.k8s.io/v1"));
	json_object_object_add(spec, "token", json_object_new_string(bearer));
	json_object_object_add(body, "spec", spec);
	reqbody = xstrdup(json_object_to_json_string_ext(body,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(body);

	url = k8s_url(m, TR_PATH);
	net_req(&r, url, m->ca_cert);
	r.method = "POST";
	r.bearer = m->sa_jwt;
	r.content_type = "application/json";
	r.body = reqbody;
	r.body_len = strlen(reqbody);
	rc = fetch_do(&r, &resp, e);
	secret_free(reqbody);
	if (rc == -1)
		goto out;
	rc = -1;
	if (resp.status < 200 || resp.status > 299) {
		k8s_error(&resp, e);
		goto out;
	}
	tr = json_tokener_parse(resp.body);
	if (tr == NULL || !json_object_is_type(tr, json_type_object)) {
		perr_set(e, 500, "lookup failed: invalid TokenReview response");
		goto out;
	}
	if ((err = jpath_str(tr, "status", "error", NULL)) != NULL &&
	    err[0] != '\0') {
		perr_set(e, 500, "lookup failed: %.300s", err);
		goto out;
	}
	if (!json_object_object_get_ex(tr, "status", &v) ||
	    !json_object_object_get_ex(v, "authenticated", &v) ||
	    !json_object_get_boolean(v)) {
		perr_set(e, 500, "lookup failed: service account jwt not "
		    "valid");
		goto out;
	}
	user = jpath_str(tr, "status", "user", "username");
	uid = jpath_str(tr, "status", "user", "uid");
	/* system:serviceaccount:<ns>:<name>, exactly four parts */
	p = user ? strchr(user, ':') : NULL;
	q = p ? strchr(p + 1, ':') : NULL;
	if (user == NULL || p == NULL || q == NULL || strchr(q + 1, ':') ==
	    NULL || strchr(strchr(q + 1, ':') + 1, ':') != NULL) {
		perr_set(e, 500, "lookup failed: unexpected username format");
		goto out;
	}
	if (strncmp(user, "system:serviceaccount:", 22) != 0) {
		perr_set(e, 500, "lookup failed: username returned is not a "
		    "service account");
		goto out;
	}
	ns = xstrndup(q + 1, (size_t)(strchr(q + 1, ':') - q - 1));
	name = xstrdup(strchr(q + 1, ':') + 1);

	/* The service-name annotation overrides the name. */
	fetch_resp_clear(&resp);
	free(url);
	ens = fetch_urlencode(ns);
	ename = fetch_urlencode(name);
	xasprintf(&p, "/api/v1/namespaces/%s/serviceaccounts/%s", ens, ename);
	free(ens);
	free(ename);
	url = k8s_url(m, p);
	free(p);
	net_req(&r, url, m->ca_cert);
	r.bearer = m->sa_jwt;
	if (fetch_do(&r, &resp, e) == -1) {
		perr_prefix(e, "annotation lookup failed: ");
		goto out;
	}
	if (resp.status < 200 || resp.status > 299) {
		k8s_error(&resp, e);
		perr_prefix(e, "annotation lookup failed: ");
		goto out;
	}
	sa = json_tokener_parse(resp.body);
	if ((over = jpath_str(sa, "metadata", "annotations", SA_ANNOTATION))
	    != NULL) {
		free(name);
		name = xstrdup(over);
	}

	json_object_object_get_ex(id->fields, "serviceaccount", &fsa);
	json_object_object_add(fsa, "namespace", json_object_new_string(ns));
	json_object_object_add(fsa, "name", json_object_new_string(name));
	json_object_object_add(fsa, "uid", json_object_new_string(uid ? uid :
	    ""));
	json_object_object_add(id->vars, "serviceaccount.namespace",
	    json_object_new_string(ns));
	json_object_object_add(id->vars, "serviceaccount.name",
	    json_object_new_string(name));
	json_object_object_add(id->vars, "serviceaccount.uid",
	    json_object_new_string(uid ? uid : ""));
	rc = 0;
out:
	json_object_put(tr);
	json_object_put(sa);
	fetch_resp_clear(&resp);
	free(url);
	free(ns);
	free(name);
	return rc;
}

/* ------------------------------------------------------------------ */
/* jwt */

static void
policy_init(const struct authmethod *m, struct jwt_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->now = time(NULL);
	/* Go's Duration.Seconds(), truncated by int64() */
	p->exp_leeway = m->exp_leeway / 1000000000;
	p->nbf_leeway = m->nbf_leeway / 1000000000;
	p->skew_leeway = m->skew_leeway / 1000000000;
	if (m->exp_leeway < 0 && p->exp_leeway == 0)
		p->exp_leeway = -1;
	if (m->nbf_leeway < 0 && p->nbf_leeway == 0)
		p->nbf_leeway = -1;
	if (m->skew_leeway < 0 && p->skew_leeway == 0)
		p->skew_leeway = -1;
	p->audiences = (const char *const *)m->audiences.v;
	p->naudiences = m->audiences.n;
}

/* The algorithms a provider-backed verification accepts. */
static unsigned
oidc_algs(const struct authmethod *m, const struct disc *d)
{
	if (m->algs != 0)
		return m->algs;
	if (d != NULL && d->algs != 0)
		return d->algs;
	return JWT_ALGS_DEFAULT;
}

#define ANY_ALG	((1u << JWT_ALG__MAX) - 1)

static int
verify_jwt(const struct authmethod *m, const char *bearer,
    struct authmethod_identity *id, struct perr *e)
{
	struct jwt		*j = NULL;
	struct jwt_policy	 p;
	struct disc		 d;
	int			 rc = -1;

	memset(&d, 0, sizeof(d));
	if (bearer == NULL || bearer[0] == '\0')
		return perr_set(e, 500, "missing jwt");
	policy_init(m, &p);
	if (m->disc_url != NULL && m->disc_url[0] != '\0') {
		/* verifyOIDCToken, SkipClientIDCheck */
		if (discover(m, &d, e) == -1)
			goto out;
		if (jwt_parse(bearer, &j, e) == -1) {
			perr_prefix(e, "error validating signature: oidc: "
			    "malformed jwt: ");
			goto out;
		}
		p.oidc = 1;
		p.issuer = d.issuer;
		p.naudiences = 0;
		if (jwt_check_claims(j, &p, e) == -1 ||
		    verify_remote(j, d.jwks_uri, m->disc_ca, oidc_algs(m, &d),
		    e) == -1) {
			perr_prefix(e, "error validating signature: ");
			goto out;
		}
		p.naudiences = m->audiences.n;
		p.issuer = NULL;
		if (jwt_check_claims(j, &p, e) == -1)
			goto out;
	} else {
		if (jwt_parse(bearer, &j, e) == -1) {
			perr_prefix(e, "error parsing token: ");
			goto out;
		}
		if (m->jwks_url != NULL && m->jwks_url[0] != '\0') {
			if (verify_remote(j, m->jwks_url, m->jwks_ca,
			    m->algs ? m->algs : ANY_ALG, e) == -1) {
				perr_prefix(e, "error verifying token: ");
				goto out;
			}
		} else if (jwt_verify(j, m->static_keys, m->algs ? m->algs :
		    ANY_ALG, e) == -1) {
			perr_set(e, 500, "no known key successfully validated "
			    "the token signature");
			goto out;
		}
		p.issuer = m->bound_issuer;
		if (jwt_check_claims(j, &p, e) == -1)
			goto out;
	}
	rc = extract(m, jwt_claims(j), id, e);
out:
	disc_clear(&d);
	jwt_free(j);
	return rc;
}

/*
 * Verify bearer (a login's BearerToken) with m and return who it is:
 * *out (owned by the caller, authmethod_identity_free) carries the
 * selector fields and BindName variables.  kubernetes: the JWT must
 * parse, then TokenReview on Host decides.  jwt: signature (static
 * keys, JWKS or discovery), times, issuer, audiences; then the claim
 * mappings.  oidc methods log in through the callback instead.  Returns
 * -1, status 500, with Consul's text; the token never appears in it.
 */
int
authmethod_verify(const struct authmethod *m, const char *bearer,
    struct authmethod_identity **out, struct perr *e)
{
	struct authmethod_identity	*id;
	int				 rc;

	*out = NULL;
	id = authmethod_identity_new(m);
	switch (m->type) {
	case AM_KUBERNETES:
		rc = verify_k8s(m, bearer ? bearer : "", id, e);
		break;
	case AM_JWT:
		rc = verify_jwt(m, bearer, id, e);
		break;
	default:
		rc = perr_set(e, 500, "ClaimsFromJWT is incompatible with "
		    "type \"oidc\"");
		break;
	}
	if (rc == -1) {
		e->status = 500;
		authmethod_identity_free(id);
		return -1;
	}
	*out = id;
	return 0;
}

/* ------------------------------------------------------------------ */
/* BindName interpolation */

/*
 * Interpolate tmpl as Consul's InterpolateHIL(tmpl, vars, true): text
 * without "${" is returned verbatim; otherwise each ${ name } (spaces
 * allowed) is replaced by the lower-cased string vars[name], "$${" is a
 * literal "${", and anything else inside the braces is an error, as is
 * an unknown name ("error interpreting template: 1:3: unknown variable
 * accessed: x", HIL's text and position).  *out is a new string owned by
 * the caller.  Returns -1, status 500.
 */
int
authmethod_bind_name(const char *tmpl, struct json_object *vars, char **out,
    struct perr *e)
{
	struct json_object	*v;
	const char		*p, *s, *name;
	char			*buf, *w, ident[256];
	size_t			 cap, n, nlen, line = 1, col = 1;
	const char		*linestart = tmpl;

	*out = NULL;
	if (strstr(tmpl, "${") == NULL) {
		*out = xstrdup(tmpl);
		return 0;
	}
	cap = strlen(tmpl) + 1;
	buf = w = xmalloc(cap);
	for (p = tmpl; *p != '\0'; ) {
		if (*p == '\n') {
			line++;
			linestart = p + 1;
		}
		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			*w++ = '$';
			*w++ = '{';
			p += 3;
			continue;
		}
		if (p[0] != '$' || p[1] != '{') {
			*w++ = *p++;
			continue;
		}
		for (s = p + 2; *s == ' ' || *s == '\t'; s++)
			;
		name = s;
		col = (size_t)(name - linestart) + 1;
		while (isalnum((unsigned char)*s) || *s == '_' || *s == '-' ||
		    *s == '.' || *s == ':' || *s == '/')
			s++;
		nlen = (size_t)(s - name);
		while (*s == ' ' || *s == '\t')
			s++;
		if (nlen == 0 || *s != '}') {
			free(buf);
			return perr_set(e, 500, "error interpreting template: "
			    "%zu:%zu: %s", line, col, *s == '\0' ?
			    "expected \"}\" but found end of string" :
			    "only variable interpolation is supported");
		}
		if (nlen >= sizeof(ident))
			nlen = sizeof(ident) - 1;
		memcpy(ident, name, nlen);
		ident[nlen] = '\0';
		if (vars == NULL || !json_object_object_get_ex(vars, ident, &v)) {
			free(buf);
			return perr_set(e, 500, "error interpreting template: "
			    "%zu:%zu: unknown variable accessed: %.128s", line,
			    col, ident);
		}
		s++;
		n = strlen(json_object_get_string(v));
		cap += n;
		nlen = (size_t)(w - buf);
		buf = xrealloc(buf, cap);
		w = buf + nlen;
		for (name = json_object_get_string(v); *name != '\0'; name++)
			*w++ = (char)tolower((unsigned char)*name);
		p = s;
	}
	*w = '\0';
	*out = buf;
	return 0;
}

/* ------------------------------------------------------------------ */
/* OIDC authorization-code flow */

/* The URI with the port dropped when its host is a loopback name. */
static char *
redirect_norm(const char *uri, int *loopback)
{
	const char	*h, *end, *host, *hend, *rest;
	char		*out;
	size_t		 hl;

	*loopback = 0;
	if ((h = strstr(uri, "://")) == NULL)
		return xstrdup(uri);
	h += 3;
	end = h + strcspn(h, "/?#");
	host = h;
	for (rest = h; rest < end; rest++)
		if (*rest == '@')
			host = rest + 1;
	if (*host == '[') {
		host++;
		if ((hend = memchr(host, ']', (size_t)(end - host))) == NULL)
			return xstrdup(uri);
	} else {
		hend = memchr(host, ':', (size_t)(end - host));
		if (hend == NULL)
			hend = end;
	}
	hl = (size_t)(hend - host);
	if (!((hl == 9 && strncmp(host, "localhost", 9) == 0) ||
	    (hl == 9 && strncmp(host, "127.0.0.1", 9) == 0) ||
	    (hl == 3 && strncmp(host, "::1", 3) == 0)))
		return xstrdup(uri);
	*loopback = 1;
	xasprintf(&out, "%.*s%.*s%s", (int)(host - uri - (host[-1] == '[')),
	    uri, (int)hl, host, end);
	return out;
}

/*
 * Returns 1 when uri is one of m's AllowedRedirectURIs: an exact match,
 * except that for localhost, 127.0.0.1 and ::1 the port is ignored on
 * both sides (RFC 8252 7.3; go-sso validRedirect).
 */
int
authmethod_redirect_allowed(const struct authmethod *m, const char *uri)
{
	char	*a, *b;
	size_t	 i;
	int	 lb, lb2, ok = 0;

	a = redirect_norm(uri, &lb);
	for (i = 0; i < m->redirects.n && !ok; i++) {
		if (!lb) {
			ok = strcmp(uri, m->redirects.v[i]) == 0;
			continue;
		}
		b = redirect_norm(m->redirects.v[i], &lb2);
		ok = strcmp(a, b) == 0;
		free(b);
	}
	free(a);
	return ok;
}

/* A fresh state and nonce: 40 random bytes, each half as 40 hex chars. */
void
authmethod_oidc_state(char state[AM_STATE_LEN + 1],
    char nonce[AM_STATE_LEN + 1])
{
	unsigned char	r[AM_STATE_LEN];
	int		i;

	if (gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof(r)) < 0)
		fatalx("gnutls_rnd");
	for (i = 0; i < AM_STATE_LEN / 2; i++) {
		snprintf(state + 2 * i, 3, "%02x", r[i]);
		snprintf(nonce + 2 * i, 3, "%02x", r[AM_STATE_LEN / 2 + i]);
	}
}

static void
param(char **url, int *first, const char *k, const char *v)
{
	char	*ev, *t;

	ev = fetch_urlencode(v);
	xasprintf(&t, "%s%s%s=%s", *url, *first ? "" : "&", k, ev);
	free(ev);
	free(*url);
	*url = t;
	*first = 0;
}

/*
 * The provider's authorization URL for an auth-url request: redirect
 * checked against AllowedRedirectURIs, authorization_endpoint from
 * discovery, parameters in Go's url.Values order (acr_values,
 * client_id, nonce, redirect_uri, response_type, scope, state).  state
 * and nonce come from authmethod_oidc_state(); the caller stores them.
 * *url is owned by the caller.  Returns -1, status 500: "missing
 * redirect_uri", "unauthorized redirect_uri: <uri>", discovery errors.
 */
int
authmethod_oidc_auth_url(const struct authmethod *m, const char *redirect,
    const char *state, const char *nonce, char **url, struct perr *e)
{
	struct disc	 d;
	char		*u, *scope, *t, *acr;
	size_t		 i;
	int		 first;

	*url = NULL;
	if (m->type != AM_OIDC)
		return perr_set(e, 500, "GetAuthCodeURL is incompatible with "
		    "type \"jwt\"");
	if (redirect == NULL || redirect[0] == '\0')
		return perr_set(e, 500, "missing redirect_uri");
	if (!authmethod_redirect_allowed(m, redirect))
		return perr_set(e, 500, "unauthorized redirect_uri: %.300s",
		    redirect);
	if (discover(m, &d, e) == -1)
		return -1;
	if (d.auth_ep == NULL) {
		disc_clear(&d);
		return perr_set(e, 500, "oidc: provider has no "
		    "authorization_endpoint");
	}
	scope = xstrdup("openid");
	for (i = 0; i < m->scopes.n; i++) {
		if (strcmp(m->scopes.v[i], "openid") == 0)
			continue;
		xasprintf(&t, "%s %s", scope, m->scopes.v[i]);
		free(scope);
		scope = t;
	}
	acr = xstrdup("");
	for (i = 0; i < m->acr_values.n; i++) {
		xasprintf(&t, "%s%s%s", acr, i ? " " : "", m->acr_values.v[i]);
		free(acr);
		acr = t;
	}
	xasprintf(&u, "%s%c", d.auth_ep, strchr(d.auth_ep, '?') ? '&' : '?');
	first = 1;
	if (acr[0] != '\0')
		param(&u, &first, "acr_values", acr);
	param(&u, &first, "client_id", m->client_id);
	param(&u, &first, "nonce", nonce);
	param(&u, &first, "redirect_uri", redirect);
	param(&u, &first, "response_type", "code");
	param(&u, &first, "scope", scope);
	param(&u, &first, "state", state);
	free(scope);
	free(acr);
	disc_clear(&d);
	*url = u;
	return 0;
}

/* userinfo claims merged over the ID token's; failure is not fatal. */
static void
userinfo(const struct authmethod *m, const struct disc *d, const char *at,
    struct json_object *claims)
{
	struct fetch_req	 r;
	struct fetch_resp	 resp;
	struct json_object	*ui;
	struct perr		 e;

	if (d->userinfo_ep == NULL || at == NULL)
		return;
	net_req(&r, d->userinfo_ep, m->disc_ca);
	r.bearer = at;
	if (fetch_do(&r, &resp, &e) == -1) {
		log_warnx("auth method %s: error reading /userinfo endpoint: "
		    "%s", m->name, e.msg);
		return;
	}
	if (resp.status == 200 && (ui = json_tokener_parse(resp.body)) !=
	    NULL) {
		if (json_object_is_type(ui, json_type_object)) {
			json_object_object_foreach(ui, k, v)
				json_object_object_add(claims, k,
				    json_object_get(v));
		}
		json_object_put(ui);
	}
	fetch_resp_clear(&resp);
}

/*
 * The OIDC callback after the endpoint has consumed the state: exchange
 * code at the token endpoint (client_secret_post, with the redirect URI
 * stored under the state), verify the ID token (JWKS signature, issuer,
 * OIDCClientID audience, expiry, then BoundAudiences), check its nonce
 * against the stored one, merge userinfo, map claims.  An empty code is
 * refused before anything else, as Consul does (callers should call
 * this before consuming the state, or check the code themselves).
 * *out is owned by the caller.  Returns -1, status 500, with Consul's
 * "Provider login failed: ..." / "Token verification failed: ..." texts.
 */
int
authmethod_oidc_callback(const struct authmethod *m, const char *code,
    const char *redirect, const char *nonce, struct authmethod_identity **out,
    struct perr *e)
{
	struct authmethod_identity	*id = NULL;
	struct fetch_req		 r;
	struct fetch_resp		 resp = { 0, NULL, 0 };
	struct json_object		*tok = NULL, *v, *claims;
	struct jwt_policy		 p;
	struct disc			 d;
	struct jwt			*j = NULL;
	const char			*kv[11];
	char				*form = NULL;
	int				 rc = -1;

	*out = NULL;
	memset(&d, 0, sizeof(d));
	if (m->type != AM_OIDC)
		return perr_set(e, 500, "ClaimsFromAuthCode is incompatible "
		    "with type \"jwt\"");
	if (code == NULL || code[0] == '\0')
		return perr_set(e, 500, "Provider login failed: OAuth code "
		    "parameter not provided");
	if (discover(m, &d, e) == -1) {
		perr_prefix(e, "Provider login failed: Error exchanging oidc "
		    "code: ");
		goto out;
	}
	if (d.token_ep == NULL) {
		perr_set(e, 500, "Provider login failed: Error exchanging oidc "
		    "code: oidc: provider has no token_endpoint");
		goto out;
	}
	kv[0] = "client_id";	kv[1] = m->client_id;
	kv[2] = "client_secret"; kv[3] = m->client_secret;
	kv[4] = "code";		kv[5] = code;
	kv[6] = "grant_type";	kv[7] = "authorization_code";
	kv[8] = "redirect_uri";	kv[9] = redirect ? redirect : "";
	kv[10] = NULL;
	form = fetch_form(kv);
	net_req(&r, d.token_ep, m->disc_ca);
	r.method = "POST";
	r.content_type = "application/x-www-form-urlencoded";
	r.body = form;
	r.body_len = strlen(form);
	if (fetch_do(&r, &resp, e) == -1) {
		perr_prefix(e, "Provider login failed: Error exchanging oidc "
		    "code: ");
		goto out;
	}
	tok = json_tokener_parse(resp.body);
	if (resp.status < 200 || resp.status > 299 || tok == NULL ||
	    !json_object_is_type(tok, json_type_object)) {
		perr_set(e, 500, "Provider login failed: Error exchanging oidc "
		    "code: oauth2: cannot fetch token: %ld", resp.status);
		goto out;
	}
	if (!json_object_object_get_ex(tok, "id_token", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		perr_set(e, 500, "Token verification failed: No id_token found "
		    "in response.");
		goto out;
	}
	if (jwt_parse(json_object_get_string(v), &j, e) == -1) {
		perr_prefix(e, "Token verification failed: error validating "
		    "signature: oidc: malformed jwt: ");
		goto out;
	}
	policy_init(m, &p);
	p.oidc = 1;
	p.issuer = d.issuer;
	p.client_id = m->client_id;
	p.naudiences = 0;
	if (jwt_check_claims(j, &p, e) == -1 ||
	    verify_remote(j, d.jwks_uri, m->disc_ca, oidc_algs(m, &d), e) ==
	    -1) {
		perr_prefix(e, "Token verification failed: error validating "
		    "signature: ");
		goto out;
	}
	p.issuer = NULL;
	p.client_id = NULL;
	p.naudiences = m->audiences.n;
	if (jwt_check_claims(j, &p, e) == -1) {
		perr_prefix(e, "Token verification failed: ");
		goto out;
	}
	claims = jwt_claims(j);
	if (!json_object_object_get_ex(claims, "nonce", &v) ||
	    !json_object_is_type(v, json_type_string) || nonce == NULL ||
	    !ct_streq(json_object_get_string(v), nonce)) {
		perr_set(e, 500, "Token verification failed: Invalid ID token "
		    "nonce.");
		goto out;
	}
	json_object_object_del(claims, "nonce");
	userinfo(m, &d, json_object_object_get_ex(tok, "access_token", &v) ?
	    json_object_get_string(v) : NULL, claims);
	id = authmethod_identity_new(m);
	if (extract(m, claims, id, e) == -1) {
		perr_prefix(e, "Token verification failed: ");
		goto out;
	}
	*out = id;
	id = NULL;
	rc = 0;
out:
	if (rc == -1)
		e->status = 500;
	authmethod_identity_free(id);
	jwt_free(j);
	json_object_put(tok);
	fetch_resp_clear(&resp);
	if (form != NULL)
		secret_free(form);
	disc_clear(&d);
	return rc;
}
