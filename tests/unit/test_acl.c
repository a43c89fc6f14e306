/*
 * test_acl.c -- acl.c and the ACL family files driven in-process (no
 * sockets): start-up objects, token precedence, resolution through the
 * per-worker snapshot and its invalidation, handlers for tokens and
 * policies, the codecs.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "portcullis.h"
#include "acl.h"
#include "acl_db.h"
#include "conf.h"
#include "hcl.h"
#include "http.h"
#include "router.h"
#include "store.h"
#include "util.h"
#include "worker.h"
#include "tap.h"

#define MGMT	"6a1e4fd8-0e3d-4a3f-9a43-3e0c3f4a2b10"

static struct worker	 wk;
static struct store	*st;
static char		 dbpath[256];

static struct req *
mkreq(const char *query, const char *hdr_token, const char *hdr_auth,
    const char *body)
{
	struct arena	*a = arena_new();
	struct req	*r = arena_alloc(a, sizeof(*r));
	struct perr	 e;

	r->arena = a;
	r->worker = &wk;
	r->store = st;
	r->hdr_token = hdr_token;
	r->hdr_auth = hdr_auth;
	if (http_parse_query(r, query ? query : "", &e) == -1)
		abort();
	r->body = arena_strdup(a, body ? body : "");
	r->bodylen = strlen(r->body);
	return r;
}

static void
endreq(struct req *r)
{
	acl_release(r);
	json_object_put(r->reply);
	json_object_put(r->json);
	arena_free(r->arena);
}

static const char *
jstr(struct json_object *o, const char *k)
{
	struct json_object	*v;

	return json_object_object_get_ex(o, k, &v) ?
	    json_object_get_string(v) : NULL;
}

/* Token precedence: one line per case (acl.md §1.3). */
static const struct {
	const char	*query, *hdr, *auth, *want;
} prec[] = {
	{ "token=q", "h", "Bearer b", "q" },
	{ "token=", "h", "Bearer b", "h" },
	{ NULL, "h", "Bearer b", "h" },
	{ NULL, "", "Bearer b", "b" },
	{ NULL, NULL, "bearer   b2 extra", "b2" },
	{ NULL, NULL, "BEARER b3", "b3" },
	{ NULL, NULL, "Basic xyz", "dflt" },
	{ NULL, NULL, "Bearer", "dflt" },
	{ NULL, NULL, NULL, "dflt" },
};

static void
test_precedence(void)
{
	struct req	*r;
	size_t		 i;
	char		*saved = wk.conf->acl.default_token;

	wk.conf->acl.default_token = "dflt";
	for (i = 0; i < sizeof(prec) / sizeof(prec[0]); i++) {
		r = mkreq(prec[i].query, prec[i].hdr, prec[i].auth, NULL);
		is_str(acl_req_secret(r), prec[i].want, "token precedence "
		    "case %zu gives %s", i, prec[i].want);
		endreq(r);
	}
	wk.conf->acl.default_token = NULL;
	r = mkreq(NULL, NULL, NULL, NULL);
	is_str(acl_req_secret(r), "", "no token and no default: anonymous");
	endreq(r);
	wk.conf->acl.default_token = saved;
}

static void
test_codecs(void)
{
	int64_t	ns;
	char	buf[40], h1[64], h2[64];
	const char *p1[] = { "a", "b" }, *p2[] = { "ab" }, *p3[] = { "a", "c" };

	ok(acl_time_parse("2024-05-03T09:15:02.5Z", &ns) == 0 &&
	    ns == 1714727702500000000LL, "RFC 3339 with fraction parses");
	acl_time_format(ns, buf);
	is_str(buf, "2024-05-03T09:15:02.5Z", "formats back, zeros trimmed");
	ok(acl_time_parse("2024-05-03T11:15:02+02:00", &ns) == 0 &&
	    ns == 1714727702000000000LL, "offsets are honoured");
	ok(acl_time_parse("yesterday", &ns) == -1, "garbage is refused");
	ok(acl_name_valid("web") && acl_name_valid("a-b_c1") &&
	    !acl_name_valid("Web") && !acl_name_valid("-web") &&
	    !acl_name_valid("web-") && !acl_name_valid(""),
	    "identity names: lowercase alphanumerics, inner - and _");
	acl_hash(p1, 2, h1);
	acl_hash(p2, 1, h2);
	is_str(h1, h2, "hash is over the concatenation");
	acl_hash(p3, 2, h2);
	ok(strcmp(h1, h2) != 0 && strlen(h1) == 44, "hash changes with "
	    "content and is base64 of 32 bytes");
}

