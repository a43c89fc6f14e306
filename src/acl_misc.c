/*
 * acl_misc.c -- the rest of the ACL API and the ACL store's start-up:
 *
 *   PUT  /v1/acl/bootstrap                      one-time management token
 *   GET  /v1/acl/replication                    single-DC status (zeros)
 *   POST /v1/acl/rules/translate                legacy rules -> current
 *   GET  /v1/acl/rules/translate/:accessor_id   a legacy token's rules
 *   GET|DELETE /v1/acl/{token,policy,role}[/name]/   400 "Missing ..."
 *
 * acl_store_init() runs in the master before the workers start: it
 * creates the builtin policies and the anonymous token on first start,
 * and the acl.tokens.initial_management token when configured (that
 * creation counts as the bootstrap, acl.md §2).
 *
 * Bootstrap state: meta key "acl_bootstrap_index" holds the reset
 * index; the operator allows a new bootstrap by writing that number
 * into <data_dir>/acl-bootstrap-reset.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "conf.h"
#include "json.h"
#include "req.h"
#include "route.h"
#include "seal.h"
#include "store.h"
#include "util.h"

#define META_BOOTSTRAP	ACL_META_BOOTSTRAP

/*
 * Insert a global token with no identities in the open transaction of
 * s: the anonymous, bootstrap and initial management tokens.
 * policies: JSON text or NULL.  The Hash is computed as token_write()
 * in acl_token.c computes it.
 */
