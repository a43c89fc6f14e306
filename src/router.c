/*
 * router.c -- matching a request path against the routing table
 * (routes.c).  A pattern is a list of '/'-separated segments: literals,
 * ":name" (one non-empty segment) or a final "*name" (the non-empty
 * rest, slashes included).  When several patterns match a path the one
 * with the most literal segments wins, as Go's ServeMux lets the longer
 * pattern win in Consul ("/v1/connect/intentions/exact" beats
 * ".../intentions/:id").  A path that matches but not with this method
 * is a 405 listing the methods of the winning pattern.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "portcullis.h"
#include "http.h"
#include "router.h"

/*
 * Match path against pattern.  On success fills params, unless it is
 * NULL (up to REQ_MAX_PARAMS, copied into the arena), and returns the
 * number of literal segments (>= 0); returns -1 when it does not match.
 */
int
pattern_match(const char *pattern, const char *path, struct kv *params,
    size_t *nparams, struct arena *a)
{
	const char	*p = pattern, *s = path;
	const char	*pe, *se;
	size_t		 n = 0;
	int		 lits = 0;

	if (*p != '/' || *s != '/')
		return -1;
	while (*p == '/' && *s == '/') {
		p++;
		s++;
		pe = strchr(p, '/');
		if (pe == NULL)
			pe = p + strlen(p);
		se = strchr(s, '/');
		if (se == NULL)
			se = s + strlen(s);
		if (*p == '*') {
			if (*s == '\0')
				return -1;
			if (params != NULL && n < REQ_MAX_PARAMS) {
				params[n].key = p + 1;
				params[n].val = arena_strdup(a, s);
				n++;
			}
			*nparams = n;
			return lits;
		}
		if (*p == ':') {
			if (se == s)
				return -1;
			if (params != NULL && n < REQ_MAX_PARAMS) {
				params[n].key = arena_strndup(a, p + 1,
				    (size_t)(pe - p - 1));
				params[n].val = arena_strndup(a, s,
				    (size_t)(se - s));
				n++;
			}
		} else {
			if (pe - p != se - s || strncmp(p, s, (size_t)(pe - p)))
				return -1;
			lits++;
		}
		p = pe;
		s = se;
	}
	if (*p != '\0' || *s != '\0')
		return -1;
	*nparams = n;
	return lits;
}

/*
 * Does path begin with pattern's literal head (everything before its
 * first ':' or '*')?  A necessary condition for pattern_match(), at
 * memcmp cost: most of the table fails it within a few bytes.
 */
static int
head_matches(const char *p, const char *s)
{
	for (; *p != '\0' && *p != ':' && *p != '*'; p++, s++)
		if (*p != *s)
			return 0;
	return 1;
}

/*
 * Find the route for req->path and req->method.  ROUTE_FOUND sets
 * req->route and req->params.  ROUTE_NO_METHOD writes the Allow list
 * ("OPTIONS,GET,PUT") into allow.  OPTIONS on a known path is
 * ROUTE_NO_METHOD too; the caller answers it with 200.
 */
enum route_match
router_match(struct req *req, char *allow, size_t allowsz)
{
	const char	*best = NULL;
	size_t		 i, np;
	int		 score, bestscore = -1;

	/* Pick the most specific pattern matching the path: no copies. */
	for (i = 0; i < nroutes; i++) {
		if (!head_matches(routes[i].pattern, req->path) ||
		    (best != NULL && strcmp(routes[i].pattern, best) == 0))
			continue;
		score = pattern_match(routes[i].pattern, req->path, NULL, &np,
		    NULL);
		if (score > bestscore) {
			bestscore = score;
			best = routes[i].pattern;
		}
	}
	if (best == NULL)
		return ROUTE_NO_PATH;
	/* Then copy the winner's parameters once. */
	req->nparams = 0;
	(void)pattern_match(best, req->path, req->params, &req->nparams,
	    req->arena);

	snprintf(allow, allowsz, "OPTIONS");
	for (i = 0; i < nroutes; i++) {
		if (strcmp(routes[i].pattern, best) != 0)
			continue;
		if (routes[i].method == req->method) {
			req->route = &routes[i];
			return ROUTE_FOUND;
		}
		strncat(allow, ",", allowsz - strlen(allow) - 1);
		strncat(allow, method_name(routes[i].method),
		    allowsz - strlen(allow) - 1);
	}
	return ROUTE_NO_METHOD;
}
