/*
 * acl_policy.c -- the ACL policy API (acl.md §4):
 *
 *   PUT    /v1/acl/policy              create
 *   GET    /v1/acl/policy/:id          read
 *   GET    /v1/acl/policy/name/:name  read by name ('/' allowed)
 *   PUT    /v1/acl/policy/:id          update (whole replace)
 *   DELETE /v1/acl/policy/:id          delete
 *   GET    /v1/acl/policies            list (stubs, builtins included)
 *
 * Rules are parsed and validated on write by acl_rules.c; the builtin
 * policies keep their rules and datacenters but may be renamed.  Names
 * are unique case-insensitively (the name_key column).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "json.h"
#include "req.h"
#include "store.h"
#include "util.h"

struct policy_in {
	const char		*id;
	const char		*name;
	const char		*description;
	const char		*rules;
	struct json_object	*datacenters;
};

#define PI(f)	offsetof(struct policy_in, f)
static const struct jfield policy_fields[] = {
	{ "ID", J_STRING, PI(id), "string" },
	{ "Name", J_STRING, PI(name), "string" },
	{ "Description", J_STRING, PI(description), "string" },
	{ "Rules", J_STRING, PI(rules), "string" },
	{ "Datacenters", J_ARRAY, PI(datacenters), "[]string" },
	{ "Hash", J_IGNORE, 0, NULL },
	{ "CreateIndex", J_IGNORE, 0, NULL },
	{ "ModifyIndex", J_IGNORE, 0, NULL },
	{ NULL, 0, 0, NULL }
};

/*
 * A policy name: 1-128 characters, ^[A-Za-z0-9\-_]+/?[A-Za-z0-9\-_]*$,
 * not starting with "builtin/" (acl.md §4.1).
 */
static int
name_valid(const char *s, int builtin_ok)
{
	size_t	n = strlen(s), i, slash = 0;

	if (n == 0 || n > 128 || s[0] == '/')
		return 0;
	if (!builtin_ok && strncmp(s, "builtin/", 8) == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_')
			continue;
		if (s[i] == '/' && slash++ == 0)
			continue;
		return 0;
	}
	return 1;
}

static int
is_builtin(const char *id)
{
	size_t	i;

	for (i = 0; i < ACL_BUILTIN__MAX; i++)
		if (strcmp(acl_builtins[i].id, id) == 0)
			return 1;
	return 0;
}

static void
policy_fill(void *out, struct store_q *row)
{
	acl_policy_from_row(out, row);
}

/* Read one policy by ID or name inside the transaction. */
static int
policy_get(struct req *req, const char *id, const char *name,
    struct acl_policy *p, int *found, struct perr *e)
{
	return store_get_row(req->store, id ? SQL_ACL_POLICY_GET :
	    SQL_ACL_POLICY_GET_NAME, id ? ":id" : ":name", id ? id : name,
	    policy_fill, p, found, e);
}

/*
 * Insert or update a policy in the open transaction of s (dcs: JSON
 * text or NULL).  Used by the handlers and by acl_store_init() for the
 * builtins.  Returns 0 or -1 (500).
 */
int
acl_policy_write(struct store *s, const char *id, const char *name,
    const char *description, const char *rules, const char *dcs,
    struct perr *e)
{
	struct store_q	*st;
	const char	*parts[5];
	char		 hash[64];