static int
token_insert(struct store *s, const char *accessor, const char *secret,
    const char *description, const char *policies, struct perr *e)
{
	struct store_q	*st;
	const char	*parts[3];
	char		 hash[64], now[40], h[SEAL_TOKEN_LEN];

	parts[0] = description;
	parts[1] = "global";
	parts[2] = policies;
	acl_hash(parts, 3, hash);
	acl_time_format(acl_now_ns(), now);
	if ((st = store_stmt(s, SQL_ACL_TOKEN_UPSERT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":accessor_id", accessor);
	store_bind_text(st, ":secret_id", seal_token_stored(secret, h));
	store_bind_text(st, ":description", description);
	store_bind_text(st, ":policies", policies);
	store_bind_text(st, ":roles", NULL);
	store_bind_text(st, ":service_identities", NULL);
	store_bind_text(st, ":node_identities", NULL);
	store_bind_int(st, ":local", 0);
	store_bind_text(st, ":auth_method", "");
	store_bind_text(st, ":expiration_time", NULL);
	store_bind_text(st, ":expiration_ns", NULL);
	store_bind_text(st, ":create_time", now);
	store_bind_text(st, ":hash", hash);
	store_bind_int(st, ":idx", (int64_t)store_tx_index(s));
	if (store_step(s, st, e) < 0)
		return -1;
	store_touch_id(s, TBL_ACL_TOKENS, accessor);
	return 0;
}

/* 1 when query id (one :id or :secret parameter) finds a row. */
static int
exists(struct store *s, enum sql_id id, const char *param, const char *v,
    struct perr *e)
{
	struct store_q	*st;
	char		 h[SEAL_TOKEN_LEN];
	int		 rc;

	if ((st = store_stmt(s, id)) == NULL)
		return perr_set(e, 500, "internal store error");
	/* SecretIDs as stored (hashed under acl.hash_secrets). */
	if (id == SQL_ACL_TOKEN_SECRET_EXISTS)
		v = seal_token_stored(v, h);
	if (id == SQL_ACL_TOKEN_ID_IN_USE)
		store_bind_text(st, ":h", seal_token_stored(v, h));
	store_bind_text(st, param, v);
	rc = store_step(s, st, e);
	store_reset(st);
	return rc;
}

/* A random UUID for a new token, outside the reserved range. */
static void
new_uuid(char out[37])
{
	do
		uuid_generate_v4(out);
	while (strncmp(out, ACL_RESERVED_PREFIX,
	    strlen(ACL_RESERVED_PREFIX)) == 0);
}

/*
 * Create what the ACL system needs at start (master, before forking):
 * the builtin policies and the anonymous token when missing, and the
 * initial management token when ACLs are on and
 * acl.tokens.initial_management names a secret no token has.  One
 * transaction; nothing is written when nothing is missing.  Returns 0
 * or -1 (500).
 */
int
acl_store_init(struct store *s, const struct conf *c, struct perr *e)
{
	const char	*im = c->acl.initial_management;
	char		*bidx = NULL, acc[37], idx[32];
	size_t		 i;
	int		 rc, wrote = 0;

	if (store_begin(s, e) == -1)
		return -1;
	for (i = 0; i < ACL_BUILTIN__MAX; i++) {
		if ((rc = exists(s, SQL_ACL_POLICY_GET, ":id",
		    acl_builtins[i].id, e)) == -1)
			goto abort;
		if (rc == 1)
			continue;
		if (acl_policy_write(s, acl_builtins[i].id,
		    acl_builtins[i].name, acl_builtins[i].description,
		    acl_builtins[i].rules, NULL, e) == -1)
			goto abort;
		wrote = 1;
	}
	if ((rc = exists(s, SQL_ACL_TOKEN_GET, ":id",
	    ACL_ANONYMOUS_ACCESSOR_ID, e)) == -1)
		goto abort;
	if (rc == 0) {
		if (token_insert(s, ACL_ANONYMOUS_ACCESSOR_ID,
		    ACL_ANONYMOUS_SECRET, "Anonymous Token", NULL, e) == -1)
			goto abort;
		wrote = 1;
	}
	if (c->acl.enabled && im != NULL && *im != '\0') {
		if ((rc = exists(s, SQL_ACL_TOKEN_SECRET_EXISTS, ":secret", im,
		    e)) == -1)
			goto abort;
		if (rc == 0) {
			if (!uuid_valid(im))
				log_warnx("acl: initial_management is not a "
				    "UUID; accepted anyway");
			new_uuid(acc);
			if (token_insert(s, acc, im, "Initial Management Token",
			    "[\"" ACL_MGMT_POLICY_ID "\"]", e) == -1)
				goto abort;
			if (store_meta_get(s, META_BOOTSTRAP, &bidx, e) == -1)
				goto abort;
			if (bidx == NULL) {
				snprintf(idx, sizeof(idx), "%llu",
				    (unsigned long long)store_tx_index(s));
				if (store_meta_put(s, META_BOOTSTRAP, idx,
				    e) == -1)
					goto abort;
			}
			free(bidx);
			bidx = NULL;
			log_info("acl: created the initial management token "
			    "%s", acc);
			wrote = 1;
		}
	}
	if (!wrote) {
		store_rollback(s);
		return 0;
	}
	return store_commit(s, e);
abort:
	free(bidx);
	store_rollback(s);
	return -1;
}

/*
 * The number in <data_dir>/acl-bootstrap-reset, deleting the file when
 * it held one (acl.md §2).  -1 when there is no usable file.
 */
static long long
reset_file(const struct conf *c)
{
	char		*path;
	FILE		*f;
	long long	 v = -1;

	xasprintf(&path, "%s/acl-bootstrap-reset", c->data_dir);
	if ((f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
		if (v >= 0 && unlink(path) == -1)
			log_warn("acl: unlink %s", path);
	}
	free(path);
	return v;
}

struct bootstrap_in {
	const char	*secret;
};

static const struct jfield bootstrap_fields[] = {
	{ "BootstrapSecret", J_STRING, offsetof(struct bootstrap_in, secret),
	    "string" },
	{ NULL, 0, 0, NULL }
};

/*
 * PUT /v1/acl/bootstrap [{"BootstrapSecret": "<uuid>"}]
 * Reply: the new management token with a leading deprecated "ID" (=
 * SecretID).  403 "Permission denied: ACL bootstrap no longer allowed
 * (reset index: N)" once done, unless the reset file names N; 500
 * "Invalid bootstrap reset index (...)" when it names another number.
 */
int
acl_bootstrap(struct req *req, struct perr *e)
{
	struct bootstrap_in	 in;
	struct acl_snap		*s;
	const struct acl_token	*t;
	struct json_object	*o, *tj;
	char			*bidx = NULL, acc[37], sec[37], idx[32];
	long long		 have, want;
	int			 rc;

	memset(&in, 0, sizeof(in));
	if (req->bodylen > 0 && req_decode_body(req, bootstrap_fields,
	    "structs.ACLInitialTokenBootstrap", &in, NULL, e) == -1) {
		e->status = 400;
		return perr_prefix(e, "Request decoding failed: ");
	}
	if (in.secret != NULL && *in.secret != '\0' && !uuid_valid(in.secret))
		return perr_set(e, 500, "Invalid bootstrap secret: not a valid "
		    "UUID");
	if (store_begin(req->store, e) == -1)
		return -1;
	if (store_meta_get(req->store, META_BOOTSTRAP, &bidx, e) == -1)
		goto abort;
	if (bidx != NULL) {
		have = strtoll(bidx, NULL, 10);
		if ((want = reset_file(req->worker->conf)) < 0) {
			perr_set(e, 403, "Permission denied: ACL bootstrap no "
			    "longer allowed (reset index: %lld)", have);
			goto abort;
		}
		if (want != have) {
			perr_set(e, 500, "Invalid bootstrap reset index "
			    "(specified %lld, reset index: %lld)", want, have);
			goto abort;
		}
	}
	new_uuid(acc);
	if (in.secret != NULL && *in.secret != '\0') {
		if ((rc = exists(req->store, SQL_ACL_TOKEN_ID_IN_USE, ":v",
		    in.secret, e)) != 0) {
			if (rc == 1)
				perr_set(e, 500, "Invalid bootstrap secret: "
				    "already in use");
			goto abort;
		}
		snprintf(sec, sizeof(sec), "%s", in.secret);
	} else
		new_uuid(sec);
	if (token_insert(req->store, acc, sec, "Bootstrap Token (Global "
	    "Management)", "[\"" ACL_MGMT_POLICY_ID "\"]", e) == -1)
		goto abort;
	snprintf(idx, sizeof(idx), "%llu",
	    (unsigned long long)store_tx_index(req->store));
	if (store_meta_put(req->store, META_BOOTSTRAP, idx, e) == -1)
		goto abort;
	free(bidx);
	if (store_commit(req->store, e) == -1)
		return -1;
	log_info("acl: bootstrapped; management token %s", acc);
	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return -1;
	if ((t = acl_snap_token(s, acc)) == NULL) {
		acl_snap_put(s);
		return perr_set(e, 500, "internal store error");
	}
	o = json_object_new_object();
	json_object_object_add(o, "ID", json_object_new_string(sec));
	tj = acl_token_json(s, t, 1);
	/* Hashed at rest: this reply is the only one that shows it. */
	json_object_object_add(tj, "SecretID", json_object_new_string(sec));
	json_object_object_foreach(tj, k, v)
		json_object_object_add(o, k, json_object_get(v));
	json_object_put(tj);
	acl_snap_put(s);
	req->reply = o;
	return 0;
abort:
	free(bidx);
	store_rollback(req->store);
	return -1;
}

/*
 * GET /v1/acl/replication
 * Reply: replication never runs in the primary (our only DC), so every
 * field is its zero value (acl.md §10).
 */
int
acl_replication(struct req *req, struct perr *e)
{
	struct json_object	*o;

	(void)e;
	o = json_object_new_object();
	json_object_object_add(o, "Enabled", json_object_new_boolean(0));
	json_object_object_add(o, "Running", json_object_new_boolean(0));
	json_object_object_add(o, "SourceDatacenter",
	    json_object_new_string(""));
	json_object_object_add(o, "ReplicationType",
	    json_object_new_string(""));
	json_object_object_add(o, "ReplicatedIndex", json_object_new_int(0));
	json_object_object_add(o, "ReplicatedRoleIndex",
	    json_object_new_int(0));
	json_object_object_add(o, "ReplicatedTokenIndex",
	    json_object_new_int(0));
	json_object_object_add(o, "LastSuccess",
	    json_object_new_string("0001-01-01T00:00:00Z"));
	json_object_object_add(o, "LastError",
	    json_object_new_string("0001-01-01T00:00:00Z"));
	json_object_object_add(o, "LastErrorMessage",
	    json_object_new_string(""));
	req->reply = o;
	return 0;
}

/*
 * POST /v1/acl/rules/translate   body: legacy HCL rules
 * Reply: the rules in current syntax, text/plain.  Needs acl:read; a
 * denial is the bare 403 "Permission denied" of Consul 1.4-1.10, the
 * releases that had this endpoint.  400 "Failed to parse rules: ...".
 */
int
acl_translate(struct req *req, struct perr *e)
{
	char	*out;

	if (acl_enabled(req) && !acl_allowed(req, ACL_RES_ACL,
	    ACL_ACCESS_READ, NULL))
		return perr_set(e, 403, "Permission denied");
	if (acl_rules_translate_legacy(req->body, req->bodylen, &out, e) == -1)
		return -1;
	req->raw = arena_strdup(req->arena, out);
	req->rawlen = strlen(out);
	req->content_type = "text/plain; charset=utf-8";
	free(out);
	return 0;
}

/*
 * GET /v1/acl/rules/translate/:accessor_id
 * No token here carries legacy rules: 403 "ACL not found" for an
 * unknown token, else 500 "The specified token does not have any rules
 * set" (acl.md §11).  Needs acl:read (bare 403).
 */
int
acl_translate_token(struct req *req, struct perr *e)
{
	const char		*id = req_param(req, "accessor_id");
	struct acl_snap		*s;
	const struct acl_token	*t;

	if (acl_enabled(req) && !acl_allowed(req, ACL_RES_ACL,
	    ACL_ACCESS_READ, NULL))
		return perr_set(e, 403, "Permission denied");
	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return -1;
	t = acl_snap_token(s, id);
	if (t == NULL || acl_token_expired(t, acl_now_ns())) {
		acl_snap_put(s);
		return perr_set(e, 403, "ACL not found");
	}
	acl_snap_put(s);
	return perr_set(e, 500, "The specified token does not have any rules "
	    "set");
}

/*
 * GET|DELETE on an ACL object prefix with no ID: 400 "Missing ..."
 * (acl.md §1.2), worded after the route's pattern.
 */
int
acl_missing_id(struct req *req, struct perr *e)
{
	const char	*p = req->route->pattern;

	if (strcmp(p, "/v1/acl/token/") == 0)
		return perr_set(e, 400, "Missing token AccessorID");
	if (strcmp(p, "/v1/acl/policy/name/") == 0)
		return perr_set(e, 400, "Missing policy Name");
	if (strcmp(p, "/v1/acl/policy/") == 0)
		return perr_set(e, 400, "Missing policy ID");
	if (strcmp(p, "/v1/acl/role/name/") == 0)
		return perr_set(e, 400, "Missing role Name");
	return perr_set(e, 400, "Missing role ID");
}
