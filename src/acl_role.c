/*
 * acl_role.c -- the ACL role API (acl.md §5):
 *
 *   PUT    /v1/acl/role              create
 *   GET    /v1/acl/role/:id          read
 *   GET    /v1/acl/role/name/:name   read by name
 *   PUT    /v1/acl/role/:id          update (whole replace)
 *   DELETE /v1/acl/role/:id          delete
 *   GET    /v1/acl/roles[?policy=]   list (full objects)
 *
 * Policy links and identities are validated by the helpers in
 * acl_token.c ("on this role" texts; roles are global, so service
 * identities may always name datacenters).
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

struct role_in {
	const char		*id;
	const char		*name;
	const char		*description;
	struct json_object	*policies;
	struct json_object	*svcids;
	struct json_object	*nodeids;
	struct json_object	*templated;
};

#define RI(f)	offsetof(struct role_in, f)
static const struct jfield role_fields[] = {
	{ "ID", J_STRING, RI(id), "string" },
	{ "Name", J_STRING, RI(name), "string" },
	{ "Description", J_STRING, RI(description), "string" },
	{ "Policies", J_ARRAY, RI(policies), "[]structs.ACLRolePolicyLink" },
	{ "ServiceIdentities", J_ARRAY, RI(svcids),
	    "[]*structs.ACLServiceIdentity" },
	{ "NodeIdentities", J_ARRAY, RI(nodeids),
	    "[]*structs.ACLNodeIdentity" },
	{ "TemplatedPolicies", J_ARRAY, RI(templated),
	    "[]*structs.ACLTemplatedPolicy" },
	{ "Hash", J_IGNORE, 0, NULL },
	{ "CreateIndex", J_IGNORE, 0, NULL },
	{ "ModifyIndex", J_IGNORE, 0, NULL },
	{ NULL, 0, 0, NULL }
};

/* ^[A-Za-z0-9\-_]{1,256}$ */
static int
name_valid(const char *s)
{
	size_t	n = strlen(s), i;

	if (n == 0 || n > 256)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

static void
role_fill(void *out, struct store_q *row)
{
	acl_role_from_row(out, row);
}

/* Read one role by ID or name inside the transaction. */
static int
role_get(struct req *req, const char *id, const char *name,
    struct acl_role *r, int *found, struct perr *e)
{
	return store_get_row(req->store, id ? SQL_ACL_ROLE_GET :
	    SQL_ACL_ROLE_GET_NAME, id ? ":id" : ":name", id ? id : name,
	    role_fill, r, found, e);
}

static int
reply_role(struct req *req, const char *id, struct perr *e)
{
	struct acl_snap		*s;
	const struct acl_role	*r;

	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return -1;
	if ((r = acl_snap_role(s, id)) == NULL) {
		acl_snap_put(s);
		return perr_set(e, 500, "internal store error");
	}
	req->reply = acl_role_json(s, r);
	acl_snap_put(s);
	return 0;
}

/* Create (id NULL) or update. */
static int
role_set(struct req *req, const char *id, struct perr *e)
{
	struct role_in		 in;
	struct acl_role		 old, other;
	struct json_object	*pols = NULL, *svc = NULL, *nod = NULL;
	struct store_q		*st;
	const char		*parts[8], *pt, *st_, *nt;
	char			 newid[37], hash[64];
	int			 found, ofound = 0;

	memset(&in, 0, sizeof(in));
	memset(&old, 0, sizeof(old));
	memset(&other, 0, sizeof(other));
	if (acl_decode(req, role_fields, "structs.ACLRole", &in, NULL,
	    "Role decoding failed: ", e) == -1)
		return -1;
	if (in.id != NULL && *in.id != '\0' &&
	    (id == NULL || strcmp(in.id, id) != 0))
		return perr_set(e, 400, "Role ID in URL and payload do not "
		    "match");
	if (in.name == NULL || *in.name == '\0')
		return perr_set(e, 500, "Invalid Role: no Name is set");
	if (!name_valid(in.name))
		return perr_set(e, 500, "Invalid Role: invalid Name. Only "
		    "alphanumeric characters, '-' and '_' are allowed");
	if (in.templated != NULL && json_object_array_length(in.templated) > 0)
		return perr_set(e, 500, "Templated policies are not supported "
		    "by this server");

	if (store_begin(req->store, e) == -1)
		return -1;
	if (id != NULL) {
		if (!uuid_valid(id)) {
			perr_set(e, 500, "Role ID invalid UUID");
			goto abort;
		}
		if (role_get(req, id, NULL, &old, &found, e) == -1)
			goto abort;
		if (!found) {
			perr_set(e, 500, "cannot find role %s", id);
			goto abort;
		}
	}
	if (role_get(req, NULL, in.name, &other, &ofound, e) == -1)
		goto abort;
	if (ofound && (id == NULL || strcasecmp(other.id, id) != 0)) {
		if (id == NULL)
			perr_set(e, 500, "Invalid Role: A Role with Name \"%s\" "
			    "already exists", in.name);
		else
			perr_set(e, 500, "Invalid Role: A role with name \"%s\" "
			    "already exists", in.name);
		goto abort;
	}
	if (acl_links_resolve(req, in.policies, 2, &pols, e) == -1 ||
	    acl_identities_check(req, in.svcids, in.nodeids, "role", 0, &svc,
	    &nod, e) == -1)
		goto abort;
	if (id == NULL) {
		uuid_generate_v4(newid);
		id = newid;
	} else
		id = old.id;
	id = arena_strdup(req->arena, id);
	pt = acl_json_text(req, pols);
	st_ = acl_json_text(req, svc);
	nt = acl_json_text(req, nod);
	parts[0] = in.name;
	parts[1] = in.description;
	parts[2] = pt;
	parts[3] = st_;
	parts[4] = nt;
	acl_hash(parts, 5, hash);
	if ((st = store_stmt(req->store, SQL_ACL_ROLE_UPSERT)) == NULL) {
		perr_set(e, 500, "internal store error");
		goto abort;
	}
	store_bind_text(st, ":id", id);
	store_bind_text(st, ":name", in.name);
	store_bind_text(st, ":description", in.description ? in.description :
	    "");
	store_bind_text(st, ":policies", pt);
	store_bind_text(st, ":service_identities", st_);
	store_bind_text(st, ":node_identities", nt);
	store_bind_text(st, ":hash", hash);
	store_bind_int(st, ":idx", (int64_t)store_tx_index(req->store));
	if (store_step(req->store, st, e) < 0)
		goto abort;
	store_touch_id(req->store, TBL_ACL_ROLES, id);
	if (store_commit(req->store, e) == -1)
		goto out;
	acl_role_clear(&old);
	acl_role_clear(&other);
	json_object_put(pols);
	json_object_put(svc);
	json_object_put(nod);
	return reply_role(req, id, e);
abort:
	store_rollback(req->store);
out:
	acl_role_clear(&old);
	acl_role_clear(&other);
	json_object_put(pols);
	json_object_put(svc);
	json_object_put(nod);
	return -1;
}

/*
 * PUT /v1/acl/role
 * Reply: the new role.  400 decode / a body ID; 500 validation.
 */
int
acl_role_create(struct req *req, struct perr *e)
{
	return role_set(req, NULL, e);
}

/*
 * PUT /v1/acl/role/:id
 * Reply: the stored role.  400 decode / ID mismatch; 500 validation.
 */
int
acl_role_update(struct req *req, struct perr *e)
{
	const char	*id = req_param(req, "id");

	return role_set(req, id ? id : "", e);
}

static int
read_common(struct req *req, const struct acl_role *(*find)(
    const struct acl_snap *, const char *), const char *key, struct perr *e)
{
	struct acl_snap		*s;
	const struct acl_role	*r;

	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return -1;
	req->index = s->idx[2];
	if ((r = find(s, key)) == NULL) {
		acl_snap_put(s);
		return perr_set(e, 404, "Requested role does not exist: ACL "
		    "not found");
	}
	req->reply = acl_role_json(s, r);
	acl_snap_put(s);
	return 0;
}

/*
 * GET /v1/acl/role/:id
 * Reply: the role.  404 "Requested role does not exist: ACL not
 * found"; 500 for a non-UUID.
 */
int
acl_role_read(struct req *req, struct perr *e)
{
	const char	*id = req_param(req, "id");

	if (acl_uuid_lookup(id, "failed acl role lookup", e) == -1)
		return -1;
	return read_common(req, acl_snap_role, id, e);
}

/* GET /v1/acl/role/name/:name -- as acl_role_read(), by name. */
int
acl_role_read_name(struct req *req, struct perr *e)
{
	return read_common(req, acl_snap_role_name, req_param(req, "name"),
	    e);
}

/*
 * DELETE /v1/acl/role/:id
 * Reply: true (also when missing); 500 for a non-UUID.
 */
int
acl_role_delete(struct req *req, struct perr *e)
{
	const char	*id = req_param(req, "id");
	int		 deleted;

	if (acl_uuid_lookup(id, "failed acl role lookup", e) == -1 ||
	    store_delete_row(req->store, SQL_ACL_ROLE_DELETE, ":id", id,
	    TBL_ACL_ROLES, &deleted, e) == -1)
		return -1;
	req->reply = json_object_new_boolean(1);
	return 0;
}

/*
 * GET /v1/acl/roles[?policy=<id>]
 * Reply: full role objects sorted by ID; [] when none.
 */
int
acl_role_list(struct req *req, struct perr *e)
{
	struct acl_snap		*s;
	struct json_object	*arr, *v;
	const char		*pol = req_query(req, "policy");
	const struct acl_role	*r;
	size_t			 i, j;

	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return -1;
	arr = json_object_new_array();
	for (i = 0; i < s->nroles; i++) {
		r = &s->roles[i];
		if (pol != NULL && *pol != '\0') {
			for (j = 0; r->policies != NULL &&
			    j < json_object_array_length(r->policies); j++) {
				v = json_object_array_get_idx(r->policies, j);
				if (strcasecmp(json_object_get_string(v), pol) ==
				    0)
					break;
			}
			if (r->policies == NULL ||
			    j == json_object_array_length(r->policies))
				continue;
		}
		json_object_array_add(arr, acl_role_json(s, r));
	}
	req->index = s->idx[2];
	req->reply = arr;
	acl_snap_put(s);
	return 0;
}