	parts[0] = name;
	parts[1] = description;
	parts[2] = rules;
	parts[3] = dcs;
	acl_hash(parts, 4, hash);
	if ((st = store_stmt(s, SQL_ACL_POLICY_UPSERT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":id", id);
	store_bind_text(st, ":name", name);
	store_bind_text(st, ":description", description);
	store_bind_text(st, ":rules", rules);
	store_bind_text(st, ":datacenters", dcs);
	store_bind_text(st, ":hash", hash);
	store_bind_int(st, ":idx", (int64_t)store_tx_index(s));
	if (store_step(s, st, e) < 0)
		return -1;
	store_touch_id(s, TBL_ACL_POLICIES, id);
	return 0;
}

static int
reply_policy(struct req *req, const char *id, struct perr *e)
{
	struct acl_snap		*s;
	const struct acl_policy	*p;

	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return -1;
	if ((p = acl_snap_policy(s, id)) == NULL) {
		acl_snap_put(s);
		return perr_set(e, 500, "internal store error");
	}
	req->reply = acl_policy_json(p, 0);
	acl_snap_put(s);
	return 0;
}

/* The shared body of create (id NULL) and update. */
static int
policy_set(struct req *req, const char *id, struct perr *e)
{
	struct policy_in	 in;
	struct acl_policy	 old, other;
	struct acl_policy_rules	*parsed = NULL;
	const char		*dcs, *rules;
	char			 newid[37];
	size_t			 i;
	int			 found, ofound = 0, builtin = 0;

	memset(&in, 0, sizeof(in));
	memset(&old, 0, sizeof(old));
	memset(&other, 0, sizeof(other));
	if (acl_decode(req, policy_fields, "structs.ACLPolicy", &in, NULL,
	    "Policy decoding failed: ", e) == -1)
		return -1;
	if (id == NULL && in.id != NULL && *in.id != '\0')
		return perr_set(e, 400, "Cannot specify the ID when creating a "
		    "new policy");
	if (id != NULL && in.id != NULL && *in.id != '\0' &&
	    strcmp(in.id, id) != 0)
		return perr_set(e, 400, "Policy ID in URL and payload do not "
		    "match");
	for (i = 0; in.datacenters != NULL &&
	    i < json_object_array_length(in.datacenters); i++)
		if (!json_object_is_type(json_object_array_get_idx(
		    in.datacenters, i), json_type_string))
			return perr_set(e, 400, "Policy decoding failed: json: "
			    "cannot unmarshal %s into Go struct field "
			    "ACLPolicy.Datacenters of type string",
			    json_type_go(json_object_array_get_idx(
			    in.datacenters, i)));
	if (in.name == NULL || *in.name == '\0')
		return perr_set(e, 500, "Invalid Policy: no Name is set");
	builtin = id != NULL && is_builtin(id);
	if (!name_valid(in.name, builtin))
		return perr_set(e, 500, "Invalid Policy: invalid Name. Only "
		    "alphanumeric characters, '-' and '_' are allowed");
	if (id != NULL && !uuid_valid(id))
		return perr_set(e, 500, "Policy ID invalid UUID");
	rules = in.rules ? in.rules : "";
	dcs = acl_json_text(req, in.datacenters);

	if (store_begin(req->store, e) == -1)
		return -1;
	if (id != NULL) {
		if (policy_get(req, id, NULL, &old, &found, e) == -1)
			goto abort;
		if (!found) {
			perr_set(e, 500, "cannot find policy %s", id);
			goto abort;
		}
	}
	if (policy_get(req, NULL, in.name, &other, &ofound, e) == -1)
		goto abort;
	if (ofound && (id == NULL || strcasecmp(other.id, id) != 0)) {
		if (id == NULL)
			perr_set(e, 500, "Invalid Policy: A Policy with Name "
			    "\"%s\" already exists", in.name);
		else
			perr_set(e, 500, "Invalid Policy: A policy with name "
			    "\"%s\" already exists", in.name);
		goto abort;
	}
	if (builtin) {
		if (strcmp(rules, old.rules) != 0) {
			perr_set(e, 500, "Changing the Rules for the builtin %s "
			    "policy is not permitted", old.name);
			goto abort;
		}
		if (dcs != NULL) {
			perr_set(e, 500, "Changing the Datacenters of the "
			    "builtin %s policy is not permitted", old.name);
			goto abort;
		}
	}
	if (acl_rules_parse_text(rules, strlen(rules), &parsed, e) == -1)
		goto abort;
	acl_rules_free(parsed);
	if (id == NULL) {
		do
			uuid_generate_v4(newid);
		while (strncmp(newid, ACL_RESERVED_PREFIX,
		    strlen(ACL_RESERVED_PREFIX)) == 0);
		id = newid;
	} else
		id = old.id;
	if (acl_policy_write(req->store, id, in.name, in.description ?
	    in.description : "", rules, dcs, e) == -1)
		goto abort;
	id = arena_strdup(req->arena, id);
	if (store_commit(req->store, e) == -1)
		goto out;
	acl_policy_clear(&old);
	acl_policy_clear(&other);
	return reply_policy(req, id, e);
abort:
	store_rollback(req->store);
out:
	acl_policy_clear(&old);
	acl_policy_clear(&other);
	return -1;
}

/*
 * PUT /v1/acl/policy
 * Reply: the new policy.  400 decode or a body ID; 500 validation.
 */
int
acl_policy_create(struct req *req, struct perr *e)
{
	return policy_set(req, NULL, e);
}

/*
 * PUT /v1/acl/policy/:id
 * Reply: the stored policy.  400 decode / ID mismatch; 500 validation.
 */
int
acl_policy_update(struct req *req, struct perr *e)
{
	const char	*id = req_param(req, "id");

	return policy_set(req, id ? id : "", e);
}

/* The policy find(key) of the ACL snapshot as the reply, or 404. */
static int
read_common(struct req *req, const struct acl_policy *(*find)(
    const struct acl_snap *, const char *), const char *key, struct perr *e)
{
	struct acl_snap		*s;
	const struct acl_policy	*p;

	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return -1;
	req->index = s->idx[1];
	if ((p = find(s, key)) == NULL) {
		acl_snap_put(s);
		return perr_set(e, 404, "Requested policy does not exist: ACL "
		    "not found");
	}
	req->reply = acl_policy_json(p, 0);
	acl_snap_put(s);
	return 0;
}

/*
 * GET /v1/acl/policy/:id
 * Reply: the policy.  404 "Requested policy does not exist: ACL not
 * found"; 500 for a non-UUID.
 */
int
acl_policy_read(struct req *req, struct perr *e)
{
	const char	*id = req_param(req, "id");

	if (acl_uuid_lookup(id, "failed acl policy lookup", e) == -1)
		return -1;
	return read_common(req, acl_snap_policy, id, e);
}

/*
 * GET /v1/acl/policy/name/<name>
 * The name is query-unescaped once more, as Consul does (a '+' becomes
 * a space).  Reply and errors as acl_policy_read().
 */
int
acl_policy_read_name(struct req *req, struct perr *e)
{
	char	*name;

	name = arena_strdup(req->arena, req_param(req, "name"));
	if (url_decode(name, 1) == -1)
		return perr_set(e, 400, "Invalid URL escape in policy name");
	return read_common(req, acl_snap_policy_name, name, e);
}

/*
 * DELETE /v1/acl/policy/:id
 * Reply: true (also when missing).  500 for a builtin or a non-UUID.
 * Links to the policy stay and are hidden on read.
 */
int
acl_policy_delete(struct req *req, struct perr *e)
{
	const char		*id = req_param(req, "id");
	struct acl_policy	 old;
	struct store_q		*st;
	int			 found;

	if (acl_uuid_lookup(id, "failed acl policy lookup", e) == -1)
		return -1;
	memset(&old, 0, sizeof(old));
	if (store_begin(req->store, e) == -1)
		return -1;
	if (policy_get(req, id, NULL, &old, &found, e) == -1)
		goto abort;
	if (!found) {
		store_rollback(req->store);
		req->reply = json_object_new_boolean(1);
		return 0;
	}
	if (is_builtin(old.id)) {
		perr_set(e, 500, "Delete operation not permitted on the builtin "
		    "%s policy", old.name);
		goto abort;
	}
	if ((st = store_stmt(req->store, SQL_ACL_POLICY_DELETE)) == NULL) {
		perr_set(e, 500, "internal store error");
		goto abort;
	}
	store_bind_text(st, ":id", old.id);
	if (store_step(req->store, st, e) < 0)
		goto abort;
	store_touch_id(req->store, TBL_ACL_POLICIES, old.id);
	acl_policy_clear(&old);
	if (store_commit(req->store, e) == -1)
		return -1;
	req->reply = json_object_new_boolean(1);
	return 0;
abort:
	acl_policy_clear(&old);
	store_rollback(req->store);
	return -1;
}

/*
 * GET /v1/acl/policies
 * Reply: every policy as a stub (no Rules), sorted by ID; [] when none.
 */
int
acl_policy_list(struct req *req, struct perr *e)
{
	struct acl_snap		*s;
	struct json_object	*arr;
	size_t			 i;

	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return -1;
	arr = json_object_new_array();
	for (i = 0; i < s->npolicies; i++)
		json_object_array_add(arr, acl_policy_json(&s->policies[i], 1));
	req->index = s->idx[1];
	req->reply = arr;
	acl_snap_put(s);
	return 0;
}