static void
test_startup(void)
{
	struct acl_snap		*s;
	const struct acl_token	*t, *m;
	struct perr		 e;

	perr_clear(&e);
	ok(acl_store_init(st, wk.conf, &e) == 0, "start-up objects created");
	ok(acl_store_init(st, wk.conf, &e) == 0, "start-up is idempotent");
	ok(acl_snap_get(st, wk.conf, &s, &e) == 0, "snapshot");
	t = acl_snap_token(s, ACL_ANONYMOUS_ACCESSOR_ID);
	ok(t != NULL && strcmp(t->secret_id, "anonymous") == 0 &&
	    strcmp(t->description, "Anonymous Token") == 0,
	    "anonymous token 00000000-0000-0000-0000-000000000002");
	ok(acl_snap_policy(s, ACL_MGMT_POLICY_ID) != NULL &&
	    strcmp(acl_snap_policy(s, ACL_MGMT_POLICY_ID)->name,
	    "global-management") == 0, "global-management builtin");
	ok(acl_snap_policy_name(s, "builtin/global-read-only") != NULL,
	    "builtin/global-read-only builtin");
	m = acl_snap_token_secret(s, MGMT);
	ok(m != NULL && strcmp(m->description, "Initial Management Token") ==
	    0, "initial_management token created with its secret");
	ok(acl_snap_token_secret(s, MGMT "x") == NULL &&
	    acl_snap_token_secret(s, "") == NULL, "near-miss secrets miss");
	ok(m != NULL && acl_authz_check(acl_token_authz(s, wk.conf, m),
	    ACL_RES_ACL, ACL_ACCESS_WRITE, NULL) == ACL_ALLOW,
	    "management token may acl:write");
	ok(t != NULL && acl_authz_check(acl_token_authz(s, wk.conf, t),
	    ACL_RES_SERVICE, ACL_ACCESS_READ, "web") == ACL_DENY,
	    "anonymous under default deny may not read services");
	acl_snap_put(s);
}

static enum acl_need	 need = ACL_NONE;

static struct json_object *
call(int (*h)(struct req *, struct perr *), const char *query,
    const char *token, const char *body, const char *param,
    struct perr *e)
{
	struct req		*r = mkreq(query, token, NULL, body);
	struct json_object	*out = NULL;
	static struct route	 rt;

	rt.acl = need;
	rt.pattern = "/v1/acl/x";
	r->route = &rt;
	if (param != NULL) {
		r->params[0].key = "id";
		r->params[0].val = param;
		r->nparams = 1;
	}
	perr_clear(e);
	if (acl_route_check(r, e) == 0 && h(r, e) == 0)
		out = json_object_get(r->reply);
	endreq(r);
	return out;
}

