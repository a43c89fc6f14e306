/*
 * req.c -- the request type's accessors: query and path parameters,
 * reply headers, the body decoded through a field table.  Everything
 * here reads or fills a struct req already parsed by http.c, so the
 * families and acl.c use it without depending on the pipeline.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "portcullis.h"
#include "json.h"
#include "req.h"

static const char *const method_names[M__MAX] = {
	[M_GET] = "GET",
	[M_PUT] = "PUT",
	[M_POST] = "POST",
	[M_DELETE] = "DELETE",
	[M_OPTIONS] = "OPTIONS",
};

const char *
method_name(enum method m)
{
	return method_names[m];
}

/* M__MAX for a method no route uses (still answered with 405). */
enum method
method_from_name(const char *s)
{
	size_t	i;

	for (i = 0; i < M__MAX; i++)
		if (strcmp(s, method_names[i]) == 0)
			return (enum method)i;
	return M__MAX;
}

/* The first value of query parameter key, or NULL. */
const char *
req_query(const struct req *req, const char *key)
{
	size_t	i;

	for (i = 0; i < req->nquery; i++)
		if (strcmp(req->query[i].key, key) == 0)
			return req->query[i].val;
	return NULL;
}

int
req_query_has(const struct req *req, const char *key)
{
	return req_query(req, key) != NULL;
}

/* Every value of key (repeated ?name=), up to max; returns the count. */
size_t
req_query_all(const struct req *req, const char *key, const char **out,
    size_t max)
{
	size_t	i, n = 0;

	for (i = 0; i < req->nquery; i++)
		if (strcmp(req->query[i].key, key) == 0 && n < max)
			out[n++] = req->query[i].val;
	return n;
}

/*
 * Parse ?key as Go's strconv.ParseBool; absent or empty is false.
 * Returns -1 (400) for anything else; the caller words the error.
 */
int
req_query_bool(const struct req *req, const char *key, int *out,
    struct perr *e)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true",
	    "True", NULL };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false",
	    "False", NULL };
	const char	*v;
	size_t		 i;

	*out = 0;
	if ((v = req_query(req, key)) == NULL || *v == '\0')
		return 0;
	for (i = 0; t[i] != NULL; i++)
		if (strcmp(v, t[i]) == 0) {
			*out = 1;
			return 0;
		}
	for (i = 0; f[i] != NULL; i++)
		if (strcmp(v, f[i]) == 0)
			return 0;
	return perr_set(e, 400, "The '%s' query parameter must be a boolean "
	    "value", key);
}

/* The value of path parameter :name, or NULL. */
const char *
req_param(const struct req *req, const char *name)
{
	size_t	i;

	for (i = 0; i < req->nparams; i++)
		if (strcmp(req->params[i].key, name) == 0)
			return req->params[i].val;
	return NULL;
}

/* Add a reply header; both strings must outlive the request (arena). */
void
req_header(struct req *req, const char *name, const char *value)
{
	if (req->nheaders < REQ_MAX_HEADERS) {
		req->headers[req->nheaders].key = name;
		req->headers[req->nheaders].val = value;
		req->nheaders++;
	}
}

/*
 * Parse req->body and decode it into out through fields (json.c's
 * json_decode()).  The parsed tree is kept in req->json, freed with the
 * request, so J_ARRAY/J_ANY fields may borrow from it.  Status 400.
 */
int
req_decode_body(struct req *req, const struct jfield *fields,
    const char *gostruct, void *out, uint64_t *seen, struct perr *e)
{
	if (req->json == NULL &&
	    json_parse_text(req->body, req->bodylen, &req->json, e) == -1)
		return -1;
	return json_decode(req->arena, req->json, fields, gostruct, out,
	    seen, e);
}
