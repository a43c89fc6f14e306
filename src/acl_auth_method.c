/*
 * acl_auth_method.c -- the ACL auth method API (acl.md §7):
 *
 *   PUT    /v1/acl/auth-method          create or update (upsert by Name)
 *   GET    /v1/acl/auth-method/:name    read
 *   PUT    /v1/acl/auth-method/:name    update (whole replace; Type and
 *                                       Name immutable)
 *   DELETE /v1/acl/auth-method/:name    delete, with its binding rules
 *                                       and every token it created
 *   GET    /v1/acl/auth-methods         list (no Config)
 *
 * Config is validated per type by authmethod.c (with its JWKS or
 * discovery document fetched at write, as Consul does) and stored as
 * given; Consul renders it as a Go map, so keys come back sorted.  Also
 * the row access and validator loading that binding rules and login
 * share.  Names compare case-insensitively (Consul's state store
 * lower-cases its auth method index).  Validation errors are 500 with
 * Consul's texts (acl.md §1.10).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "acl_auth_method.h"
#include "authmethod.h"
#include "conf.h"
#include "fetch.h"
#include "json.h"
#include "req.h"
#include "seal.h"
#include "seal_db.h"
#include "store.h"
#include "util.h"

#define TTL_MIN_NS	(60LL * 1000000000)		/* 1m, as tokens */
#define TTL_MAX_NS	(24LL * 3600 * 1000000000)	/* 24h */
#define CACHE_TTL_MS	(5 * 60 * 1000)		/* JWKS, discovery */

struct am_in {
	const char		*name;
	const char		*type;
	const char		*display_name;
	const char		*description;
	struct json_object	*max_ttl;
	const char		*token_locality;
	struct json_object	*config;
};

#define AI(f)	offsetof(struct am_in, f)
static const struct jfield am_fields[] = {
	{ "Name", J_STRING, AI(name), "string" },
	{ "Type", J_STRING, AI(type), "string" },
	{ "DisplayName", J_STRING, AI(display_name), "string" },
	{ "Description", J_STRING, AI(description), "string" },
	{ "MaxTokenTTL", J_ANY, AI(max_ttl), "interface {}" },
	{ "TokenLocality", J_STRING, AI(token_locality), "string" },
	{ "Config", J_ANY, AI(config), "map[string]interface {}" },
	{ "CreateIndex", J_IGNORE, 0, NULL },
	{ "ModifyIndex", J_IGNORE, 0, NULL },
	{ NULL, 0, 0, NULL }
};

/*
 * Set authmethod.c's outbound limits from the configuration, once per
 * process, before the first auth method is loaded (every entry point
 * of this family calls it first).
 */
void
acl_auth_method_net(const struct conf *c)
{
	static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
	static int		 done;
	struct authmethod_net	 n;

	pthread_mutex_lock(&mtx);
	if (!done) {
		n.timeout_ms = c->acl.login.timeout_ms;
		n.connect_ms = n.timeout_ms < FETCH_CONNECT_MS ? n.timeout_ms :
		    FETCH_CONNECT_MS;
		n.max_bytes = FETCH_MAXBYTES;
		n.cache_ttl_ms = CACHE_TTL_MS;
		authmethod_set_net(&n);
		done = 1;
	}
	pthread_mutex_unlock(&mtx);
}

