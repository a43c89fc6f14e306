/*
 * bench_acl.c -- in-process cost of ACL enforcement on a cache hit:
 * token resolution (precedence, shared-memory index check, snapshot
 * reference, keyed bucket + constant-time secret compare) plus one
 * authorizer decision, in ns/op; and, for scale, the cost of a miss
 * (snapshot rebuild after a token write).  Run by tests/bench/run.sh;
 * also standalone: tests/bench/bench_acl [iterations].
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "conf.h"
#include "http.h"
#include "router.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#define MGMT	"6a1e4fd8-0e3d-4a3f-9a43-3e0c3f4a2b10"

static double
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int
main(int argc, char *argv[])
{
	struct worker	 wk;
	struct store	*st;
	struct perr	 e;
	struct arena	*a;
	struct req	*r;
	struct route	 rt;
	struct acl_snap	*s;
	char		 dir[] = "/tmp/pc-bench-acl-XXXXXX", path[256];
	char		 cmd[300], secret[64];
	const char	*cfg = "data_dir = \"/tmp\"\nacl {\n enabled = true\n"
	    " default_policy = \"deny\"\n tokens { initial_management = \""
	    MGMT "\" }\n}\n";
	long		 i, n = argc > 1 ? atol(argv[1]) : 2000000;
	double		 t0, hit, miss;
	int		 allowed = 0, k;

	umask(077);
	log_init("bench", 0);
	if (mkdtemp(dir) == NULL)
		return 1;
	memset(&wk, 0, sizeof(wk));
	perr_clear(&e);
	snprintf(path, sizeof(path), "%s/b.db", dir);
	if (conf_parse(cfg, strlen(cfg), 0, &wk.conf, &e) == -1 ||
	    store_open(path, &st, &e) == -1 || store_migrate(st, &e) == -1 ||
	    store_load_shared(st, &e) == -1 ||
	    acl_store_init(st, wk.conf, &e) == -1) {
		fprintf(stderr, "bench_acl: %s\n", e.msg);
		return 1;
	}
	/* A token with a realistic policy, among 1,000 others. */
	memset(&rt, 0, sizeof(rt));
	rt.pattern = "/v1/x";
	rt.acl = ACL_ACL_WRITE;
	for (k = 0; k <= 1000; k++) {
		a = arena_new();
		r = arena_alloc(a, sizeof(*r));
		r->arena = a;
		r->worker = &wk;
		r->store = st;
		r->route = &rt;
		r->hdr_token = MGMT;
		r->body = arena_strdup(a, k == 0 ? "{\"Name\": \"p\", \"Rules\": "
		    "\"service_prefix \\\"\\\" { policy = \\\"read\\\" }\\n"
		    "service \\\"db\\\" { policy = \\\"write\\\" }\\n"
		    "node_prefix \\\"\\\" { policy = \\\"read\\\" }\"}" :
		    "{\"Policies\": [{\"Name\": \"p\"}]}");
		r->bodylen = strlen(r->body);
		if (acl_route_check(r, &e) == -1 || (k == 0 ?
		    acl_policy_create(r, &e) : acl_token_create(r, &e)) == -1) {
			fprintf(stderr, "bench_acl: setup: %s\n", e.msg);
			return 1;
		}
		if (k == 500)
			snprintf(secret, sizeof(secret), "%s", json_object_get_string(
			    json_object_object_get(r->reply, "SecretID")));
		acl_release(r);
		json_object_put(r->reply);
		json_object_put(r->json);
		arena_free(a);
	}

	rt.acl = ACL_BY_HANDLER;
	a = arena_new();
	r = arena_alloc(a, sizeof(*r));
	r->arena = a;
	r->worker = &wk;
	r->store = st;
	r->route = &rt;
	r->hdr_token = secret;
	/* Warm the snapshot and the token's authorizer. */
	if (acl_resolve(r, &e) == -1)
		return 1;
	acl_release(r);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if (acl_resolve(r, &e) == -1)
			return 1;
		allowed += acl_allowed(r, ACL_RES_SERVICE, ACL_ACCESS_READ,
		    "db");
		acl_release(r);
	}
	hit = (now_ns() - t0) / (double)n;

	/* A miss: the tokens index moved, the snapshot is rebuilt. */
	t0 = now_ns();
	for (k = 0; k < 20; k++) {
		if (store_begin(st, &e) == -1)
			return 1;
		store_touch(st, TBL_ACL_TOKENS);
		if (store_commit(st, &e) == -1 ||
		    acl_snap_get(st, wk.conf, &s, &e) == -1)
			return 1;
		acl_snap_put(s);
	}
	miss = (now_ns() - t0) / 20;
	arena_free(a);
	printf("acl resolve + decision (cache hit, 1001 tokens): %.0f ns/op "
	    "(%ld ops, %d allowed)\n", hit, n, allowed);
	printf("acl snapshot rebuild (cache miss, 1001 tokens): %.0f us\n",
	    miss / 1000);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	conf_free(wk.conf);
	return 0;
}
