/*
 * acl_login.c -- exchanging an identity for an ACL token (acl.md §8-9):
 *
 *   POST /v1/acl/login           bearer token -> token (no ACL)
 *   POST /v1/acl/logout          delete the caller's login token
 *   POST /v1/acl/oidc/auth-url   start an OIDC authorization-code flow
 *   POST /v1/acl/oidc/callback   finish it -> token
 *
 * Login verifies the bearer token with the method's type for real
 * (authmethod.c: TokenReview, JWT signatures, the OIDC code exchange),
 * runs the method's binding rules (acl_binding_rule.c) and creates a
 * token with AuthMethod set, Local unless TokenLocality is "global" and
 * ExpirationTime CreateTime + MaxTokenTTL (acl_token.c).  Consul
 * sources: agent/consul/acl_endpoint.go Login/Logout and
 * tokenSetFromAuthMethod, agent/consul/auth/binder.go.  The OIDC
 * endpoints are Enterprise-only in Consul; they follow go-sso's
 * behaviour (acl.md §9).
 *
 * OIDC states are rows of acl_oidc_state: any worker can finish a flow
 * another started; a state is deleted when looked up (single use,
 * DELETE ... RETURNING, atomic across workers) and expires after
 * acl.login.oidc_state_ttl_seconds.  They are not Raft data, so they
 * are written outside store_begin() and move no modify index.
 *
 * Beyond Consul: failed logins (unknown method, rejected credential,
 * nothing bound, bad OIDC state) are counted per source address and
 * per auth method in acl_login_failure, shared by every worker; once a
 * counter reaches its acl.login limit within the window, logins from
 * that address or to that method get 429 until the window ends.  Every
 * login and logout, success or failure, is logged with the AccessorID,
 * the auth method and the source address; never a bearer token, secret
 * or code.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "portcullis.h"
#include "acl.h"
#include "acl_auth_method.h"
#include "acl_binding_rule.h"
#include "acl_login.h"
#include "authmethod.h"
#include "conf.h"
#include "http.h"
#include "json.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#define NS_PER_S		1000000000LL
#define MAX_PENDING_STATES	10000

struct login_in {
	const char		*auth_method;
	const char		*bearer;
	struct json_object	*meta;
};

#define LI(f)	offsetof(struct login_in, f)
static const struct jfield login_fields[] = {
	{ "AuthMethod", J_STRING, LI(auth_method), "string" },
	{ "BearerToken", J_STRING, LI(bearer), "string" },
	{ "Meta", J_MAP_STRING, LI(meta), "map[string]string" },
	{ NULL, 0, 0, NULL }
};

struct oidc_in {
	const char		*auth_method;
	const char		*redirect_uri;
	const char		*client_nonce;
	const char		*state;
	const char		*code;
	struct json_object	*meta;
};

#define OI(f)	offsetof(struct oidc_in, f)
static const struct jfield auth_url_fields[] = {
	{ "AuthMethod", J_STRING, OI(auth_method), "string" },
	{ "RedirectURI", J_STRING, OI(redirect_uri), "string" },
	{ "ClientNonce", J_STRING, OI(client_nonce), "string" },
	{ "Meta", J_MAP_STRING, OI(meta), "map[string]string" },
	{ NULL, 0, 0, NULL }
};
static const struct jfield callback_fields[] = {
	{ "AuthMethod", J_STRING, OI(auth_method), "string" },
	{ "State", J_STRING, OI(state), "string" },
	{ "Code", J_STRING, OI(code), "string" },
	{ "ClientNonce", J_STRING, OI(client_nonce), "string" },
	{ "Meta", J_MAP_STRING, OI(meta), "map[string]string" },
	{ NULL, 0, 0, NULL }
};

/* A request's login attempt, for the limiter and the log line. */
struct attempt {
	const char	*what;		/* "login", "oidc login" */
	const char	*addr;		/* source address, printable */
	const char	*method;	/* as requested, printable */
	int		 known;		/* the method exists */
};

/* s made safe for one log line: printable ASCII, at most 128 bytes. */
static const char *
printable(struct req *req, const char *s)
{
	char	*o;
	size_t	 i, n;

	if (s == NULL)
		return "";
	n = strlen(s);
	if (n > 128)
		n = 128;
	o = arena_strndup(req->arena, s, n);
	for (i = 0; i < n; i++)
		if (o[i] < 0x20 || o[i] > 0x7e)
			o[i] = '?';
	return o;
}

