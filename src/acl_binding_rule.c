/*
 * acl_binding_rule.c -- the ACL binding rule API (acl.md §6) and the
 * binder login runs (acl.md §8.1 step 3):
 *
 *   PUT    /v1/acl/binding-rule          create
 *   GET    /v1/acl/binding-rule/:id      read
 *   PUT    /v1/acl/binding-rule/:id      update (whole replace;
 *                                        AuthMethod immutable)
 *   DELETE /v1/acl/binding-rule/:id      delete
 *   GET    /v1/acl/binding-rules[?authmethod=]  list
 *
 * A rule's Selector is compiled against its method type's identity
 * schema (authmethod_selector_fields, bexpr.c); its BindName is
 * test-interpolated with every variable set to "fake" and must then be
 * a valid name for the BindType, as Consul's IsValidBindingRule does.
 * BindType templated-policy is refused: this server has no templated
 * policies (as tokens and roles refuse them).  Consul sources:
 * agent/consul/acl_endpoint.go BindingRuleSet, agent/consul/auth/
 * binder.go Bind.  Validation errors are 500 (acl.md §1.10).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "acl_auth_method.h"
#include "acl_binding_rule.h"
#include "authmethod.h"
#include "bexpr.h"
#include "conf.h"
#include "json.h"
#include "req.h"
#include "store.h"
#include "util.h"

struct br_in {
	const char		*id;
	const char		*description;
	const char		*auth_method;
	const char		*selector;
	const char		*bind_type;
	const char		*bind_name;
	struct json_object	*bind_vars;
};

#define BI(f)	offsetof(struct br_in, f)
static const struct jfield br_fields[] = {
	{ "ID", J_STRING, BI(id), "string" },
	{ "Description", J_STRING, BI(description), "string" },
	{ "AuthMethod", J_STRING, BI(auth_method), "string" },
	{ "Selector", J_STRING, BI(selector), "string" },
	{ "BindType", J_STRING, BI(bind_type), "string" },
	{ "BindName", J_STRING, BI(bind_name), "string" },
	{ "BindVars", J_ANY, BI(bind_vars),
	    "structs.ACLTemplatedPolicyVariables" },
	{ "CreateIndex", J_IGNORE, 0, NULL },
	{ "ModifyIndex", J_IGNORE, 0, NULL },
	{ NULL, 0, 0, NULL }
};

/* One stored rule; strings in the arena. */
struct br_row {
	const char	*id;
	const char	*description;
	const char	*auth_method;
	const char	*selector;
	const char	*bind_type;
	const char	*bind_name;
	const char	*bind_vars;	/* JSON {"Name": ...}, or NULL */
	uint64_t	 create_index;
	uint64_t	 modify_index;
};

enum bind_type { BT_SERVICE, BT_NODE, BT_ROLE, BT_POLICY, BT__MAX };

static const char *const bind_types[BT__MAX] = {
	[BT_SERVICE] = "service",
	[BT_NODE] = "node",
	[BT_ROLE] = "role",
	[BT_POLICY] = "policy",
};

static int
bind_type_parse(const char *s)
{
	int	i;

	for (i = 0; i < BT__MAX; i++)
		if (strcmp(s, bind_types[i]) == 0)
			return i;
	return -1;
}

