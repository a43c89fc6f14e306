/*
 * acl_token.c -- the ACL token API (acl.md §3):
 *
 *   PUT    /v1/acl/token                 create
 *   GET    /v1/acl/token/self            the caller's own token
 *   GET    /v1/acl/token/:id[?expanded]  read
 *   PUT    /v1/acl/token/:id             update (whole replace)
 *   PUT    /v1/acl/token/:id/clone       clone
 *   DELETE /v1/acl/token/:id             delete
 *   GET    /v1/acl/tokens                list (policy/role/authmethod/
 *                                        servicename, ?filter=)
 *
 * Also the link and identity validation that roles share.  Reads come
 * from the per-worker snapshot (acl.c); each write is one transaction
 * whose checks read the store inside it.  Validation errors are 500,
 * as Consul answers them (acl.md §1.10).  SecretIDs are shown only to
 * callers with acl:write (and to the token's holder on /self).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "bexpr.h"
#include "conf.h"
#include "json.h"
#include "req.h"
#include "seal.h"
#include "store.h"
#include "util.h"

#define TTL_MIN_NS	(60LL * 1000000000)		/* 1m */
#define TTL_MAX_NS	(24LL * 3600 * 1000000000)	/* 24h */

struct token_in {
	const char		*accessor_id;
	const char		*secret_id;
	const char		*description;
	struct json_object	*policies;
	struct json_object	*roles;
	struct json_object	*svcids;
	struct json_object	*nodeids;
	struct json_object	*templated;
	int			 local;
	const char		*auth_method;
	const char		*expiration_time;
	struct json_object	*ttl;
};

#define TI(f)	offsetof(struct token_in, f)
static const struct jfield token_fields[] = {
	{ "AccessorID", J_STRING, TI(accessor_id), "string" },
	{ "SecretID", J_STRING, TI(secret_id), "string" },
	{ "Description", J_STRING, TI(description), "string" },
	{ "Policies", J_ARRAY, TI(policies), "[]structs.ACLTokenPolicyLink" },
	{ "Roles", J_ARRAY, TI(roles), "[]structs.ACLTokenRoleLink" },
	{ "ServiceIdentities", J_ARRAY, TI(svcids),
	    "[]*structs.ACLServiceIdentity" },
	{ "NodeIdentities", J_ARRAY, TI(nodeids),
	    "[]*structs.ACLNodeIdentity" },
	{ "TemplatedPolicies", J_ARRAY, TI(templated),
	    "[]*structs.ACLTemplatedPolicy" },
	{ "Local", J_BOOL, TI(local), "bool" },
	{ "AuthMethod", J_STRING, TI(auth_method), "string" },
	{ "ExpirationTime", J_STRING, TI(expiration_time), "time.Time" },
	{ "ExpirationTTL", J_ANY, TI(ttl), "time.Duration" },
	{ "Hash", J_IGNORE, 0, NULL },
	{ "CreateIndex", J_IGNORE, 0, NULL },
	{ "ModifyIndex", J_IGNORE, 0, NULL },
	{ "CreateTime", J_IGNORE, 0, NULL },
	{ NULL, 0, 0, NULL }
};

struct link_in {
	const char	*id;
	const char	*name;
};

static const struct jfield link_fields[] = {
	{ "ID", J_STRING, offsetof(struct link_in, id), "string" },
	{ "Name", J_STRING, offsetof(struct link_in, name), "string" },
	{ NULL, 0, 0, NULL }
};

struct svcid_in {
	const char		*name;
	struct json_object	*dcs;
};

static const struct jfield svcid_fields[] = {
	{ "ServiceName", J_STRING, offsetof(struct svcid_in, name), "string" },
	{ "Datacenters", J_ARRAY, offsetof(struct svcid_in, dcs), "[]string" },
	{ NULL, 0, 0, NULL }
};

struct nodeid_in {
	const char	*name;
	const char	*dc;
};

static const struct jfield nodeid_fields[] = {
	{ "NodeName", J_STRING, offsetof(struct nodeid_in, name), "string" },
	{ "Datacenter", J_STRING, offsetof(struct nodeid_in, dc), "string" },
	{ NULL, 0, 0, NULL }
};

/* Selectors of ?filter= on the token list. */
static const struct bexpr_field link_schema[] = {
	{ "ID", BF_STRING, NULL },
	{ "Name", BF_STRING, NULL },
	{ NULL, 0, NULL }
};
static const struct bexpr_field svcid_schema[] = {
	{ "ServiceName", BF_STRING, NULL },
	{ "Datacenters", BF_LIST_STRING, NULL },
	{ NULL, 0, NULL }
};
static const struct bexpr_field nodeid_schema[] = {
	{ "NodeName", BF_STRING, NULL },
	{ "Datacenter", BF_STRING, NULL },
	{ NULL, 0, NULL }
};
static const struct bexpr_field token_schema[] = {
	{ "AccessorID", BF_STRING, NULL },
	{ "SecretID", BF_STRING, NULL },
	{ "Description", BF_STRING, NULL },
	{ "Policies", BF_LIST_STRUCT, link_schema },
	{ "Roles", BF_LIST_STRUCT, link_schema },
	{ "ServiceIdentities", BF_LIST_STRUCT, svcid_schema },
	{ "NodeIdentities", BF_LIST_STRUCT, nodeid_schema },
	{ "Local", BF_BOOL, NULL },
	{ "AuthMethod", BF_STRING, NULL },
	{ "CreateIndex", BF_UINT, NULL },
	{ "ModifyIndex", BF_UINT, NULL },
	{ NULL, 0, NULL }
};

/* ---------------------------------------------------------------- */
/* Links and identities (shared with roles).                          */

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(json_object_get_string(*(struct json_object *const *)a),
	    json_object_get_string(*(struct json_object *const *)b));
}

static int
ids_has(struct json_object *arr, const char *id)
{
	size_t	i;

	for (i = 0; i < json_object_array_length(arr); i++)
		if (strcasecmp(json_object_get_string(
		    json_object_array_get_idx(arr, i)), id) == 0)
			return 1;
	return 0;
}