/* ^[A-Za-z0-9\-_]{1,128}$ */
static int
name_valid(const char *s)
{
	size_t	n = strlen(s), i;

	if (n == 0 || n > 128)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

static char *
col(struct req *req, struct store_q *st, int c)
{
	const char	*v = store_col_text(st, c);

	return v == NULL ? NULL : arena_strdup(req->arena, v);
}

static struct am_row *
row_read(struct req *req, struct store_q *st)
{
	struct am_row	*r;

	r = arena_alloc(req->arena, sizeof(*r));
	r->name = col(req, st, 0);
	r->type = col(req, st, 1);
	r->display_name = col(req, st, 2);
	r->description = col(req, st, 3);
	r->max_token_ttl = store_col_int(st, 4);
	r->token_locality = col(req, st, 5);
	r->config = col(req, st, 6);
	r->create_index = (uint64_t)store_col_int(st, 7);
	r->modify_index = (uint64_t)store_col_int(st, 8);
	return r;
}

/* The row's key (name_key): lower(Name), ASCII (names are ASCII). */
static char *
name_key(struct req *req, const char *name)
{
	char	*k, *p;

	k = arena_strdup(req->arena, name);
	for (p = k; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return k;
}

static int
config_open(struct req *req, struct am_row *r, struct perr *e)
{
	char	*open;

	if (seal_db_json_open(r->config, "acl_auth_method",
	    name_key(req, r->name), seal_auth_method_fields, &open, e) == -1) {
		log_warnx("acl: auth method %s: %s", r->name, e->msg);
		return -1;
	}
	r->config = arena_strdup(req->arena, open);
	secret_free(open);
	return 0;
}

/*
 * Look up the auth method called name (case-insensitively), inside or
 * outside a transaction.  *out is the row (arena) or NULL when there is
 * none.  Returns 0, or -1 with 500 (store).
 */
int
acl_auth_method_get(struct req *req, const char *name, struct am_row **out,
    struct perr *e)
{
	struct store_q	*st;
	int		 rc;

	*out = NULL;
	if ((st = store_stmt(req->store, SQL_AUTH_METHOD_GET)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":name", name);
	if ((rc = store_step(req->store, st, e)) == 1)
		*out = row_read(req, st);
	store_reset(st);
	if (rc < 0)
		return -1;
	/* The secret fields are sealed (seal.c), bound to lower(Name). */
	if (*out != NULL && (*out)->config != NULL &&
	    config_open(req, *out, e) == -1) {
		*out = NULL;
		return -1;
	}
	return 0;
}

/*
 * Load the validator of a stored method (authmethod_load with flags:
 * AM_LOAD_REMOTE fetches its JWKS or discovery document now).  *out is
 * owned by the caller (authmethod_free).  Returns -1 with the
 * validator's 500, unprefixed.
 */
int
acl_auth_method_load(struct req *req, const struct am_row *r, int flags,
    struct authmethod **out, struct perr *e)
{
	struct json_object	*cfg = NULL;
	int			 rc;

	acl_auth_method_net(req->worker->conf);
	if (r->config != NULL && json_parse_text(r->config, strlen(r->config),
	    &cfg, e) == -1)
		return perr_set(e, 500, "internal store error");
	rc = authmethod_load(r->name, r->type, cfg, flags, out, e);
	json_object_put(cfg);
	return rc;
}

/* Go renders map[string]interface{} with sorted keys, at every depth. */
static struct json_object *
sorted_deep(struct json_object *v)
{
	struct json_object	*s, *o;
	size_t			 i, n;

	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		o = json_object_new_array_ext((int)n);
		for (i = 0; i < n; i++)
			json_object_array_add(o, sorted_deep(
			    json_object_array_get_idx(v, i)));
		return o;
	}
	if (!json_object_is_type(v, json_type_object))
		return json_object_get(v);
	s = json_map_sorted(v);
	o = json_object_new_object();
	json_object_object_foreach(s, k, cv)
		json_object_object_add(o, k, sorted_deep(cv));
	json_object_put(s);
	return o;
}

/* The method as Consul renders it; stub: the list form (no Config). */
static struct json_object *
am_json(const struct am_row *r, int stub)
{
	struct json_object	*o, *cfg = NULL;
	struct perr		 e;
	char			 d[64];

	o = json_object_new_object();
	json_object_object_add(o, "Name", json_object_new_string(r->name));
	json_object_object_add(o, "Type", json_object_new_string(r->type));
	if (*r->display_name != '\0')
		json_object_object_add(o, "DisplayName",
		    json_object_new_string(r->display_name));
	if (*r->description != '\0')
		json_object_object_add(o, "Description",
		    json_object_new_string(r->description));
	if (r->max_token_ttl != 0) {
		duration_format(r->max_token_ttl, d);
		json_object_object_add(o, "MaxTokenTTL",
		    json_object_new_string(d));
	}
	if (*r->token_locality != '\0')
		json_object_object_add(o, "TokenLocality",
		    json_object_new_string(r->token_locality));
	if (!stub) {
		perr_clear(&e);
		if (r->config != NULL && json_parse_text(r->config,
		    strlen(r->config), &cfg, &e) == 0) {
			json_object_object_add(o, "Config", sorted_deep(cfg));
			json_object_put(cfg);
		} else
			json_object_object_add(o, "Config", NULL);
	}
	json_object_object_add(o, "CreateIndex",
	    json_object_new_uint64(r->create_index));
	json_object_object_add(o, "ModifyIndex",
	    json_object_new_uint64(r->modify_index));
	return o;
}

/*
 * MaxTokenTTL as Consul's ACLAuthMethod.UnmarshalJSON takes it: a Go
 * duration string or a number of nanoseconds; other types are ignored.
 */
static int
parse_ttl(struct json_object *v, int64_t *ns, struct perr *e)
{
	*ns = 0;
	if (v == NULL)
		return 0;
	switch (json_object_get_type(v)) {
	case json_type_int:
	case json_type_double:
		/*
		 * Go takes a float64 and converts it: out of int64's range
		 * that gives INT64_MIN on amd64 (in C it would be undefined).
		 */
		if (json_get_int64(v, ns) == 0)
			return 0;
		if (json_double_int64(json_object_get_double(v), ns) == -1)
			*ns = INT64_MIN;
		return 0;
	case json_type_string:
		if (duration_parse(json_object_get_string(v), ns) == -1)
			return perr_set(e, 400, "AuthMethod decoding failed: "
			    "time: invalid duration \"%s\"",
			    json_object_get_string(v));
		return 0;
	default:
		return 0;
	}
}

/*
 * Create or update (agent/consul/acl_endpoint.go AuthMethodSet): url
 * is the :name of the update route, NULL on create.
 */
static int
am_set(struct req *req, const char *url, struct perr *e)
{
	struct am_in		 in;
	struct am_row		*old = NULL, *now = NULL;
	struct authmethod	*m = NULL;
	struct store_q		*st;
	const char		*type, *cfgtext = NULL;
	char			*sealed;
	char			 a[64], b[64];
	int64_t			 ttl;

	memset(&in, 0, sizeof(in));
	if (acl_decode(req, am_fields, "structs.ACLAuthMethod", &in, NULL,
	    "AuthMethod decoding failed: ", e) == -1 ||
	    parse_ttl(in.max_ttl, &ttl, e) == -1)
		return -1;
	if (in.config != NULL && !json_object_is_type(in.config,
	    json_type_object))
		return perr_set(e, 400, "AuthMethod decoding failed: json: "
		    "cannot unmarshal %s into Go struct field "
		    "ACLAuthMethod.Config of type map[string]interface {}",
		    json_type_go(in.config));
	if (url != NULL && *url != '\0') {
		if (in.name != NULL && *in.name != '\0' &&
		    strcmp(in.name, url) != 0)
			return perr_set(e, 400, "AuthMethod Name in URL and "
			    "payload do not match");
		if (in.name == NULL || *in.name == '\0')
			in.name = url;
	}
	if (in.name == NULL || *in.name == '\0')
		return perr_set(e, 500, "Invalid Auth Method: no Name is set");
	if (!name_valid(in.name))
		return perr_set(e, 500, "Invalid Auth Method: invalid Name. "
		    "Only alphanumeric characters, '-' and '_' are allowed");
	acl_auth_method_net(req->worker->conf);

	/*
	 * The validator may fetch a JWKS or discovery document: do it
	 * before taking the write lock, then check again inside.
	 */
	if (acl_auth_method_get(req, in.name, &old, e) == -1)
		return -1;
	type = in.type != NULL ? in.type : "";
	if (old != NULL) {
		if (*type == '\0')
			type = old->type;
		else if (strcmp(type, old->type) != 0)
			return perr_set(e, 500, "the Type field of an Auth "
			    "Method is immutable");
	}
	if (authmethod_type_parse(type) == -1)
		return perr_set(e, 500, "Invalid Auth Method: Type should be "
		    "one of: [jwt kubernetes oidc]");
	if (ttl != 0) {
		duration_format(ttl, a);
		if (ttl > TTL_MAX_NS) {
			duration_format(TTL_MAX_NS, b);
			return perr_set(e, 500, "MaxTokenTTL %s cannot be more "
			    "than %s", a, b);
		}
		if (ttl < TTL_MIN_NS) {
			duration_format(TTL_MIN_NS, b);
			return perr_set(e, 500, "MaxTokenTTL %s cannot be less "
			    "than %s", a, b);
		}
	}
	if (in.token_locality != NULL && *in.token_locality != '\0' &&
	    strcmp(in.token_locality, "local") != 0 &&
	    strcmp(in.token_locality, "global") != 0)
		return perr_set(e, 500, "Invalid Auth Method: TokenLocality "
		    "should be one of 'local' or 'global'");
	if (authmethod_load(in.name, type, in.config, AM_LOAD_REMOTE, &m, e) ==
	    -1) {
		e->status = 500;
		return perr_prefix(e, "Invalid Auth Method: ");
	}
	authmethod_free(m);
	if (in.config != NULL)
		cfgtext = arena_strdup(req->arena,
		    json_object_to_json_string_ext(in.config,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

	if (store_begin(req->store, e) == -1)
		return -1;
	if (acl_auth_method_get(req, in.name, &now, e) == -1)
		goto abort;
	if (now != NULL && strcmp(now->type, type) != 0) {
		perr_set(e, 500, "the Type field of an Auth Method is "
		    "immutable");
		goto abort;
	}
	if (cfgtext != NULL) {
		if (seal_db_json(req->store, cfgtext, "acl_auth_method",
		    name_key(req, in.name), seal_auth_method_fields, &sealed,
		    e) == -1)
			goto abort;
		cfgtext = arena_strdup(req->arena, sealed);
		free(sealed);
	}
	if ((st = store_stmt(req->store, SQL_AUTH_METHOD_UPSERT)) == NULL) {
		perr_set(e, 500, "internal store error");
		goto abort;
	}
	store_bind_text(st, ":name", in.name);
	store_bind_text(st, ":type", type);
	store_bind_text(st, ":display_name", in.display_name ?
	    in.display_name : "");
	store_bind_text(st, ":description", in.description ?
	    in.description : "");
	store_bind_int(st, ":max_token_ttl", ttl);
	store_bind_text(st, ":token_locality", in.token_locality ?
	    in.token_locality : "");
	store_bind_text(st, ":config", cfgtext);
	store_bind_int(st, ":idx", (int64_t)store_tx_index(req->store));
	if (store_step(req->store, st, e) < 0)
		goto abort;
	if (acl_auth_method_get(req, in.name, &now, e) == -1 || now == NULL)
		goto abort;
	store_touch_id(req->store, TBL_ACL_AUTH_METHODS, in.name);
	if (store_commit(req->store, e) == -1)
		return -1;
	log_info("acl: auth method %s %s", now->name, old ? "updated" :
	    "created");
	req->reply = am_json(now, 0);
	return 0;
abort:
	if (e->status == 0)
		perr_set(e, 500, "internal store error");
	store_rollback(req->store);
	return -1;
}

/*
 * PUT /v1/acl/auth-method
 * Reply: the stored method (an existing Name is updated).  400 decode;
 * 500 validation (acl.md §7.2).
 */
int
acl_auth_method_create(struct req *req, struct perr *e)
{
	return am_set(req, NULL, e);
}

/*
 * PUT /v1/acl/auth-method/:name
 * Reply: the stored method.  400 decode or a body Name other than the
 * URL's; 500 validation, Type changes.
 */
int
acl_auth_method_update(struct req *req, struct perr *e)
{
	const char	*name = req_param(req, "name");

	return am_set(req, name ? name : "", e);
}

/*
 * GET /v1/acl/auth-method/:name
 * Reply: the method with its Config.  404 "Requested auth method does
 * not exist: ACL not found".
 */
int
acl_auth_method_read(struct req *req, struct perr *e)
{
	struct am_row	*r;

	req->index = store_index(TBL_ACL_AUTH_METHODS);
	if (acl_auth_method_get(req, req_param(req, "name"), &r, e) == -1)
		return -1;
	if (r == NULL)
		return perr_set(e, 404, "Requested auth method does not exist: "
		    "ACL not found");
	req->reply = am_json(r, 0);
	return 0;
}

/* Run one single-parameter delete; *changed gets the row count. */
static int
del(struct req *req, enum sql_id q, const char *name, int *changed,
    struct perr *e)
{
	struct store_q	*st;

	if ((st = store_stmt(req->store, q)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":name", name);
	if (store_step(req->store, st, e) < 0)
		return -1;
	*changed = (int)store_changes(st);
	return 0;
}

/*
 * DELETE /v1/acl/auth-method/:name
 * Reply: true, also when there is no such method.  Its binding rules
 * and the tokens it created go in the same transaction (acl.md §7.2).
 */
int
acl_auth_method_delete(struct req *req, struct perr *e)
{
	const char	*name = req_param(req, "name");
	struct am_row	*r;
	int		 nrules, ntokens, n;

	if (store_begin(req->store, e) == -1)
		return -1;
	if (acl_auth_method_get(req, name, &r, e) == -1)
		goto abort;
	if (r == NULL) {
		store_rollback(req->store);
		req->reply = json_object_new_boolean(1);
		return 0;
	}
	if (del(req, SQL_AUTH_METHOD_DELETE_TOKENS, r->name, &ntokens, e) ==
	    -1 ||
	    del(req, SQL_AUTH_METHOD_DELETE_RULES, r->name, &nrules, e) == -1 ||
	    del(req, SQL_AUTH_METHOD_DELETE, r->name, &n, e) == -1)
		goto abort;
	store_touch_id(req->store, TBL_ACL_AUTH_METHODS, r->name);
	if (nrules > 0)
		store_touch(req->store, TBL_ACL_BINDING_RULES);
	if (ntokens > 0)
		store_touch(req->store, TBL_ACL_TOKENS);
	if (store_commit(req->store, e) == -1)
		return -1;
	log_info("acl: auth method %s deleted with %d binding rule(s) and %d "
	    "token(s)", r->name, nrules, ntokens);
	req->reply = json_object_new_boolean(1);
	return 0;
abort:
	store_rollback(req->store);
	return -1;
}

/*
 * GET /v1/acl/auth-methods
 * Reply: stubs without Config, sorted by Name; [] when none.
 */
int
acl_auth_method_list(struct req *req, struct perr *e)
{
	struct json_object	*arr;
	struct store_q		*st;
	int			 rc;

	req->index = store_index(TBL_ACL_AUTH_METHODS);
	if ((st = store_stmt(req->store, SQL_AUTH_METHOD_ALL)) == NULL)
		return perr_set(e, 500, "internal store error");
	arr = json_object_new_array();
	while ((rc = store_step(req->store, st, e)) == 1)
		json_object_array_add(arr, am_json(row_read(req, st), 1));
	store_reset(st);
	if (rc < 0) {
		json_object_put(arr);
		return -1;
	}
	req->reply = arr;
	return 0;
}

/* GET|DELETE /v1/acl/auth-method/ -- 400 "Missing auth method name". */
int
acl_auth_method_missing(struct req *req, struct perr *e)
{
	(void)req;
	return perr_set(e, 400, "Missing auth method name");
}