static void
attempt_init(struct req *req, struct attempt *a, const char *what,
    const char *method)
{
	a->what = what;
	a->addr = printable(req, req->remote_addr != NULL &&
	    *req->remote_addr != '\0' ? req->remote_addr : "-");
	a->method = printable(req, method);
	a->known = 0;
}

/* ---------------------------------------------------------------- */
/* The failed-login limiter.                                          */

static void
limiter_key(struct req *req, const struct attempt *a, int per_method,
    char **key)
{
	char	*k;
	size_t	 i;

	if (!per_method) {
		*key = arena_printf(req->arena, "addr:%s", a->addr);
		return;
	}
	k = arena_printf(req->arena, "method:%s", a->method);
	for (i = 0; k[i] != '\0'; i++)
		if (k[i] >= 'A' && k[i] <= 'Z')
			k[i] += 'a' - 'A';
	*key = k;
}

/*
 * 429 when the address (per_method 0) or the method (1) has used up
 * its failures in the current window.  Store errors do not block a
 * login (logged).  Returns 0 or -1 with 429 and a Retry-After header.
 */
static int
limiter_check(struct req *req, const struct attempt *a, int per_method,
    struct perr *e)
{
	const struct conf	*c = req->worker->conf;
	sqlite3_stmt		*st;
	struct perr		 se;
	char			*key, *ra;
	int64_t			 now = acl_now_ns(), start, window, left;
	int			 limit, count = 0, rc;

	limit = per_method ? c->acl.login.max_fail_method :
	    c->acl.login.max_fail_addr;
	if (limit == 0)
		return 0;
	window = (int64_t)c->acl.login.window_s * NS_PER_S;
	limiter_key(req, a, per_method, &key);
	perr_clear(&se);
	if ((st = store_stmt(req->store, SQL_LOGIN_FAILURE_GET)) == NULL)
		return 0;
	store_bind_text(st, ":key", key);
	start = 0;
	if ((rc = store_step(req->store, st, &se)) == 1) {
		start = sqlite3_column_int64(st, 0);
		count = sqlite3_column_int(st, 1);
	}
	sqlite3_reset(st);
	if (rc < 0) {
		log_warnx("acl: login limiter: %s", se.msg);
		return 0;
	}
	if (count < limit || now - start >= window)
		return 0;
	left = (start + window - now + NS_PER_S - 1) / NS_PER_S;
	if (left < 1)
		left = 1;
	ra = arena_printf(req->arena, "%lld", (long long)left);
	req_header(req, "Retry-After", ra);
	if (per_method)
		return perr_set(e, 429, "Too many failed logins for auth "
		    "method \"%s\"; try again in %lld seconds", a->method,
		    (long long)left);
	return perr_set(e, 429, "Too many failed logins from %s; try again in "
	    "%lld seconds", a->addr, (long long)left);
}

/* Count one failure against the address and, if it exists, the method. */
static void
limiter_fail(struct req *req, const struct attempt *a)
{
	const struct conf	*c = req->worker->conf;
	sqlite3_stmt		*st;
	struct perr		 se;
	char			*key;
	int64_t			 now = acl_now_ns(), window;
	int			 i;

	window = (int64_t)c->acl.login.window_s * NS_PER_S;
	for (i = 0; i < 2; i++) {
		if (i == 1 && !a->known)
			break;
		if ((i == 0 ? c->acl.login.max_fail_addr :
		    c->acl.login.max_fail_method) == 0)
			continue;
		limiter_key(req, a, i, &key);
		perr_clear(&se);
		if ((st = store_stmt(req->store, SQL_LOGIN_FAILURE_ADD)) ==
		    NULL)
			return;
		store_bind_text(st, ":key", key);
		store_bind_int(st, ":now", now);
		store_bind_int(st, ":window", window);
		if (store_step(req->store, st, &se) < 0)
			log_warnx("acl: login limiter: %s", se.msg);
		sqlite3_reset(st);
	}
	/* Now and then, forget windows long over. */
	if ((now / NS_PER_S) % 64 == 0 &&
	    (st = store_stmt(req->store, SQL_LOGIN_FAILURE_REAP)) != NULL) {
		store_bind_int(st, ":before", now - 2 * window);
		perr_clear(&se);
		if (store_step(req->store, st, &se) < 0)
			log_warnx("acl: login limiter: %s", se.msg);
		sqlite3_reset(st);
	}
}