static void
test_handlers(void)
{
	struct json_object	*o, *p;
	struct perr		 e;
	struct req		*r;
	char			 acc[64], sec[64];

	p = call(acl_policy_create, NULL, MGMT, "{\"Name\": \"svc-read\", "
	    "\"Rules\": \"service_prefix \\\"\\\" { policy = \\\"read\\\" }\"}",
	    NULL, &e);
	ok(p != NULL && jstr(p, "ID") != NULL, "policy created");
	o = call(acl_policy_create, NULL, MGMT, "{\"Name\": \"SVC-READ\"}",
	    NULL, &e);
	ok(o == NULL && e.status == 500 && strcmp(e.msg, "Invalid Policy: A "
	    "Policy with Name \"SVC-READ\" already exists") == 0,
	    "policy names are unique case-insensitively (500)");
	o = call(acl_policy_create, NULL, MGMT, "{\"Name\": \"x\", "
	    "\"Rules\": \"service \\\"a\\\" { policy = \\\"nope\\\" }\"}",
	    NULL, &e);
	ok(o == NULL && e.status == 500 && strncmp(e.msg, "Invalid service "
	    "policy: ", 24) == 0, "bad rules are 500 with Consul's text");
	o = call(acl_token_create, NULL, MGMT, "{\"Description\": \"t\", "
	    "\"Policies\": [{\"Name\": \"svc-read\"}], \"ExpirationTTL\": "
	    "\"1h\"}", NULL, &e);
	ok(o != NULL && jstr(o, "ExpirationTime") != NULL,
	    "token created with a TTL gets an ExpirationTime");
	snprintf(acc, sizeof(acc), "%s", o ? jstr(o, "AccessorID") : "");
	snprintf(sec, sizeof(sec), "%s", o ? jstr(o, "SecretID") : "");
	json_object_put(o);

	r = mkreq(NULL, sec, NULL, NULL);
	ok(acl_require(r, ACL_RES_SERVICE, ACL_ACCESS_READ, "web", &e) == 0,
	    "the new token reads services through its policy");
	ok(acl_require(r, ACL_RES_SERVICE, ACL_ACCESS_WRITE, "web", &e) == -1 &&
	    e.status == 403 && strstr(e.msg, "lacks permission "
	    "'service:write' on \"web\"") != NULL, "and may not write them");
	endreq(r);

	need = ACL_ACL_READ;
	o = call(acl_token_read, NULL, sec, NULL, acc, &e);
	need = ACL_NONE;
	ok(o == NULL && e.status == 403 && strstr(e.msg, "lacks permission "
	    "'acl:read'") != NULL, "the route check asks acl:read to read a "
	    "token");
	o = call(acl_token_delete, NULL, MGMT, NULL, acc, &e);
	ok(o != NULL && json_object_get_boolean(o), "token deleted");
	json_object_put(o);
	r = mkreq(NULL, sec, NULL, NULL);
	ok(acl_resolve(r, &e) == -1 && e.status == 403 &&
	    strcmp(e.msg, "ACL not found") == 0, "a deleted token stops "
	    "resolving on the very next request");
	endreq(r);
	r = mkreq(NULL, "ffffffff-0000-0000-0000-000000000000", NULL, NULL);
	ok(acl_resolve(r, &e) == -1 && e.status == 403 &&
	    strcmp(e.msg, "ACL not found") == 0, "an unknown secret is 403 "
	    "ACL not found");
	endreq(r);
	r = mkreq("token=manage", NULL, NULL, NULL);
	ok(acl_resolve(r, &e) == -1 && e.status == 500 &&
	    strcmp(e.msg, "Cannot resolve root ACL") == 0, "root secrets are "
	    "500 Cannot resolve root ACL");
	endreq(r);

	o = call(acl_token_create, NULL, MGMT, "{\"ExpirationTTL\": \"30s\"}",
	    NULL, &e);
	ok(o == NULL && e.status == 500 && strcmp(e.msg, "ExpirationTime "
	    "cannot be less than 1m0s in the future (was 30s)") == 0,
	    "a TTL under the minimum is refused with Consul's text");
	o = call(acl_token_create, NULL, MGMT, "{\"Namespace\": \"x\"}",
	    NULL, &e);
	ok(o == NULL && e.status == 400 && strcmp(e.msg, "Token decoding "
	    "failed: json: unknown field \"Namespace\" - Namespaces are a "
	    "Consul Enterprise feature") == 0, "Namespace in a body is 400");
	o = call(acl_policy_delete, NULL, MGMT, NULL, ACL_MGMT_POLICY_ID, &e);
	ok(o == NULL && e.status == 500 && strcmp(e.msg, "Delete operation "
	    "not permitted on the builtin global-management policy") == 0,
	    "builtin policies cannot be deleted");
	json_object_put(p);
}