/* ^[A-Za-z0-9\-_]{1,max}$: role names (256) and policy names (128). */
static int
word_valid(const char *s, size_t max)
{
	size_t	n = strlen(s), i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/*
 * Interpolate tmpl with vars and check the result for the bind type
 * (binder.go computeBindName).  at_login: policy names are checked
 * with the role-name rule, as Consul's binder does (acl.md §14 item
 * 12).  *out is in the arena.  Returns -1, 500: the HIL error or
 * `invalid bind name: "<computed>"`.
 */
static int
compute_name(struct req *req, enum bind_type t, const char *tmpl,
    struct json_object *vars, int at_login, const char **out,
    struct perr *e)
{
	char	*v;
	int	 ok;

	*out = NULL;
	if (authmethod_bind_name(tmpl, vars, &v, e) == -1)
		return -1;
	switch (t) {
	case BT_SERVICE:
	case BT_NODE:
		ok = acl_name_valid(v);
		break;
	case BT_POLICY:
		ok = word_valid(v, at_login ? 256 : 128);
		break;
	default:
		ok = word_valid(v, 256);
		break;
	}
	if (!ok) {
		perr_set(e, 500, "invalid bind name: \"%.200s\"", v);
		free(v);
		return -1;
	}
	*out = arena_strdup(req->arena, v);
	free(v);
	return 0;
}

static const char *
col(struct req *req, struct store_q *st, int c)
{
	const char	*v = store_col_text(st, c);

	return v == NULL ? NULL : arena_strdup(req->arena, v);
}

static struct br_row *
row_read(struct req *req, struct store_q *st)
{
	struct br_row	*r;

	r = arena_alloc(req->arena, sizeof(*r));
	r->id = col(req, st, 0);
	r->description = col(req, st, 1);
	r->auth_method = col(req, st, 2);
	r->selector = col(req, st, 3);
	r->bind_type = col(req, st, 4);
	r->bind_name = col(req, st, 5);
	r->bind_vars = col(req, st, 6);
	r->create_index = (uint64_t)store_col_int(st, 7);
	r->modify_index = (uint64_t)store_col_int(st, 8);
	return r;
}

static int
rule_get(struct req *req, const char *id, struct br_row **out,
    struct perr *e)
{
	struct store_q	*st;
	int		 rc;

	*out = NULL;
	if ((st = store_stmt(req->store, SQL_BINDING_RULE_GET)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":id", id);
	if ((rc = store_step(req->store, st, e)) == 1)
		*out = row_read(req, st);
	store_reset(st);
	return rc < 0 ? -1 : 0;
}

/* The rule as Consul renders it (BindVars keys lower-case on output). */
static struct json_object *
br_json(const struct br_row *r)
{
	struct json_object	*o, *bv = NULL, *n, *v;
	struct perr		 e;

	o = json_object_new_object();
	json_object_object_add(o, "ID", json_object_new_string(r->id));
	json_object_object_add(o, "Description",
	    json_object_new_string(r->description));
	json_object_object_add(o, "AuthMethod",
	    json_object_new_string(r->auth_method));
	json_object_object_add(o, "Selector",
	    json_object_new_string(r->selector));
	json_object_object_add(o, "BindType",
	    json_object_new_string(r->bind_type));
	json_object_object_add(o, "BindName",
	    json_object_new_string(r->bind_name));
	perr_clear(&e);
	if (r->bind_vars != NULL && json_parse_text(r->bind_vars,
	    strlen(r->bind_vars), &bv, &e) == 0) {
		n = json_object_new_object();
		if (json_object_object_get_ex(bv, "Name", &v))
			json_object_object_add(n, "name", json_object_get(v));
		json_object_object_add(o, "BindVars", n);
		json_object_put(bv);
	}
	json_object_object_add(o, "CreateIndex",
	    json_object_new_uint64(r->create_index));
	json_object_object_add(o, "ModifyIndex",
	    json_object_new_uint64(r->modify_index));
	return o;
}

/* BindVars {"Name": "..."} (keys case-insensitive) as stored JSON. */
static int
bind_vars_text(struct req *req, struct json_object *in, const char **out,
    struct perr *e)
{
	struct json_object	*o;

	*out = NULL;
	if (in == NULL)
		return 0;
	if (!json_object_is_type(in, json_type_object))
		return perr_set(e, 400, "BindingRule decoding failed: json: "
		    "cannot unmarshal %s into Go struct field "
		    "ACLBindingRule.BindVars of type "
		    "structs.ACLTemplatedPolicyVariables", json_type_go(in));
	o = json_object_new_object();
	json_object_object_foreach(in, k, v) {
		if (strcasecmp(k, "name") != 0)
			continue;
		if (v != NULL && !json_object_is_type(v, json_type_string)) {
			json_object_put(o);
			return perr_set(e, 400, "BindingRule decoding failed: "
			    "json: cannot unmarshal %s into Go struct field "
			    "ACLTemplatedPolicyVariables.BindVars.Name of type "
			    "string", json_type_go(v));
		}
		if (v != NULL)
			json_object_object_add(o, "Name", json_object_get(v));
	}
	*out = arena_strdup(req->arena, json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

/*
 * Validate a rule against its method (BindingRuleSet, acl.md §6 steps
 * 2-5), outside the write lock: loading the method's validator parses
 * its keys.  *canon gets the method's stored Name.
 */
static int
validate(struct req *req, const struct br_in *in, const char **canon,
    struct perr *e)
{
	struct am_row			*am;
	struct authmethod		*m = NULL;
	struct authmethod_identity	*id = NULL;
	struct json_object		*fake = NULL;
	struct bexpr			*x = NULL;
	const char			*name;
	int				 t, rc = -1;

	if (in->auth_method == NULL || *in->auth_method == '\0')
		return perr_set(e, 500, "Invalid Binding Rule: no AuthMethod "
		    "is set");
	if (acl_auth_method_get(req, in->auth_method, &am, e) == -1)
		return -1;
	if (am == NULL)
		return perr_set(e, 500, "cannot find auth method with name "
		    "\"%s\"", in->auth_method);
	*canon = am->name;
	if (acl_auth_method_load(req, am, 0, &m, e) == -1) {
		e->status = 500;
		return perr_prefix(e, "Invalid Auth Method: ");
	}
	id = authmethod_identity_new(m);
	if (in->selector != NULL && *in->selector != '\0') {
		if (bexpr_compile_selector(in->selector,
		    authmethod_selector_fields(authmethod_type(m)), &x, e) ==
		    -1) {
			e->status = 500;
			perr_prefix(e, "invalid Binding Rule: Selector is "
			    "invalid: ");
			goto out;
		}
		bexpr_free(x);
	}
	if (in->bind_type == NULL || *in->bind_type == '\0') {
		perr_set(e, 500, "Invalid Binding Rule: no BindType is set");
		goto out;
	}
	if (in->bind_name == NULL || *in->bind_name == '\0') {
		perr_set(e, 500, "Invalid Binding Rule: no BindName is set");
		goto out;
	}
	if (strcmp(in->bind_type, "templated-policy") == 0) {
		perr_set(e, 500, "Templated policies are not supported by this "
		    "server");
		goto out;
	}
	if ((t = bind_type_parse(in->bind_type)) == -1) {
		perr_set(e, 500, "Invalid Binding Rule: unknown BindType "
		    "\"%s\"", in->bind_type);
		goto out;
	}
	fake = json_object_new_object();
	json_object_object_foreach(id->vars, k, v) {
		(void)v;
		json_object_object_add(fake, k, json_object_new_string("fake"));
	}
	if (compute_name(req, t, in->bind_name, fake, 0, &name, e) == -1) {
		e->status = 500;
		perr_prefix(e, "Invalid Binding Rule: invalid BindName: ");
		goto out;
	}
	rc = 0;
out:
	json_object_put(fake);
	authmethod_identity_free(id);
	authmethod_free(m);
	return rc;
}

/* Create (url NULL or "") or update the rule url. */
static int
br_set(struct req *req, const char *url, struct perr *e)
{
	struct br_in	 in;
	struct br_row	*old = NULL, *now = NULL;
	struct am_row	*am;
	struct store_q	*st;
	const char	*bv, *method = NULL;
	char		 id[37];
	size_t		 i;

	memset(&in, 0, sizeof(in));
	if (url == NULL)
		url = "";
	if (acl_decode(req, br_fields, "structs.ACLBindingRule", &in, NULL,
	    "BindingRule decoding failed: ", e) == -1 ||
	    bind_vars_text(req, in.bind_vars, &bv, e) == -1)
		return -1;
	if (in.id != NULL && *in.id != '\0' && strcmp(in.id, url) != 0)
		return perr_set(e, 400, "BindingRule ID in URL and payload do "
		    "not match");
	if (*url != '\0') {
		if (!uuid_valid(url))
			return perr_set(e, 500, "Binding Rule ID invalid UUID");
		if (rule_get(req, url, &old, e) == -1)
			return -1;
		if (old == NULL)
			return perr_set(e, 500, "cannot find binding rule %s",
			    url);
		if (in.auth_method == NULL || *in.auth_method == '\0')
			in.auth_method = old->auth_method;
		else if (strcmp(in.auth_method, old->auth_method) != 0)
			return perr_set(e, 500, "the AuthMethod field of an "
			    "Binding Rule is immutable");
	}
	if (validate(req, &in, &method, e) == -1)
		return -1;
	if (old != NULL)
		snprintf(id, sizeof(id), "%s", old->id);
	else
		uuid_generate_v4(id);
	for (i = 0; id[i] != '\0'; i++)
		if (id[i] >= 'A' && id[i] <= 'F')
			id[i] += 'a' - 'A';

	if (store_begin(req->store, e) == -1)
		return -1;
	/* The method or the rule may have gone meanwhile. */
	if (acl_auth_method_get(req, method, &am, e) == -1)
		goto abort;
	if (am == NULL) {
		perr_set(e, 500, "cannot find auth method with name \"%s\"",
		    in.auth_method);
		goto abort;
	}
	if (old != NULL) {
		if (rule_get(req, id, &now, e) == -1)
			goto abort;
		if (now == NULL) {
			perr_set(e, 500, "cannot find binding rule %s", url);
			goto abort;
		}
	}
	if ((st = store_stmt(req->store, SQL_BINDING_RULE_UPSERT)) == NULL) {
		perr_set(e, 500, "internal store error");
		goto abort;
	}
	store_bind_text(st, ":id", id);
	store_bind_text(st, ":description", in.description ? in.description :
	    "");
	store_bind_text(st, ":auth_method", old ? old->auth_method : am->name);
	store_bind_text(st, ":selector", in.selector ? in.selector : "");
	store_bind_text(st, ":bind_type", in.bind_type);
	store_bind_text(st, ":bind_name", in.bind_name);
	store_bind_text(st, ":bind_vars", bv);
	store_bind_int(st, ":idx", (int64_t)store_tx_index(req->store));
	if (store_step(req->store, st, e) < 0 ||
	    rule_get(req, id, &now, e) == -1)
		goto abort;
	if (now == NULL) {
		perr_set(e, 500, "internal store error");
		goto abort;
	}
	store_touch_id(req->store, TBL_ACL_BINDING_RULES, id);
	if (store_commit(req->store, e) == -1)
		return -1;
	log_info("acl: binding rule %s %s for auth method %s", now->id,
	    old ? "updated" : "created", now->auth_method);
	req->reply = br_json(now);
	return 0;
abort:
	store_rollback(req->store);
	return -1;
}

/*
 * PUT /v1/acl/binding-rule (and PUT /v1/acl/binding-rule/, as Consul's
 * prefix route takes it)
 * Reply: the new rule.  400 decode or any body ID; 500 validation.
 */
int
acl_binding_rule_create(struct req *req, struct perr *e)
{
	return br_set(req, NULL, e);
}

/*
 * PUT /v1/acl/binding-rule/:id
 * Reply: the stored rule.  400 decode / ID mismatch; 500 validation.
 */
int
acl_binding_rule_update(struct req *req, struct perr *e)
{
	return br_set(req, req_param(req, "id"), e);
}

/*
 * GET /v1/acl/binding-rule/:id
 * Reply: the rule.  404 "Requested binding rule does not exist: ACL not
 * found"; 500 for a non-UUID.
 */
int
acl_binding_rule_read(struct req *req, struct perr *e)
{
	const char	*id = req_param(req, "id");
	struct br_row	*r;

	if (acl_uuid_lookup(id, "failed acl binding rule lookup", e) == -1)
		return -1;
	req->index = store_index(TBL_ACL_BINDING_RULES);
	if (rule_get(req, id, &r, e) == -1)
		return -1;
	if (r == NULL)
		return perr_set(e, 404, "Requested binding rule does not "
		    "exist: ACL not found");
	req->reply = br_json(r);
	return 0;
}

/*
 * DELETE /v1/acl/binding-rule/:id
 * Reply: true (also when missing); 500 for a non-UUID.
 */
int
acl_binding_rule_delete(struct req *req, struct perr *e)
{
	const char	*id = req_param(req, "id");
	int		 deleted;

	if (acl_uuid_lookup(id, "failed acl binding rule lookup", e) == -1 ||
	    store_delete_row(req->store, SQL_BINDING_RULE_DELETE, ":id", id,
	    TBL_ACL_BINDING_RULES, &deleted, e) == -1)
		return -1;
	if (deleted)
		log_info("acl: binding rule %s deleted", id);
	req->reply = json_object_new_boolean(1);
	return 0;
}

/*
 * GET /v1/acl/binding-rules[?authmethod=<name>]
 * Reply: rules sorted by ID; [] when none (also for an unknown method).
 */
int
acl_binding_rule_list(struct req *req, struct perr *e)
{
	const char		*m = req_query(req, "authmethod");
	struct json_object	*arr;
	struct store_q		*st;
	int			 rc;

	req->index = store_index(TBL_ACL_BINDING_RULES);
	if (m != NULL && *m != '\0') {
		if ((st = store_stmt(req->store, SQL_BINDING_RULE_BY_METHOD)) ==
		    NULL)
			return perr_set(e, 500, "internal store error");
		store_bind_text(st, ":method", m);
	} else if ((st = store_stmt(req->store, SQL_BINDING_RULE_ALL)) == NULL)
		return perr_set(e, 500, "internal store error");
	arr = json_object_new_array();
	while ((rc = store_step(req->store, st, e)) == 1)
		json_object_array_add(arr, br_json(row_read(req, st)));
	store_reset(st);
	if (rc < 0) {
		json_object_put(arr);
		return -1;
	}
	req->reply = arr;
	return 0;
}

/* GET|DELETE /v1/acl/binding-rule/ -- 400 "Missing binding rule ID". */
int
acl_binding_rule_missing(struct req *req, struct perr *e)
{
	(void)req;
	return perr_set(e, 400, "Missing binding rule ID");
}

/* ---------------------------------------------------------------- */
/* The binder (login).                                                */

/* The ID of the role or policy called name (col 0), or NULL. */
static int
id_by_name(struct req *req, enum sql_id q, const char *name,
    const char **id, struct perr *e)
{
	struct store_q	*st;
	int		 rc;

	*id = NULL;
	if ((st = store_stmt(req->store, q)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":name", name);
	if ((rc = store_step(req->store, st, e)) == 1)
		*id = arena_strdup(req->arena, store_col_text(st, 0));
	store_reset(st);
	return rc < 0 ? -1 : 0;
}

static void
add_id(struct json_object **arr, const char *id)
{
	size_t	i;

	if (*arr == NULL)
		*arr = json_object_new_array();
	for (i = 0; i < json_object_array_length(*arr); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(
		    *arr, i)), id) == 0)
			return;
	json_object_array_add(*arr, json_object_new_string(id));
}

/*
 * Run method's binding rules over a verified identity (binder.go Bind),
 * inside the caller's open transaction: every rule whose Selector
 * matches the identity's fields (an empty one matches all; one that no
 * longer compiles matches nothing), in ID order, adds a service or node
 * identity (node: in this datacenter), or links the role or policy of
 * that name when it exists.  Identities are merged as on tokens.  b is
 * filled (owned by the caller, acl_bindings_clear) and may be empty.
 * Returns -1, 500, on a BindName that does not interpolate into a
 * valid name, or a store failure.
 */
int
acl_binding_rule_bind(struct req *req, const struct am_row *am,
    const struct authmethod *m, const struct authmethod_identity *id,
    struct acl_bindings *b, struct perr *e)
{
	struct json_object	*svc = NULL, *nod = NULL, *o;
	struct br_row		*r;
	struct bexpr		*x;
	struct store_q		*st;
	const char		*name, *oid;
	struct br_row		**rules = NULL;
	struct perr		 ce;
	size_t			 n = 0, i;
	int			 rc, t, match;

	memset(b, 0, sizeof(*b));
	if ((st = store_stmt(req->store, SQL_BINDING_RULE_BY_METHOD)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":method", am->name);
	while ((rc = store_step(req->store, st, e)) == 1) {
		rules = xrealloc(rules, (n + 1) * sizeof(*rules));
		rules[n++] = row_read(req, st);
	}
	store_reset(st);
	if (rc < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		r = rules[i];
		if ((t = bind_type_parse(r->bind_type)) == -1)
			continue;
		match = 1;
		if (*r->selector != '\0') {
			perr_clear(&ce);
			if (bexpr_compile_selector(r->selector,
			    authmethod_selector_fields(authmethod_type(m)), &x,
			    &ce) == -1)
				match = 0;
			else {
				match = bexpr_match(x, id->fields);
				bexpr_free(x);
			}
		}
		if (!match)
			continue;
		if (compute_name(req, t, r->bind_name, id->vars, 1, &name,
		    e) == -1) {
			e->status = 500;
			goto fail;
		}
		switch (t) {
		case BT_SERVICE:
			if (svc == NULL)
				svc = json_object_new_array();
			o = json_object_new_object();
			json_object_object_add(o, "ServiceName",
			    json_object_new_string(name));
			json_object_array_add(svc, o);
			break;
		case BT_NODE:
			if (nod == NULL)
				nod = json_object_new_array();
			o = json_object_new_object();
			json_object_object_add(o, "NodeName",
			    json_object_new_string(name));
			json_object_object_add(o, "Datacenter",
			    json_object_new_string(
			    req->worker->conf->datacenter));
			json_object_array_add(nod, o);
			break;
		case BT_ROLE:
		case BT_POLICY:
			if (id_by_name(req, t == BT_ROLE ?
			    SQL_ACL_ROLE_GET_NAME : SQL_ACL_POLICY_GET_NAME, name,
			    &oid, e) == -1)
				goto fail;
			if (oid != NULL)
				add_id(t == BT_ROLE ? &b->roles : &b->policies,
				    oid);
			break;
		}
	}
	free(rules);
	rules = NULL;
	if (acl_identities_check(req, svc, nod, "token", 1, &b->svcids,
	    &b->nodeids, e) == -1)
		goto fail;
	json_object_put(svc);
	json_object_put(nod);
	return 0;
fail:
	free(rules);
	json_object_put(svc);
	json_object_put(nod);
	acl_bindings_clear(b);
	return -1;
}

/* 1 when the login bound nothing (acl.md §8.1 step 4). */
int
acl_bindings_empty(const struct acl_bindings *b)
{
	return (b->svcids == NULL || json_object_array_length(b->svcids) ==
	    0) &&
	    (b->nodeids == NULL || json_object_array_length(b->nodeids) == 0) &&
	    (b->roles == NULL || json_object_array_length(b->roles) == 0) &&
	    (b->policies == NULL || json_object_array_length(b->policies) ==
	    0);
}

void
acl_bindings_clear(struct acl_bindings *b)
{
	json_object_put(b->svcids);
	json_object_put(b->nodeids);
	json_object_put(b->roles);
	json_object_put(b->policies);
	memset(b, 0, sizeof(*b));
}