/*
 * The log line of a failed attempt, and its count for the limiter
 * (count 0: a 429, a 400 or our own fault, which the client did not
 * cause by guessing).  Returns -1 for the handler to return.
 */
static int
failed(struct req *req, const struct attempt *a, int count,
    const struct perr *e)
{
	if (count)
		limiter_fail(req, a);
	log_warnx("acl: %s failed: auth_method=%s addr=%s: %d %s", a->what,
	    a->method, a->addr, e->status, printable(req, e->msg));
	return -1;
}

/* ---------------------------------------------------------------- */
/* Token creation.                                                    */

/*
 * "<prefix>" or "<prefix>: <Meta as Go's json.Marshal renders a
 * map[string]string>": keys sorted, <, > and & escaped.
 */
static const char *
description(struct req *req, const char *prefix, struct json_object *meta)
{
	struct json_object	*s;
	const char		*j;
	char			*o;
	size_t			 n = 0;

	if (meta == NULL || !json_object_is_type(meta, json_type_object) ||
	    json_object_object_length(meta) == 0)
		return prefix;
	s = json_map_sorted(meta);
	j = json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	o = arena_alloc(req->arena, strlen(prefix) + 2 + strlen(j) * 6 + 1);
	n = (size_t)sprintf(o, "%s: ", prefix);
	for (; *j != '\0'; j++) {
		if (*j == '<' || *j == '>' || *j == '&')
			n += (size_t)sprintf(o + n, "\\u%04x", (unsigned)*j);
		else
			o[n++] = *j;
	}
	o[n] = '\0';
	json_object_put(s);
	return o;
}

/*
 * Bind id through the method's rules and create the token, in one
 * transaction; reply with it.  403 "Permission denied" when nothing
 * is bound; *accessor (arena) set on success.
 */
static int
login_token(struct req *req, const char *method, const struct authmethod *m,
    const struct authmethod_identity *id, const char *desc,
    const char **accessor, struct perr *e)
{
	struct acl_bindings	 b;
	struct acl_token_new	 n;
	struct am_row		*am;
	char			 acc[37];

	memset(&b, 0, sizeof(b));
	if (store_begin(req->store, e) == -1)
		return -1;
	if (acl_auth_method_get(req, method, &am, e) == -1)
		goto abort;
	if (am == NULL) {	/* deleted since we looked */
		perr_set(e, 403, "ACL not found: auth method \"%s\" not found",
		    method);
		goto abort;
	}
	if (acl_binding_rule_bind(req, am, m, id, &b, e) == -1)
		goto abort;
	if (acl_bindings_empty(&b)) {
		perr_set(e, 403, "Permission denied");
		goto abort;
	}
	memset(&n, 0, sizeof(n));
	n.description = desc;
	n.policies = b.policies;
	n.roles = b.roles;
	n.svcids = b.svcids;
	n.nodeids = b.nodeids;
	n.local = strcmp(am->token_locality, "global") != 0;
	n.auth_method = am->name;
	n.ttl_ns = am->max_token_ttl;
	if (acl_token_insert(req, &n, acc, e) == -1)
		goto abort;
	if (store_commit(req->store, e) == -1) {
		acl_bindings_clear(&b);
		return -1;
	}
	acl_bindings_clear(&b);
	*accessor = arena_strdup(req->arena, acc);
	return acl_token_reply(req, acc, e);
abort:
	store_rollback(req->store);
	acl_bindings_clear(&b);
	return -1;
}

/*
 * The method the request names, checked against the limiter: 403
 * "ACL not found: auth method ... not found" (a counted failure) or
 * 429.  On success *am is the row and a->known is set.
 */