/* Expiry: never resolved nor listed once past, then reaped. */
static void
test_expiry(void)
{
	struct json_object	*o;
	struct acl_snap		*s;
	struct perr		 e;
	struct req		*r;
	sqlite3			*db;
	char			 sql[256], path[300], sec[64], acc[64];
	uint64_t		 before;

	o = call(acl_token_create, NULL, MGMT, "{\"ExpirationTTL\": \"1h\"}",
	    NULL, &e);
	ok(o != NULL, "token with a TTL");
	snprintf(acc, sizeof(acc), "%s", o ? jstr(o, "AccessorID") : "");
	snprintf(sec, sizeof(sec), "%s", o ? jstr(o, "SecretID") : "");
	json_object_put(o);
	/*
	 * Age it behind the store's back, as written by the next commit
	 * (its modify index: snapshots are patched from the rows past
	 * theirs), then publish that token write.
	 */
	snprintf(path, sizeof(path), "%s", dbpath);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		abort();
	snprintf(sql, sizeof(sql), "UPDATE acl_token SET expiration_ns = 1, "
	    "modify_index = (SELECT idx + 1 FROM table_index WHERE name = "
	    "'raft') WHERE accessor_id = '%s'", acc);
	ok(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "aged");
	sqlite3_close(db);
	if (store_begin(st, &e) == -1)
		abort();
	store_touch(st, TBL_ACL_TOKENS);
	if (store_commit(st, &e) == -1)
		abort();
	r = mkreq(NULL, sec, NULL, NULL);
	ok(acl_resolve(r, &e) == -1 && e.status == 403 &&
	    strcmp(e.msg, "ACL not found") == 0, "an expired token is 403 "
	    "ACL not found");
	endreq(r);
	o = call(acl_token_list, NULL, MGMT, NULL, NULL, &e);
	ok(o != NULL && strstr(json_object_to_json_string(o), acc) == NULL,
	    "an expired token is not listed");
	json_object_put(o);
	before = store_index(TBL_ACL_TOKENS);
	ok(acl_reap(st, acl_now_ns(), &e) == 0 && store_index(TBL_ACL_TOKENS) > before,
	    "reaping deletes it in one write");
	ok(acl_snap_get(st, wk.conf, &s, &e) == 0 &&
	    acl_snap_token(s, acc) == NULL, "and it is gone from the store");
	acl_snap_put(s);
	before = store_index(TBL_ACL_TOKENS);
	ok(acl_reap(st, acl_now_ns(), &e) == 0 && store_index(TBL_ACL_TOKENS) == before,
	    "reaping nothing writes nothing");
}

static void
test_repeated_blocks(void)
{
	struct acl_policy_rules	*r = NULL;
	const struct acl_policy_rules *set[1];
	struct acl_authz	*a;
	struct json_object	*o;
	struct perr		 e;
	const char		*txt = "service \"web\" { policy = \"deny\" }\n"
	    "service \"web\" { policy = \"read\" }\n";

	ok(acl_rules_parse_text(txt, strlen(txt), &r, &e) == 0,
	    "repeated blocks parse");
	set[0] = r;
	a = acl_authz_new(set, 1, ACL_DEFAULT_ALLOW);
	ok(acl_authz_check(a, ACL_RES_SERVICE, ACL_ACCESS_READ, "web") ==
	    ACL_DENY, "repeated service blocks for one name merge by "
	    "precedence: deny wins, as Consul (hcl.c HCL_REPEAT_LIST)");
	acl_authz_free(a);
	acl_rules_free(r);
	ok(hcl_parse("a { b = 1 }\na { c = 2 }", 23, &o, &e) == 0 &&
	    json_object_object_length(json_object_object_get(o, "a")) == 2,
	    "the configuration file still merges repeated blocks");
	json_object_put(o);
}

int
main(void)
{
	struct perr	 e;
	char		 dir[] = "/tmp/pc-acl-XXXXXX", path[256];
	const char	*cfg = "data_dir = \"/tmp\"\nacl {\n enabled = true\n"
	    " default_policy = \"deny\"\n tokens { initial_management = \""
	    MGMT "\" }\n}\n";

	umask(077);
	if (mkdtemp(dir) == NULL)
		return 1;
	perr_clear(&e);
	if (conf_parse(cfg, strlen(cfg), 0, &wk.conf, &e) == -1) {
		printf("# %s\n", e.msg);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/test.db", dir);
	snprintf(dbpath, sizeof(dbpath), "%s", path);
	if (store_open(path, &st, &e) == -1 || store_migrate(st, &e) == -1 ||
	    store_load_shared(st, &e) == -1) {
		printf("# %s\n", e.msg);
		return 1;
	}
	test_codecs();
	test_precedence();
	test_startup();
	test_handlers();
	test_expiry();
	test_repeated_blocks();
	store_close(st);
	unlink(path);
	snprintf(path, sizeof(path), "%s/test.db.wlock", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/test.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/test.db-shm", dir);
	unlink(path);
	rmdir(dir);
	conf_free(wk.conf);
	return tap_done();
}
