/*
 * test_router.c -- the routing table (routes.c) and the matcher
 * (router.c): every row declares an ACL, no pattern shadows another,
 * and paths resolve to the right row, 404 or 405 with Allow.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "portcullis.h"
#include "hooks.h"
#include "http.h"
#include "router.h"
#include "tap.h"

/* A concrete path for pattern: ":x" -> "sample", "*x" -> "a/b". */
static void
sample_path(const char *pattern, char *out, size_t sz)
{
	const char	*p = pattern;
	size_t		 n = 0;

	while (*p && n + 8 < sz) {
		if (*p == ':' || *p == '*') {
			const char *v = *p == ':' ? "sample" : "a/b";

			memcpy(out + n, v, strlen(v));
			n += strlen(v);
			while (*p && *p != '/')
				p++;
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
}

static enum route_match
match(struct arena *a, enum method m, const char *path, struct req *req,
    char *allow)
{
	memset(req, 0, sizeof(*req));
	req->arena = a;
	req->method = m;
	req->path = path;
	return router_match(req, allow, 128);
}

static const struct {
	enum method	 m;
	const char	*path;
	int		 want;		/* enum route_match */
	const char	*pattern;	/* ROUTE_FOUND */
	const char	*allow;		/* ROUTE_NO_METHOD */
	const char	*param;		/* value of :id */
} cases[] = {
	{ M_GET, "/v1/connect/intentions", ROUTE_FOUND,
	    "/v1/connect/intentions", NULL, NULL },
	{ M_POST, "/v1/connect/intentions", ROUTE_FOUND,
	    "/v1/connect/intentions", NULL, NULL },
	{ M_DELETE, "/v1/connect/intentions", ROUTE_NO_METHOD, NULL,
	    "OPTIONS,GET,POST", NULL },
	{ M_GET, "/v1/connect/intentions/exact", ROUTE_FOUND,
	    "/v1/connect/intentions/exact", NULL, NULL },
	{ M_POST, "/v1/connect/intentions/exact", ROUTE_NO_METHOD, NULL,
	    "OPTIONS,GET,PUT,DELETE", NULL },
	{ M_GET, "/v1/connect/intentions/check", ROUTE_FOUND,
	    "/v1/connect/intentions/check", NULL, NULL },
	{ M_PUT, "/v1/connect/intentions/check", ROUTE_NO_METHOD, NULL,
	    "OPTIONS,GET", NULL },
	{ M_GET, "/v1/connect/intentions/match", ROUTE_FOUND,
	    "/v1/connect/intentions/match", NULL, NULL },
	{ M_GET, "/v1/connect/intentions/0b5f0a4e-5a3c-7c3e-1d0b-9a2f9c1e6d11",
	    ROUTE_FOUND, "/v1/connect/intentions/:id", NULL,
	    "0b5f0a4e-5a3c-7c3e-1d0b-9a2f9c1e6d11" },
	{ M_POST, "/v1/connect/intentions/abc", ROUTE_NO_METHOD, NULL,
	    "OPTIONS,GET,PUT,DELETE", NULL },
	{ M_OPTIONS, "/v1/connect/intentions/abc", ROUTE_NO_METHOD, NULL,
	    "OPTIONS,GET,PUT,DELETE", NULL },
	{ M_GET, "/v1/connect/intentions/", ROUTE_NO_PATH, NULL, NULL, NULL },
	{ M_GET, "/v1/connect/intentions/a/b", ROUTE_NO_PATH, NULL, NULL,
	    NULL },
	{ M_GET, "/v1/nope", ROUTE_NO_PATH, NULL, NULL, NULL },
	{ M_GET, "/", ROUTE_NO_PATH, NULL, NULL, NULL },
	{ M_GET, "", ROUTE_NO_PATH, NULL, NULL, NULL },
	{ M_GET, "/v1/connect/intentionsX", ROUTE_NO_PATH, NULL, NULL, NULL },
	{ M__MAX, "/v1/connect/intentions", ROUTE_NO_METHOD, NULL,
	    "OPTIONS,GET,POST", NULL },
	/* ACL (acl.md §1.1): the longest pattern wins, as in ServeMux. */
	{ M_GET, "/v1/acl/token/self", ROUTE_FOUND, "/v1/acl/token/self",
	    NULL, NULL },
	{ M_PUT, "/v1/acl/token/self", ROUTE_NO_METHOD, NULL, "OPTIONS,GET",
	    NULL },
	{ M_GET, "/v1/acl/token/0b5f0a4e-5a3c-7c3e-1d0b-9a2f9c1e6d11",
	    ROUTE_FOUND, "/v1/acl/token/:id", NULL,
	    "0b5f0a4e-5a3c-7c3e-1d0b-9a2f9c1e6d11" },
	{ M_PUT, "/v1/acl/token/abc/clone", ROUTE_FOUND,
	    "/v1/acl/token/:id/clone", NULL, "abc" },
	{ M_GET, "/v1/acl/token/", ROUTE_FOUND, "/v1/acl/token/", NULL,
	    NULL },
	{ M_GET, "/v1/acl/policy/name/a/b", ROUTE_FOUND,
	    "/v1/acl/policy/name/*name", NULL, NULL },
	{ M_POST, "/v1/acl/tokens", ROUTE_NO_METHOD, NULL, "OPTIONS,GET",
	    NULL },
};

/*
 * Routes that need no ACL at all.  A new ACL_NONE row must be added
 * here on purpose (acl.md §1.1, connect.md §8.3): the test below fails
 * otherwise, so an endpoint cannot be left open by accident.
 */
static const char *const open_routes[] = {
	"PUT /v1/acl/bootstrap",
	"GET /v1/acl/replication",
	"GET /v1/acl/token/self",	/* must hold the secret */
	"GET /v1/acl/token/", "DELETE /v1/acl/token/",	/* 400 Missing */
	"GET /v1/acl/policy/", "DELETE /v1/acl/policy/",
	"GET /v1/acl/policy/name/",
	"GET /v1/acl/role/", "DELETE /v1/acl/role/", "GET /v1/acl/role/name/",
	"POST /v1/acl/login", "POST /v1/acl/logout",
	"POST /v1/acl/oidc/auth-url", "POST /v1/acl/oidc/callback",
	"GET /v1/acl/binding-rule/", "DELETE /v1/acl/binding-rule/",
	"GET /v1/acl/auth-method/", "DELETE /v1/acl/auth-method/",
	"GET /v1/connect/ca/roots", "GET /v1/agent/connect/ca/roots",
	"GET /v1/connect/ca/crl",
	/* Consul's status endpoints; our store check (load balancers) */
	"GET /v1/status/leader", "GET /v1/status/peers",
	"GET /v1/status/store",
	NULL
};

static int
is_open(const struct route *r)
{
	char	buf[256];
	size_t	i;

	snprintf(buf, sizeof(buf), "%s %s", method_name(r->method),
	    r->pattern);
	for (i = 0; open_routes[i] != NULL; i++)
		if (strcmp(open_routes[i], buf) == 0)
			return 1;
	return 0;
}

int
main(void)
{
	struct arena	*a = arena_new();
	struct req	 req;
	char		 path[256], allow[128];
	size_t		 i, j;
	enum route_match r;

	/* Structural: every row declares an ACL and a sane row. */
	for (i = 0; i < nroutes; i++) {
		ok(routes[i].acl != ACL_NEED_UNSET && routes[i].acl <
		    ACL_NEED__MAX, "route %s %s declares its ACL",
		    method_name(routes[i].method), routes[i].pattern);
		ok(routes[i].handler != NULL, "route %s has a handler",
		    routes[i].pattern);
		ok(!(routes[i].flags & R_BLOCKING) ||
		    routes[i].watch != WATCH_NONE,
		    "blocking route %s watches a table", routes[i].pattern);
		ok(routes[i].acl != ACL_NONE || is_open(&routes[i]),
		    "route %s %s needs no ACL only on purpose (open_routes)",
		    method_name(routes[i].method), routes[i].pattern);
		/* ACL API: reads need acl:read, writes acl:write. */
		if (strncmp(routes[i].pattern, "/v1/acl/", 8) == 0 &&
		    routes[i].acl != ACL_NONE && routes[i].acl != ACL_BY_HANDLER)
			ok(routes[i].acl == (routes[i].method == M_GET ?
			    ACL_ACL_READ : ACL_ACL_WRITE), "ACL route %s %s "
			    "needs acl:%s", method_name(routes[i].method),
			    routes[i].pattern, routes[i].method == M_GET ?
			    "read" : "write");
		for (j = 0; j < i; j++)
			if (routes[j].method == routes[i].method &&
			    strcmp(routes[j].pattern, routes[i].pattern) == 0)
				break;
		ok(j == i, "route %s %s is unique",
		    method_name(routes[i].method), routes[i].pattern);
	}
	/* No pattern shadows another: each row's own sample reaches it. */
	for (i = 0; i < nroutes; i++) {
		sample_path(routes[i].pattern, path, sizeof(path));
		r = match(a, routes[i].method, path, &req, allow);
		ok(r == ROUTE_FOUND && req.route == &routes[i],
		    "sample %s %s reaches its own row",
		    method_name(routes[i].method), path);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = match(a, cases[i].m, cases[i].path, &req, allow);
		is_int(r, cases[i].want, "%s %s -> %d",
		    cases[i].m < M__MAX ? method_name(cases[i].m) : "BREW",
		    cases[i].path, cases[i].want);
		if (cases[i].pattern != NULL && r == ROUTE_FOUND)
			is_str(req.route->pattern, cases[i].pattern,
			    "%s picks %s", cases[i].path, cases[i].pattern);
		if (cases[i].allow != NULL)
			is_str(allow, cases[i].allow, "Allow for %s",
			    cases[i].path);
		if (cases[i].param != NULL)
			is_str(req_param(&req, "id"), cases[i].param,
			    ":id of %s", cases[i].path);
	}
	arena_free(a);

	/* The lifecycle table beside it: every row named and doing work. */
	ok(nhooks > 0, "the lifecycle hook table has rows");
	for (i = 0; i < nhooks; i++)
		ok(hooks[i].name != NULL && (hooks[i].boot != NULL ||
		    hooks[i].worker_start != NULL ||
		    hooks[i].worker_gone != NULL),
		    "hook %zu (%s) is named and runs something", i,
		    hooks[i].name ? hooks[i].name : "?");
	return tap_done();
}