static int
method_for_login(struct req *req, struct attempt *a, const char *name,
    struct am_row **am, struct perr *e)
{
	if (limiter_check(req, a, 0, e) == -1)
		return failed(req, a, 0, e);
	if (acl_auth_method_get(req, name ? name : "", am, e) == -1)
		return failed(req, a, 0, e);
	if (*am == NULL) {
		perr_set(e, 403, "ACL not found: auth method \"%s\" not found",
		    name ? name : "");
		return failed(req, a, 1, e);
	}
	a->known = 1;
	if (limiter_check(req, a, 1, e) == -1)
		return failed(req, a, 0, e);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Handlers.                                                          */

/*
 * POST /v1/acl/login  {AuthMethod, BearerToken, Meta}
 * Reply: the new token (SecretID shown).  400 decode; 403 unknown
 * method ("ACL not found: auth method \"x\" not found") or nothing
 * bound ("Permission denied"); 429 too many failures; 500 the
 * validator's text for a rejected credential, or a bad BindName.
 */
int
acl_login(struct req *req, struct perr *e)
{
	struct login_in			 in;
	struct attempt			 a;
	struct am_row			*am;
	struct authmethod		*m = NULL;
	struct authmethod_identity	*id = NULL;
	const char			*acc = NULL;
	int				 rc;

	memset(&in, 0, sizeof(in));
	attempt_init(req, &a, "login", NULL);
	if (acl_decode(req, login_fields, "structs.ACLLoginParams", &in, NULL,
	    "Failed to decode request body: ", e) == -1)
		return failed(req, &a, 0, e);
	a.method = printable(req, in.auth_method);
	if (method_for_login(req, &a, in.auth_method, &am, e) == -1)
		return -1;
	if (acl_auth_method_load(req, am, 0, &m, e) == -1)
		return failed(req, &a, 0, e);
	if (authmethod_verify(m, in.bearer ? in.bearer : "", &id, e) == -1) {
		authmethod_free(m);
		return failed(req, &a, 1, e);
	}
	rc = login_token(req, am->name, m, id, description(req,
	    "token created via login", in.meta), &acc, e);
	authmethod_identity_free(id);
	authmethod_free(m);
	if (rc == -1)
		return failed(req, &a, e->status == 403, e);
	log_info("acl: login ok: accessor=%s auth_method=%s addr=%s", acc,
	    a.method, a.addr);
	return 0;
}

/*
 * POST /v1/acl/logout  (the request's token, acl.md §1.3)
 * Reply: true; the token is deleted.  401 "Supplied token does not
 * exist" without a token; 403 "ACL not found" for an unknown or expired
 * one; 403 "Permission denied: token wasn't created via login".
 */
int
acl_logout(struct req *req, struct perr *e)
{
	struct attempt		 a;
	struct acl_snap		*s;
	const struct acl_token	*t;
	sqlite3_stmt		*st;
	const char		*secret, *acc, *method;

	attempt_init(req, &a, "logout", NULL);
	secret = acl_req_secret(req);
	if (*secret == '\0') {
		perr_set(e, 401, "Supplied token does not exist");
		return failed(req, &a, 0, e);
	}
	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return failed(req, &a, 0, e);
	t = acl_snap_token_secret(s, secret);
	if (t == NULL || acl_token_expired(t, acl_now_ns())) {
		acl_snap_put(s);
		perr_set(e, 403, "ACL not found");
		return failed(req, &a, 0, e);
	}
	acc = arena_strdup(req->arena, t->accessor_id);
	method = arena_strdup(req->arena, t->auth_method);
	acl_snap_put(s);
	a.method = printable(req, method);
	if (*method == '\0') {
		perr_set(e, 403, "Permission denied: token wasn't created via "
		    "login");
		log_warnx("acl: logout refused: accessor=%s addr=%s: not a "
		    "login token", acc, a.addr);
		return -1;
	}
	if (store_begin(req->store, e) == -1)
		return failed(req, &a, 0, e);
	if ((st = store_stmt(req->store, SQL_ACL_TOKEN_DELETE)) == NULL) {
		store_rollback(req->store);
		perr_set(e, 500, "internal store error");
		return failed(req, &a, 0, e);
	}
	store_bind_text(st, ":id", acc);
	if (store_step(req->store, st, e) < 0) {
		store_rollback(req->store);
		return failed(req, &a, 0, e);
	}
	store_touch(req->store, TBL_ACL_TOKENS);
	if (store_commit(req->store, e) == -1)
		return failed(req, &a, 0, e);
	log_info("acl: logout ok: accessor=%s auth_method=%s addr=%s", acc,
	    a.method, a.addr);
	req->reply = json_object_new_boolean(1);
	return 0;
}

/* The method must be of type oidc for the two OIDC endpoints. */
static int
oidc_type(const struct am_row *am, const char *what, struct perr *e)
{
	if (strcmp(am->type, "oidc") == 0)
		return 0;
	return perr_set(e, 500, "%s is incompatible with type \"%s\"", what,
	    am->type);
}

/* Store a pending flow (outside any transaction; see the file top). */
static int
state_put(struct req *req, const struct am_row *am, const char *state,
    const char *nonce, const struct oidc_in *in, struct perr *e)
{
	sqlite3_stmt	*st;
	int64_t		 now = acl_now_ns();
	int		 n;

	if ((st = store_stmt(req->store, SQL_OIDC_STATE_REAP)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(st, ":now", now);
	if (store_step(req->store, st, e) < 0)
		return -1;
	sqlite3_reset(st);
	if ((st = store_stmt(req->store, SQL_OIDC_STATE_COUNT)) == NULL)
		return perr_set(e, 500, "internal store error");
	if (store_step(req->store, st, e) != 1)
		return perr_set(e, 500, "internal store error");
	n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	if (n >= MAX_PENDING_STATES)
		return perr_set(e, 429, "Too many pending OIDC logins; try "
		    "again later");
	if ((st = store_stmt(req->store, SQL_OIDC_STATE_PUT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":state", state);
	store_bind_text(st, ":auth_method", am->name);
	store_bind_text(st, ":nonce", nonce);
	store_bind_text(st, ":redirect_uri", in->redirect_uri);
	store_bind_text(st, ":client_nonce", in->client_nonce ?
	    in->client_nonce : "");
	store_bind_text(st, ":meta", in->meta != NULL &&
	    json_object_object_length(in->meta) > 0 ?
	    json_object_to_json_string_ext(in->meta, JSON_C_TO_STRING_PLAIN) :
	    NULL);
	store_bind_int(st, ":expires_ns", now +
	    (int64_t)req->worker->conf->acl.login.state_ttl_s * NS_PER_S);
	if (store_step(req->store, st, e) < 0)
		return -1;
	sqlite3_reset(st);
	return 0;
}

/*
 * POST /v1/acl/oidc/auth-url  {AuthMethod, RedirectURI, ClientNonce,
 * Meta}
 * Reply: {"AuthURL": "<provider authorize URL>"}; the state and nonce
 * in it are stored for the callback.  403 unknown method; 500 "missing
 * redirect_uri", "unauthorized redirect_uri: <uri>", a method not of
 * type oidc, discovery failures; 429 too many pending flows.
 */
int
acl_oidc_auth_url(struct req *req, struct perr *e)
{
	struct oidc_in		 in;
	struct am_row		*am;
	struct authmethod	*m = NULL;
	struct json_object	*o;
	char			 state[AM_STATE_LEN + 1], nonce[AM_STATE_LEN + 1];
	char			*url = NULL;

	memset(&in, 0, sizeof(in));
	if (acl_decode(req, auth_url_fields, "structs.ACLOIDCAuthURLParams",
	    &in, NULL, "Failed to decode request body: ", e) == -1)
		return -1;
	if (acl_auth_method_get(req, in.auth_method ? in.auth_method : "", &am,
	    e) == -1)
		return -1;
	if (am == NULL)
		return perr_set(e, 403, "ACL not found: auth method \"%s\" not "
		    "found", in.auth_method ? in.auth_method : "");
	if (oidc_type(am, "GetAuthCodeURL", e) == -1 ||
	    acl_auth_method_load(req, am, 0, &m, e) == -1)
		return -1;
	authmethod_oidc_state(state, nonce);
	if (authmethod_oidc_auth_url(m, in.redirect_uri, state, nonce, &url,
	    e) == -1) {
		authmethod_free(m);
		return -1;
	}
	authmethod_free(m);
	if (state_put(req, am, state, nonce, &in, e) == -1) {
		free(url);
		return -1;
	}
	o = json_object_new_object();
	json_object_object_add(o, "AuthURL", json_object_new_string(url));
	free(url);
	req->reply = o;
	log_debug("acl: oidc auth-url: auth_method=%s addr=%s",
	    printable(req, am->name), printable(req, req->remote_addr));
	return 0;
}

/* A stored flow, consumed. */
struct pending {
	const char		*auth_method;
	const char		*nonce;
	const char		*redirect_uri;
	const char		*client_nonce;
	struct json_object	*meta;		/* owned, or NULL */
	int64_t			 expires_ns;
};

/* Take (and so delete) the flow of state; *found 0 when there is none. */
static int
state_take(struct req *req, const char *state, struct pending *p,
    int *found, struct perr *e)
{
	sqlite3_stmt	*st;
	const char	*meta;
	struct perr	 je;
	int		 rc;

	*found = 0;
	memset(p, 0, sizeof(*p));
	if ((st = store_stmt(req->store, SQL_OIDC_STATE_TAKE)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":state", state);
	if ((rc = store_step(req->store, st, e)) == 1) {
		*found = 1;
		p->auth_method = arena_strdup(req->arena,
		    store_col_text(st, 0));
		p->nonce = arena_strdup(req->arena, store_col_text(st, 1));
		p->redirect_uri = arena_strdup(req->arena,
		    store_col_text(st, 2));
		p->client_nonce = arena_strdup(req->arena,
		    store_col_text(st, 3));
		if ((meta = store_col_text(st, 4)) != NULL) {
			perr_clear(&je);
			if (json_parse_text(meta, strlen(meta), &p->meta,
			    &je) == -1)
				p->meta = NULL;
		}
		p->expires_ns = sqlite3_column_int64(st, 5);
		/* RETURNING: the delete completes when stepped to the end. */
		while ((rc = store_step(req->store, st, e)) == 1)
			;
	}
	sqlite3_reset(st);
	if (rc < 0) {
		json_object_put(p->meta);
		p->meta = NULL;
		return -1;
	}
	return 0;
}

/*
 * POST /v1/acl/oidc/callback  {AuthMethod, State, Code, ClientNonce,
 * Meta}
 * Reply: the new token.  The state is consumed whatever happens next.
 * 403 unknown method or nothing bound; 429 too many failures; 500
 * "Provider login failed: ..." (no code; expired, used or unknown
 * state; client nonce mismatch; code exchange) and "Token verification
 * failed: ..." (ID token signature, audience, nonce, expiry).
 */
int
acl_oidc_callback(struct req *req, struct perr *e)
{
	struct oidc_in			 in;
	struct attempt			 a;
	struct pending			 p;
	struct am_row			*am;
	struct authmethod		*m = NULL;
	struct authmethod_identity	*id = NULL;
	struct json_object		*meta;
	const char			*acc = NULL;
	int				 found, rc;

	memset(&in, 0, sizeof(in));
	memset(&p, 0, sizeof(p));
	attempt_init(req, &a, "oidc login", NULL);
	if (acl_decode(req, callback_fields, "structs.ACLOIDCCallbackParams",
	    &in, NULL, "Failed to decode request body: ", e) == -1)
		return failed(req, &a, 0, e);
	a.method = printable(req, in.auth_method);
	if (method_for_login(req, &a, in.auth_method, &am, e) == -1)
		return -1;
	if (oidc_type(am, "ClaimsFromAuthCode", e) == -1)
		return failed(req, &a, 0, e);
	if (in.code == NULL || *in.code == '\0') {
		perr_set(e, 500, "Provider login failed: OAuth code parameter "
		    "not provided");
		return failed(req, &a, 1, e);
	}
	if (state_take(req, in.state ? in.state : "", &p, &found, e) == -1)
		return failed(req, &a, 0, e);
	if (!found || p.expires_ns <= acl_now_ns() ||
	    strcasecmp(p.auth_method, am->name) != 0) {
		json_object_put(p.meta);
		perr_set(e, 500, "Provider login failed: Expired or missing "
		    "OAuth state.");
		return failed(req, &a, 1, e);
	}
	/* XXX #5: Consul's text for this check is not public (acl.md §14). */
	if (*p.client_nonce != '\0' && (in.client_nonce == NULL ||
	    !ct_streq(p.client_nonce, in.client_nonce))) {
		json_object_put(p.meta);
		perr_set(e, 500, "Provider login failed: Invalid client "
		    "nonce.");
		return failed(req, &a, 1, e);
	}
	if (acl_auth_method_load(req, am, 0, &m, e) == -1) {
		json_object_put(p.meta);
		return failed(req, &a, 0, e);
	}
	if (authmethod_oidc_callback(m, in.code, p.redirect_uri, p.nonce, &id,
	    e) == -1) {
		authmethod_free(m);
		json_object_put(p.meta);
		return failed(req, &a, 1, e);
	}
	meta = in.meta != NULL && json_object_object_length(in.meta) > 0 ?
	    in.meta : p.meta;
	rc = login_token(req, am->name, m, id, description(req,
	    "token created via OIDC login", meta), &acc, e);
	authmethod_identity_free(id);
	authmethod_free(m);
	json_object_put(p.meta);
	if (rc == -1)
		return failed(req, &a, e->status == 403, e);
	log_info("acl: oidc login ok: accessor=%s auth_method=%s addr=%s", acc,
	    a.method, a.addr);
	return 0;
}