/*
 * Resolve links [{ID, Name}] inside the open transaction: by ID when
 * given (checked to exist), else by Name (case-insensitive).  *out is
 * a new array of IDs, duplicates dropped, or NULL when in is empty.
 * kind: 0 token policy link, 1 token/role role link, 2 role policy
 * link (IDs are checked by "the store", with its own text).
 * 500 for a missing target, 400 for a malformed element.
 */
int
acl_links_resolve(struct req *req, struct json_object *in, int kind,
    struct json_object **out, struct perr *e)
{
	struct link_in	 l;
	struct store_q	*st;
	const char	*what = kind == 1 ? "role" : "policy";
	size_t		 i;
	int		 rc;

	*out = NULL;
	for (i = 0; in != NULL && i < json_object_array_length(in); i++) {
		memset(&l, 0, sizeof(l));
		if (json_decode(req->arena, json_object_array_get_idx(in, i),
		    link_fields, kind == 1 ? "structs.ACLTokenRoleLink" :
		    "structs.ACLTokenPolicyLink", &l, NULL, e) == -1)
			goto fail;
		if (l.id != NULL && *l.id != '\0') {
			st = store_stmt(req->store, kind == 1 ?
			    SQL_ACL_ROLE_GET : SQL_ACL_POLICY_GET);
			store_bind_text(st, ":id", l.id);
		} else {
			st = store_stmt(req->store, kind == 1 ?
			    SQL_ACL_ROLE_GET_NAME : SQL_ACL_POLICY_GET_NAME);
			store_bind_text(st, ":name", l.name ? l.name : "");
		}
		rc = store_step(req->store, st, e);
		if (rc == 1 && (*out == NULL ||
		    !ids_has(*out, store_col_text(st, 0)))) {
			if (*out == NULL)
				*out = json_object_new_array();
			json_object_array_add(*out, json_object_new_string(
			    store_col_text(st, 0)));
		}
		store_reset(st);
		if (rc == -1)
			goto fail;
		if (rc == 0) {
			if (l.id != NULL && *l.id != '\0' && kind == 2)
				perr_set(e, 500, "Failed to apply role upsert "
				    "request: No such policy with ID: %s", l.id);
			else if (l.id != NULL && *l.id != '\0')
				perr_set(e, 500, "No such ACL %s with ID \"%s\"",
				    what, l.id);
			else
				perr_set(e, 500, "No such ACL %s with name "
				    "\"%s\"", what, l.name ? l.name : "");
			goto fail;
		}
	}
	return 0;
fail:
	json_object_put(*out);
	*out = NULL;
	return -1;
}

/*
 * Validate and normalise service and node identities (acl.md §3.2
 * steps 10-11; §5 for roles, where what is "role" and local 0).
 * Duplicate services merge with the sorted union of their Datacenters
 * (structs.ACLServiceIdentities.Deduplicate); exact duplicate nodes
 * are dropped.  *svc_out, *node_out: new arrays or NULL.  500/400.
 */
int
acl_identities_check(struct req *req, struct json_object *svcids,
    struct json_object *nodeids, const char *what, int local,
    struct json_object **svc_out, struct json_object **node_out,
    struct perr *e)
{
	struct svcid_in		 si;
	struct nodeid_in	 ni;
	struct json_object	*o, *prev, *dcs, *v;
	const char		*gos;
	size_t			 i, j, k;

	*svc_out = *node_out = NULL;
	gos = "structs.ACLServiceIdentity";
	for (i = 0; svcids != NULL && i < json_object_array_length(svcids);
	    i++) {
		memset(&si, 0, sizeof(si));
		if (json_decode(req->arena, json_object_array_get_idx(svcids,
		    i), svcid_fields, gos, &si, NULL, e) == -1)
			goto fail;
		if (si.name == NULL || *si.name == '\0') {
			perr_set(e, 500, "Service identity is missing the "
			    "service name field on this %s", what);
			goto fail;
		}
		if (local && si.dcs != NULL &&
		    json_object_array_length(si.dcs) > 0) {
			perr_set(e, 500, "Service identity \"%s\" cannot specify "
			    "a list of datacenters on a local token", si.name);
			goto fail;
		}
		if (!acl_name_valid(si.name)) {
			perr_set(e, 500, "Service identity \"%s\" has an invalid "
			    "name. Only lowercase alphanumeric characters, '-' "
			    "and '_' are allowed", si.name);
			goto fail;
		}
		for (j = 0; si.dcs != NULL && j < json_object_array_length(
		    si.dcs); j++)
			if (!json_object_is_type(json_object_array_get_idx(
			    si.dcs, j), json_type_string)) {
				perr_set(e, 400, "json: cannot unmarshal %s into "
				    "Go struct field ACLServiceIdentity."
				    "Datacenters of type string", json_type_go(
				    json_object_array_get_idx(si.dcs, j)));
				goto fail;
			}
		if (*svc_out == NULL)
			*svc_out = json_object_new_array();
		prev = NULL;
		for (j = 0; j < json_object_array_length(*svc_out); j++) {
			o = json_object_array_get_idx(*svc_out, j);
			json_object_object_get_ex(o, "ServiceName", &v);
			if (strcmp(json_object_get_string(v), si.name) == 0)
				prev = o;
		}
		if (prev == NULL) {
			prev = json_object_new_object();
			json_object_object_add(prev, "ServiceName",
			    json_object_new_string(si.name));
			json_object_array_add(*svc_out, prev);
		}
		for (j = 0; si.dcs != NULL && j < json_object_array_length(
		    si.dcs); j++) {
			const char *dc = json_object_get_string(
			    json_object_array_get_idx(si.dcs, j));

			if (!json_object_object_get_ex(prev, "Datacenters",
			    &dcs)) {
				dcs = json_object_new_array();
				json_object_object_add(prev, "Datacenters", dcs);
			}
			for (k = 0; k < json_object_array_length(dcs); k++)
				if (strcmp(json_object_get_string(
				    json_object_array_get_idx(dcs, k)), dc) == 0)
					break;
			if (k == json_object_array_length(dcs))
				json_object_array_add(dcs,
				    json_object_new_string(dc));
			json_object_array_sort(dcs, str_cmp);
		}
	}
	gos = "structs.ACLNodeIdentity";
	for (i = 0; nodeids != NULL && i < json_object_array_length(nodeids);
	    i++) {
		memset(&ni, 0, sizeof(ni));
		if (json_decode(req->arena, json_object_array_get_idx(nodeids,
		    i), nodeid_fields, gos, &ni, NULL, e) == -1)
			goto fail;
		if (ni.name == NULL || *ni.name == '\0') {
			perr_set(e, 500, "Node identity is missing the node name "
			    "field on this %s", what);
			goto fail;
		}
		if (ni.dc == NULL || *ni.dc == '\0') {
			perr_set(e, 500, "Node identity is missing the "
			    "datacenter field on this %s", what);
			goto fail;
		}
		if (!acl_name_valid(ni.name)) {
			perr_set(e, 500, "Node identity has an invalid name. "
			    "Only lowercase alphanumeric characters, '-' and '_' "
			    "are allowed");
			goto fail;
		}
		if (*node_out == NULL)
			*node_out = json_object_new_array();
		for (j = 0; j < json_object_array_length(*node_out); j++) {
			struct json_object *n2, *d2;

			o = json_object_array_get_idx(*node_out, j);
			json_object_object_get_ex(o, "NodeName", &n2);
			json_object_object_get_ex(o, "Datacenter", &d2);
			if (strcmp(json_object_get_string(n2), ni.name) == 0 &&
			    strcmp(json_object_get_string(d2), ni.dc) == 0)
				break;
		}
		if (j < json_object_array_length(*node_out))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "NodeName",
		    json_object_new_string(ni.name));
		json_object_object_add(o, "Datacenter",
		    json_object_new_string(ni.dc));
		json_object_array_add(*node_out, o);
	}
	return 0;
fail:
	json_object_put(*svc_out);
	json_object_put(*node_out);
	*svc_out = *node_out = NULL;
	return -1;
}

/* ---------------------------------------------------------------- */
/* Store.                                                             */

/* A token being written: strings borrowed, JSON arrays owned. */
struct token_w {
	const char		*accessor_id;
	const char		*secret_id;
	const char		*description;
	struct json_object	*policies;
	struct json_object	*roles;
	struct json_object	*svcids;
	struct json_object	*nodeids;
	int			 local;
	const char		*auth_method;
	int64_t			 expiration_ns;	/* 0: none */
	const char		*create_time;
};

static void
token_w_clear(struct token_w *w)
{
	json_object_put(w->policies);
	json_object_put(w->roles);
	json_object_put(w->svcids);
	json_object_put(w->nodeids);
}

/*
 * With acl.hash_secrets, the SecretID of the token this thread just
 * wrote, for the one reply that shows it (reply_token()); "" otherwise.
 */
static __thread char	fresh_secret[128];

/* Insert or update w in the open transaction. */
static int
token_write(struct req *req, const struct token_w *w, struct perr *e)
{
	struct store_q	*st;
	const char	*parts[16];
	const char	*pol, *rol, *svc, *nod;
	char		 hash[64], exp[40], h[SEAL_TOKEN_LEN];
	size_t		 n = 0;

	pol = acl_json_text(req, w->policies);
	rol = acl_json_text(req, w->roles);
	svc = acl_json_text(req, w->svcids);
	nod = acl_json_text(req, w->nodeids);
	parts[n++] = w->description;
	parts[n++] = w->local ? "local" : "global";
	parts[n++] = pol;
	parts[n++] = rol;
	parts[n++] = svc;
	parts[n++] = nod;
	acl_hash(parts, n, hash);
	if ((st = store_stmt(req->store, SQL_ACL_TOKEN_UPSERT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":accessor_id", w->accessor_id);
	/* An update keeps the stored SecretID (the upsert ignores it). */
	store_bind_text(st, ":secret_id", seal_token_stored(w->secret_id, h));
	if (seal_token_hashing() && !seal_token_is_hash(w->secret_id))
		snprintf(fresh_secret, sizeof(fresh_secret), "%s",
		    w->secret_id);
	store_bind_text(st, ":description", w->description);
	store_bind_text(st, ":policies", pol);
	store_bind_text(st, ":roles", rol);
	store_bind_text(st, ":service_identities", svc);
	store_bind_text(st, ":node_identities", nod);
	store_bind_int(st, ":local", w->local);
	store_bind_text(st, ":auth_method", w->auth_method ? w->auth_method :
	    "");
	if (w->expiration_ns != 0) {
		acl_time_format(w->expiration_ns, exp);
		store_bind_text(st, ":expiration_time", exp);
		store_bind_int(st, ":expiration_ns", w->expiration_ns);
	} else {
		store_bind_text(st, ":expiration_time", NULL);
		store_bind_text(st, ":expiration_ns", NULL);
	}
	store_bind_text(st, ":create_time", w->create_time);
	store_bind_text(st, ":hash", hash);
	store_bind_int(st, ":idx", (int64_t)store_tx_index(req->store));
	if (store_step(req->store, st, e) < 0)
		return -1;
	store_touch_id(req->store, TBL_ACL_TOKENS, w->accessor_id);
	return 0;
}

static void
token_fill(void *out, struct store_q *row)
{
	acl_token_from_row(out, row);
}

/* Read one token inside the open transaction; *found 0 when absent. */
static int
token_get(struct req *req, const char *id, struct acl_token *t, int *found,
    struct perr *e)
{
	return store_get_row(req->store, SQL_ACL_TOKEN_GET, ":id", id,
	    token_fill, t, found, e);
}

/*
 * An AccessorID or SecretID given on create: reserved prefix, UUID,
 * unused as either ID of any token (acl.md §3.2 steps 2-3).
 */
static int
check_new_id(struct req *req, const char *v, const char *field,
    struct perr *e)
{
	struct store_q	*st;
	char		 h[SEAL_TOKEN_LEN];
	int		 rc;

	if (strncmp(v, ACL_RESERVED_PREFIX, strlen(ACL_RESERVED_PREFIX)) == 0)
		return perr_set(e, 500, "Invalid Token: %s - UUIDs with the "
		    "prefix \"%s\" are reserved", field, ACL_RESERVED_PREFIX);
	if (!uuid_valid(v))
		return perr_set(e, 500, "Invalid Token: %s - not a valid UUID",
		    field);
	if ((st = store_stmt(req->store, SQL_ACL_TOKEN_ID_IN_USE)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":v", v);
	store_bind_text(st, ":h", seal_token_stored(v, h));
	rc = store_step(req->store, st, e);
	store_reset(st);
	if (rc == -1)
		return -1;
	if (rc == 1)
		return perr_set(e, 500, "Invalid Token: %s is already in use",
		    field);
	return 0;
}

/* A fresh random UUID not used as either ID of any token. */
static int
fresh_id(struct req *req, char out[37], struct perr *e)
{
	struct store_q	*st;
	char		 h[SEAL_TOKEN_LEN];
	int		 rc;

	do {
		uuid_generate_v4(out);
		if ((st = store_stmt(req->store, SQL_ACL_TOKEN_ID_IN_USE)) ==
		    NULL)
			return perr_set(e, 500, "internal store error");
		store_bind_text(st, ":v", out);
		store_bind_text(st, ":h", seal_token_stored(out, h));
		rc = store_step(req->store, st, e);
		store_reset(st);
	} while (rc == 1 || strncmp(out, ACL_RESERVED_PREFIX,
	    strlen(ACL_RESERVED_PREFIX)) == 0);
	return rc;
}

/* ExpirationTime window relative to CreateTime (acl.md §3.2 step 6). */
static int
check_expiry(int64_t create, int64_t exp, struct perr *e)
{
	char	d[64], b[64];

	if (exp < create)
		return perr_set(e, 500, "ExpirationTime cannot be before "
		    "CreateTime");
	/* A saturated exp (year 2262 on) saturates the span, as Go's Sub. */
	duration_format(exp == INT64_MAX ? INT64_MAX : exp - create, d);
	if (exp - create > TTL_MAX_NS) {
		duration_format(TTL_MAX_NS, b);
		return perr_set(e, 500, "ExpirationTime cannot be more than %s "
		    "in the future (was %s)", b, d);
	}
	if (exp - create < TTL_MIN_NS) {
		duration_format(TTL_MIN_NS, b);
		return perr_set(e, 500, "ExpirationTime cannot be less than %s "
		    "in the future (was %s)", b, d);
	}
	return 0;
}

/* ExpirationTTL: a Go duration string or a number of ns.  400. */
static int
parse_ttl(struct json_object *v, int64_t *ns, struct perr *e)
{
	*ns = 0;
	if (v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double)) {
		/* Go's int64 decoding: integer literals within range only. */
		if (json_get_int64(v, ns) == -1)
			return perr_set(e, 400, "Token decoding failed: json: "
			    "cannot unmarshal number %s into Go struct field "
			    "ACLToken.ExpirationTTL of type time.Duration",
			    json_number_text(v));
		return 0;
	}
	if (json_object_is_type(v, json_type_string)) {
		if (duration_parse(json_object_get_string(v), ns) == -1)
			return perr_set(e, 400, "Token decoding failed: time: "
			    "invalid duration \"%s\"",
			    json_object_get_string(v));
		return 0;
	}
	return perr_set(e, 400, "Token decoding failed: json: cannot "
	    "unmarshal %s into Go struct field ACLToken.ExpirationTTL of type "
	    "time.Duration", json_type_go(v));
}

static int
parse_exptime(const char *v, int64_t *ns, struct perr *e)
{
	const char	*what;
	int64_t		 sec;
	long		 nsec;

	*ns = 0;
	if (v == NULL || *v == '\0')
		return 0;
	if (time_parse_rfc3339(v, &sec, &nsec, &what) == -2)
		return perr_set(e, 400, "Token decoding failed: parsing time "
		    "\"%s\": %s out of range", v, what);
	if (acl_time_parse(v, ns) == -1)
		return perr_set(e, 400, "Token decoding failed: parsing time "
		    "\"\\\"%s\\\"\" as \"\\\"2006-01-02T15:04:05Z07:00\\\"\": "
		    "cannot parse \"%s\\\"\" as \"2006\"", v, v);
	return 0;
}

/* Reply with the stored token as of the commit (SecretID shown). */
static int
reply_token(struct req *req, const char *accessor, struct perr *e)
{
	struct acl_snap		*s;
	const struct acl_token	*t;
	char			 h[SEAL_TOKEN_LEN];

	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return -1;
	if ((t = acl_snap_token(s, accessor)) == NULL) {
		acl_snap_put(s);
		return perr_set(e, 500, "internal store error");
	}
	req->reply = acl_token_json(s, t, 1);
	/* Hashed at rest: shown in the reply that creates it, only. */
	if (fresh_secret[0] != '\0' && seal_token_is_hash(t->secret_id) &&
	    strcmp(seal_token_stored(fresh_secret, h), t->secret_id) == 0)
		json_object_object_add(req->reply, "SecretID",
		    json_object_new_string(fresh_secret));
	explicit_bzero(fresh_secret, sizeof(fresh_secret));
	acl_snap_put(s);
	return 0;
}

/*
 * Insert a token made by login (acl_login.c, acl.md §8.1 step 5) in the
 * caller's open transaction: fresh AccessorID and SecretID, CreateTime
 * now, ExpirationTime CreateTime + ttl_ns when ttl_ns > 0.  n's links
 * and identities are borrowed and already validated.  acc receives the
 * AccessorID.  Returns 0, or -1 with 500 (store).
 */
int
acl_token_insert(struct req *req, const struct acl_token_new *n,
    char acc[37], struct perr *e)
{
	struct token_w	 w;
	char		 sec[37], now[40];
	int64_t		 create;

	memset(&w, 0, sizeof(w));
	if (fresh_id(req, acc, e) == -1)
		return -1;
	do {
		if (fresh_id(req, sec, e) == -1)
			return -1;
	} while (strcmp(sec, acc) == 0);
	create = acl_now_ns();
	acl_time_format(create, now);
	w.accessor_id = acc;
	w.secret_id = sec;
	w.description = n->description;
	w.policies = n->policies;
	w.roles = n->roles;
	w.svcids = n->svcids;
	w.nodeids = n->nodeids;
	w.local = n->local;
	w.auth_method = n->auth_method;
	w.expiration_ns = n->ttl_ns > 0 ? create + n->ttl_ns : 0;
	w.create_time = now;
	return token_write(req, &w, e);	/* borrowed arrays: no clear */
}

/* The stored token as a reply, SecretID shown (after the commit). */
int
acl_token_reply(struct req *req, const char *accessor, struct perr *e)
{
	return reply_token(req, accessor, e);
}

/* Validate links and identities of in into w (inside the transaction). */
static int
links_and_identities(struct req *req, const struct token_in *in,
    struct token_w *w, struct perr *e)
{
	if (in->templated != NULL && json_object_array_length(in->templated) >
	    0)
		return perr_set(e, 500, "Templated policies are not supported "
		    "by this server");
	if (acl_links_resolve(req, in->roles, 1, &w->roles, e) == -1 ||
	    acl_links_resolve(req, in->policies, 0, &w->policies, e) == -1 ||
	    acl_identities_check(req, in->svcids, in->nodeids, "token",
	    w->local, &w->svcids, &w->nodeids, e) == -1)
		return -1;
	return 0;
}

/*
 * 1 when secret names one of Consul's root ACLs ("allow", "deny",
 * "manage"), which no token may take or resolve to.
 */
static int
root_secret(const char *secret)
{
	return strcmp(secret, "allow") == 0 || strcmp(secret, "deny") == 0 ||
	    strcmp(secret, "manage") == 0;
}

/*
 * Decode a token body into in (zeroed by the caller), with its
 * ExpirationTTL and ExpirationTime as ns in ttl and exp (0: not given).
 * 400 for either.
 */
static int
token_decode(struct req *req, struct token_in *in, int64_t *ttl,
    int64_t *exp, struct perr *e)
{
	if (acl_decode(req, token_fields, "structs.ACLToken", in, NULL,
	    "Token decoding failed: ", e) == -1 ||
	    parse_ttl(in->ttl, ttl, e) == -1 ||
	    parse_exptime(in->expiration_time, exp, e) == -1)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Handlers.                                                          */

/*
 * PUT /v1/acl/token
 * Reply: the new token (SecretID shown).  400 decode; 500 validation.
 */
int
acl_token_create(struct req *req, struct perr *e)
{
	struct token_in	 in;
	struct token_w	 w;
	char		 acc[37], sec[37], now[40];
	int64_t		 create, ttl, exp;

	memset(&in, 0, sizeof(in));
	memset(&w, 0, sizeof(w));
	if (token_decode(req, &in, &ttl, &exp, e) == -1)
		return -1;
	if (store_begin(req->store, e) == -1)
		return -1;
	if (in.accessor_id != NULL && *in.accessor_id != '\0') {
		if (check_new_id(req, in.accessor_id, "AccessorID", e) == -1)
			goto abort;
		w.accessor_id = in.accessor_id;
	} else {
		if (fresh_id(req, acc, e) == -1)
			goto abort;
		w.accessor_id = acc;
	}
	if (in.secret_id != NULL && *in.secret_id != '\0') {
		if (check_new_id(req, in.secret_id, "SecretID", e) == -1)
			goto abort;
		if (strcasecmp(in.secret_id, w.accessor_id) == 0) {
			perr_set(e, 500, "Invalid Token: SecretID is already "
			    "in use");
			goto abort;
		}
		w.secret_id = in.secret_id;
	} else {
		do {
			if (fresh_id(req, sec, e) == -1)
				goto abort;
		} while (strcmp(sec, w.accessor_id) == 0);
		w.secret_id = sec;
	}
	create = acl_now_ns();
	acl_time_format(create, now);
	w.create_time = now;
	if (ttl < 0) {
		char	d[64];

		duration_format(ttl, d);
		perr_set(e, 500, "Token Expiration TTL '%s' should be > 0", d);
		goto abort;
	}
	if (ttl > 0) {
		if (exp != 0) {
			perr_set(e, 500, "Token Expiration TTL and Expiration "
			    "Time cannot both be set");
			goto abort;
		}
		exp = create + ttl;
	}
	if (exp != 0 && check_expiry(create, exp, e) == -1)
		goto abort;
	w.expiration_ns = exp;
	if (in.auth_method != NULL && *in.auth_method != '\0') {
		perr_set(e, 500, "AuthMethod field is disallowed outside of "
		    "login");
		goto abort;
	}
	w.description = in.description ? in.description : "";
	w.local = in.local;
	if (links_and_identities(req, &in, &w, e) == -1 ||
	    token_write(req, &w, e) == -1)
		goto abort;
	if (store_commit(req->store, e) == -1)
		goto out;
	log_info("acl: token %s created", w.accessor_id);
	token_w_clear(&w);
	return reply_token(req, w.accessor_id, e);
abort:
	store_rollback(req->store);
out:
	token_w_clear(&w);
	return -1;
}

/* Fill the ?expanded fields (acl.md §3.3) into o. */
static void
expand(struct req *req, const struct acl_snap *s, const struct acl_token *t,
    struct json_object *o)
{
	const struct conf	*c = req->worker->conf;
	struct json_object	*pols, *roles, *ids[8], *svc, *nod, *v;
	const struct acl_policy	*p;
	const struct acl_role	*r;
	struct acl_synthetic_policy sp;
	size_t			 i, j, k, nids = 0;

	pols = json_object_new_array();
	roles = json_object_new_array();
	ids[nids++] = t->policies;
	for (i = 0; t->roles != NULL && i < json_object_array_length(t->roles);
	    i++) {
		r = acl_snap_role(s, json_object_get_string(
		    json_object_array_get_idx(t->roles, i)));
		if (r == NULL)
			continue;
		json_object_array_add(roles, acl_role_json(s, r));
		if (nids < 8)
			ids[nids++] = r->policies;
	}
	for (k = 0; k < nids; k++)
		for (i = 0; ids[k] != NULL && i < json_object_array_length(
		    ids[k]); i++) {
			p = acl_snap_policy(s, json_object_get_string(
			    json_object_array_get_idx(ids[k], i)));
			if (p == NULL)
				continue;
			for (j = 0; j < json_object_array_length(pols); j++) {
				json_object_object_get_ex(
				    json_object_array_get_idx(pols, j), "ID", &v);
				if (strcmp(json_object_get_string(v), p->id) == 0)
					break;
			}
			if (j == json_object_array_length(pols))
				json_object_array_add(pols,
				    acl_policy_json(p, 0));
		}
	/* One synthetic policy per identity, token's then roles'. */
	for (k = 0; k < 1 + (t->roles ? json_object_array_length(t->roles) :
	    0); k++) {
		if (k == 0) {
			svc = t->svcids;
			nod = t->nodeids;
		} else {
			r = acl_snap_role(s, json_object_get_string(
			    json_object_array_get_idx(t->roles, k - 1)));
			if (r == NULL)
				continue;
			svc = r->svcids;
			nod = r->nodeids;
		}
		for (i = 0; svc != NULL && i < json_object_array_length(svc);
		    i++) {
			struct json_object *so, *po, *dcs;

			so = json_object_array_get_idx(svc, i);
			json_object_object_get_ex(so, "ServiceName", &v);
			memset(&sp, 0, sizeof(sp));
			acl_synthetic_service_identity(json_object_get_string(v),
			    &sp);
			po = json_object_new_object();
			json_object_object_add(po, "ID",
			    json_object_new_string(sp.id));
			json_object_object_add(po, "Name",
			    json_object_new_string(sp.name));
			json_object_object_add(po, "Description",
			    json_object_new_string(sp.description));
			json_object_object_add(po, "Rules",
			    json_object_new_string(sp.rules));
			if (json_object_object_get_ex(so, "Datacenters", &dcs))
				json_object_object_add(po, "Datacenters",
				    acl_jcopy(dcs));
			json_object_object_add(po, "Hash", NULL);
			json_object_object_add(po, "CreateIndex",
			    json_object_new_int(0));
			json_object_object_add(po, "ModifyIndex",
			    json_object_new_int(0));
			json_object_array_add(pols, po);
			acl_synthetic_policy_clear(&sp);
		}
		for (i = 0; nod != NULL && i < json_object_array_length(nod);
		    i++) {
			struct json_object *no, *po, *dc;

			no = json_object_array_get_idx(nod, i);
			json_object_object_get_ex(no, "NodeName", &v);
			json_object_object_get_ex(no, "Datacenter", &dc);
			memset(&sp, 0, sizeof(sp));
			acl_synthetic_node_identity(json_object_get_string(v),
			    &sp);
			po = json_object_new_object();
			json_object_object_add(po, "ID",
			    json_object_new_string(sp.id));
			json_object_object_add(po, "Name",
			    json_object_new_string(sp.name));
			json_object_object_add(po, "Description",
			    json_object_new_string(sp.description));
			json_object_object_add(po, "Rules",
			    json_object_new_string(sp.rules));
			v = json_object_new_array();
			json_object_array_add(v, acl_jcopy(dc));
			json_object_object_add(po, "Datacenters", v);
			json_object_object_add(po, "Hash", NULL);
			json_object_object_add(po, "CreateIndex",
			    json_object_new_int(0));
			json_object_object_add(po, "ModifyIndex",
			    json_object_new_int(0));
			json_object_array_add(pols, po);
			acl_synthetic_policy_clear(&sp);
		}
	}
	json_object_object_add(o, "ExpandedPolicies",
	    json_object_array_length(pols) ? pols : (json_object_put(pols),
	    NULL));
	json_object_object_add(o, "ExpandedRoles",
	    json_object_array_length(roles) ? roles : (json_object_put(roles),
	    NULL));
	json_object_object_add(o, "NamespaceDefaultPolicyIDs", NULL);
	json_object_object_add(o, "NamespaceDefaultRoleIDs", NULL);
	json_object_object_add(o, "AgentACLDefaultPolicy",
	    json_object_new_string(c->acl.default_policy));
	json_object_object_add(o, "AgentACLDownPolicy",
	    json_object_new_string(c->acl.down_policy));
	json_object_object_add(o, "ResolvedByAgent",
	    json_object_new_string(c->node_name ? c->node_name : ""));
}

/*
 * GET /v1/acl/token/:id[?expanded]
 * Reply: the token; SecretID "<hidden>" without acl:write.  404
 * "Requested token does not exist: ACL not found"; 500 for a non-UUID.
 */
int
acl_token_read(struct req *req, struct perr *e)
{
	const char		*id = req_param(req, "id");
	struct acl_snap		*s;
	const struct acl_token	*t;
	int			 show;

	if (acl_uuid_lookup(id, "failed acl token lookup", e) == -1)
		return -1;
	show = acl_allowed(req, ACL_RES_ACL, ACL_ACCESS_WRITE, NULL);
	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return -1;
	req->index = s->idx[0];
	t = acl_snap_token(s, id);
	if (t == NULL || acl_token_expired(t, acl_now_ns())) {
		acl_snap_put(s);
		return perr_set(e, 404, "Requested token does not exist: ACL "
		    "not found");
	}
	req->reply = acl_token_json(s, t, show);
	if (req_query_has(req, "expanded"))
		expand(req, s, t, req->reply);
	acl_snap_put(s);
	return 0;
}

/*
 * GET /v1/acl/token/self
 * Reply: the token whose SecretID the request presents (shown).  404
 * "Supplied token does not exist" when there is none (Consul >= 1.15;
 * older releases answered 403 "ACL not found").
 */
int
acl_token_self(struct req *req, struct perr *e)
{
	struct acl_snap		*s;
	const struct acl_token	*t;
	const char		*secret = acl_req_secret(req);

	if (*secret == '\0')
		return perr_set(e, 404, "Supplied token does not exist");
	if (root_secret(secret))
		return perr_set(e, 500, "Cannot resolve root ACL");
	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return -1;
	req->index = s->idx[0];
	t = acl_snap_token_secret(s, secret);
	if (t == NULL || acl_token_expired(t, acl_now_ns())) {
		acl_snap_put(s);
		return perr_set(e, 404, "Supplied token does not exist");
	}
	req->reply = acl_token_json(s, t, 1);
	acl_snap_put(s);
	return 0;
}

/*
 * PUT /v1/acl/token/:id
 * Whole replacement of Description, links and identities; SecretID,
 * Local, AuthMethod, ExpirationTime and CreateTime are immutable.
 * Reply: the stored token.  400 decode / ID mismatch; 403 root ACL;
 * 500 validation.
 */
int
acl_token_update(struct req *req, struct perr *e)
{
	const char		*id = req_param(req, "id");
	struct token_in		 in;
	struct token_w		 w;
	struct acl_token	 old;
	int64_t			 ttl, exp;
	char			 h[SEAL_TOKEN_LEN];
	int			 found;

	if (id == NULL)
		id = "";
	memset(&in, 0, sizeof(in));
	memset(&w, 0, sizeof(w));
	memset(&old, 0, sizeof(old));
	if (token_decode(req, &in, &ttl, &exp, e) == -1)
		return -1;
	if (in.accessor_id != NULL && *in.accessor_id != '\0' &&
	    strcmp(in.accessor_id, id) != 0)
		return perr_set(e, 400, "Token Accessor ID in URL and payload "
		    "do not match");
	if (!uuid_valid(id))
		return perr_set(e, 500, "AccessorID is not a valid UUID");
	if (in.secret_id != NULL && root_secret(in.secret_id))
		return perr_set(e, 403, "Permission denied: Cannot modify root "
		    "ACL");
	if (store_begin(req->store, e) == -1)
		return -1;
	if (token_get(req, id, &old, &found, e) == -1)
		goto abort;
	if (!found || acl_token_expired(&old, acl_now_ns())) {
		perr_set(e, 500, "Cannot find token \"%s\"", id);
		goto abort;
	}
	if (in.secret_id != NULL && *in.secret_id != '\0' &&
	    strcmp(in.secret_id, old.secret_id) != 0 &&
	    (!seal_token_is_hash(old.secret_id) ||
	    (strcmp(in.secret_id, "<hidden>") != 0 &&
	    strcmp(seal_token_stored(in.secret_id, h), old.secret_id) != 0))) {
		perr_set(e, 500, "Changing a token's SecretID is not "
		    "permitted");
		goto abort;
	}
	if (in.local != old.local) {
		perr_set(e, 500, "Cannot toggle local mode of %s", id);
		goto abort;
	}
	if (in.auth_method != NULL && *in.auth_method != '\0' &&
	    strcmp(in.auth_method, old.auth_method) != 0) {
		perr_set(e, 500, "Cannot change AuthMethod of %s", id);
		goto abort;
	}
	if (ttl != 0 || (exp != 0 && exp != old.expiration_ns)) {
		perr_set(e, 500, "Cannot change expiration time of %s", id);
		goto abort;
	}
	w.accessor_id = old.accessor_id;
	w.secret_id = old.secret_id;
	w.description = in.description ? in.description : "";
	w.local = old.local;
	w.auth_method = old.auth_method;
	w.expiration_ns = old.expiration_ns == INT64_MAX ? 0 :
	    old.expiration_ns;
	w.create_time = old.create_time;
	if (links_and_identities(req, &in, &w, e) == -1 ||
	    token_write(req, &w, e) == -1)
		goto abort;
	if (store_commit(req->store, e) == -1)
		goto out;
	token_w_clear(&w);
	acl_token_clear(&old);
	return reply_token(req, id, e);
abort:
	store_rollback(req->store);
out:
	token_w_clear(&w);
	acl_token_clear(&old);
	return -1;
}

/*
 * PUT /v1/acl/token/:id/clone   body {"Description": ...} (required)
 * Reply: the new token.  403 "ACL not found" when the source is
 * missing or expired; 500 for a login token.
 */
int
acl_token_clone(struct req *req, struct perr *e)
{
	const char		*id = req_param(req, "id");
	struct token_in		 in;
	struct token_w		 w;
	struct acl_token	 old;
	char			 acc[37], sec[37], now[40];
	int64_t			 ttl, exp, create;
	int			 found;

	memset(&in, 0, sizeof(in));
	memset(&w, 0, sizeof(w));
	memset(&old, 0, sizeof(old));
	if (token_decode(req, &in, &ttl, &exp, e) == -1)
		return -1;
	if (acl_uuid_lookup(id, "failed acl token lookup", e) == -1)
		return -1;
	if (store_begin(req->store, e) == -1)
		return -1;
	if (token_get(req, id, &old, &found, e) == -1)
		goto abort;
	if (!found || acl_token_expired(&old, acl_now_ns())) {
		perr_set(e, 403, "ACL not found");
		goto abort;
	}
	if (*old.auth_method != '\0') {
		perr_set(e, 500, "Cannot clone a token created from an auth "
		    "method");
		goto abort;
	}
	if (fresh_id(req, acc, e) == -1)
		goto abort;
	do {
		if (fresh_id(req, sec, e) == -1)
			goto abort;
	} while (strcmp(sec, acc) == 0);
	create = acl_now_ns();
	acl_time_format(create, now);
	w.accessor_id = acc;
	w.secret_id = sec;
	w.description = in.description && *in.description ? in.description :
	    old.description;
	w.policies = json_object_get(old.policies);
	w.roles = json_object_get(old.roles);
	w.svcids = json_object_get(old.svcids);
	w.nodeids = json_object_get(old.nodeids);
	w.local = old.local;
	w.auth_method = "";
	w.create_time = now;
	if (old.expiration_ns != INT64_MAX) {
		if (check_expiry(create, old.expiration_ns, e) == -1)
			goto abort;
		w.expiration_ns = old.expiration_ns;
	}
	if (token_write(req, &w, e) == -1)
		goto abort;
	if (store_commit(req->store, e) == -1)
		goto out;
	token_w_clear(&w);
	acl_token_clear(&old);
	return reply_token(req, acc, e);
abort:
	store_rollback(req->store);
out:
	token_w_clear(&w);
	acl_token_clear(&old);
	return -1;
}

/*
 * DELETE /v1/acl/token/:id
 * Reply: true, also for a token that does not exist (Consul's RPC
 * layer; acl.md §14 item 10).  500 for a non-UUID, the anonymous token
 * or the request's own token.
 */
int
acl_token_delete(struct req *req, struct perr *e)
{
	const char	*id = req_param(req, "id");
	struct acl_token old;
	struct store_q	*st;
	int		 found;

	if (id == NULL || !uuid_valid(id))
		return perr_set(e, 500, "Accessor ID is missing or an invalid "
		    "UUID");
	if (strcasecmp(id, ACL_ANONYMOUS_ACCESSOR_ID) == 0)
		return perr_set(e, 500, "Delete operation not permitted on the "
		    "anonymous token");
	if (req->acl != NULL && strcasecmp(req->acl->accessor, id) == 0)
		return perr_set(e, 500, "Deletion of the request's "
		    "authorization token is not permitted");
	memset(&old, 0, sizeof(old));
	if (store_begin(req->store, e) == -1)
		return -1;
	if (token_get(req, id, &old, &found, e) == -1)
		goto abort;
	if (!found) {
		store_rollback(req->store);	/* nothing to delete */
		req->reply = json_object_new_boolean(1);
		return 0;
	}
	if ((st = store_stmt(req->store, SQL_ACL_TOKEN_DELETE)) == NULL) {
		perr_set(e, 500, "internal store error");
		goto abort;
	}
	store_bind_text(st, ":id", old.accessor_id);
	if (store_step(req->store, st, e) < 0)
		goto abort;
	store_touch_id(req->store, TBL_ACL_TOKENS, old.accessor_id);
	if (store_commit(req->store, e) == -1) {
		acl_token_clear(&old);
		return -1;
	}
	log_info("acl: token %s deleted", old.accessor_id);
	acl_token_clear(&old);
	req->reply = json_object_new_boolean(1);
	return 0;
abort:
	acl_token_clear(&old);
	store_rollback(req->store);
	return -1;
}

static int
has_svc(struct json_object *svcids, const char *name)
{
	struct json_object	*v;
	size_t			 i;

	for (i = 0; svcids != NULL && i < json_object_array_length(svcids);
	    i++)
		if (json_object_object_get_ex(json_object_array_get_idx(svcids,
		    i), "ServiceName", &v) &&
		    strcmp(json_object_get_string(v), name) == 0)
			return 1;
	return 0;
}

/*
 * GET /v1/acl/tokens[?policy=|role=|authmethod=|servicename=][&filter=]
 * Reply: every unexpired token, sorted by AccessorID, SecretID hidden
 * without acl:write; [] when none.  500 for two filters or a bad
 * ?filter.
 */
int
acl_token_list(struct req *req, struct perr *e)
{
	static const char *const keys[] = { "policy", "role", "authmethod",
	    "servicename" };
	struct acl_snap		*s;
	const struct acl_token	*t;
	struct bexpr		*f = NULL;
	struct json_object	*arr, *o;
	const char		*v[4], *filter;
	size_t			 i, nf = 0;
	int64_t			 now = acl_now_ns();
	int			 show;

	if (acl_entmeta_query(req, e) == -1)
		return -1;
	for (i = 0; i < 4; i++)
		if ((v[i] = req_query(req, keys[i])) != NULL && *v[i] != '\0')
			nf++;
		else
			v[i] = NULL;
	if (nf > 1)
		return perr_set(e, 500, "can only filter by one of policy, role, "
		    "serviceName, or methodName at a time");
	filter = req_query(req, "filter");
	if (filter != NULL && *filter != '\0' &&
	    bexpr_compile(filter, token_schema, &f, e) == -1)
		return -1;
	show = acl_allowed(req, ACL_RES_ACL, ACL_ACCESS_WRITE, NULL);
	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1) {
		bexpr_free(f);
		return -1;
	}
	arr = json_object_new_array();
	for (i = 0; i < s->ntokens; i++) {
		t = s->tokens[i];
		if (acl_token_expired(t, now))
			continue;
		if ((v[0] && (t->policies == NULL || !ids_has(t->policies,
		    v[0]))) ||
		    (v[1] && (t->roles == NULL || !ids_has(t->roles, v[1]))) ||
		    (v[2] && strcmp(t->auth_method, v[2]) != 0) ||
		    (v[3] && !has_svc(t->svcids, v[3])))
			continue;
		o = acl_token_json(s, t, show);
		if (f != NULL && !bexpr_match(f, o)) {
			json_object_put(o);
			continue;
		}
		json_object_array_add(arr, o);
	}
	req->index = s->idx[0];
	req->reply = arr;
	acl_snap_put(s);
	bexpr_free(f);
	return 0;
}
