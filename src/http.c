/*
 * http.c -- reading a FastCGI request into struct req, the generic
 * pipeline every route goes through (http_dispatch), and the only code
 * that writes replies.
 *
 * Pipeline: parse -> route (404/405/OPTIONS) -> generic query checks
 * (dc, ns/partition, index/wait, consistency flags) -> body (413) ->
 * ACL (acl.c: the token, the row's ACL) -> handler -> blocking
 * (blocking.c) -> reply.  Errors are plain text as Consul sends them;
 * JSON is rendered like Go's encoding/json (<, >, & escaped; ?pretty =
 * 4 spaces + "\n").
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "audit.h"
#include "blocking.h"
#include "conf.h"
#include "http.h"
#include "json.h"
#include "metrics.h"
#include "router.h"
#include "snap.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#define HDRMAX		4096
#define HDRLEFT		(size_t)(HDRMAX - (hp - hdr))
/* Append to the header buffer; never past its end (clamped). */
#define HADD(...)	do {						\
	int _n = snprintf(hp, HDRLEFT, __VA_ARGS__);			\
	hp += _n < 0 ? 0 : (size_t)_n < HDRLEFT ? (size_t)_n : HDRLEFT - 1; \
} while (0)
#define WAIT_DEFAULT_MS	(5 * 60 * 1000)
#define WAIT_MAX_MS	(10 * 60 * 1000)

/*
 * Parse a raw query string into req->query (arena).  400 for a bad
 * percent escape.
 */
int
http_parse_query(struct req *req, const char *qs, struct perr *e)
{
	char	*copy, *tok, *save, *eq;
	size_t	 n = 1;
	const char *p;

	for (p = qs; *p; p++)
		if (*p == '&' || *p == ';')
			n++;
	req->query = arena_alloc(req->arena, n * sizeof(struct kv));
	req->nquery = 0;
	copy = arena_strdup(req->arena, qs);
	for (tok = strtok_r(copy, "&", &save); tok != NULL;
	    tok = strtok_r(NULL, "&", &save)) {
		if ((eq = strchr(tok, '=')) != NULL)
			*eq++ = '\0';
		if (url_decode(tok, 1) == -1 ||
		    (eq != NULL && url_decode(eq, 1) == -1))
			return perr_set(e, 400, "Invalid query string");
		if (*tok == '\0')
			continue;
		req->query[req->nquery].key = tok;
		req->query[req->nquery].val = eq != NULL ? eq : "";
		req->nquery++;
	}
	return 0;
}

static const char *
env(struct req *req, const char *name)
{
	FCGX_Request	*fr = req->fcgi;

	return FCGX_GetParam(name, fr->envp);
}

/*
 * Read method, path, query, the headers we use, and the body (up to
 * the configured limit: 413 beyond it) from the FastCGI request.
 */
int
http_read(struct req *req, struct perr *e)
{
	FCGX_Request	*fr = req->fcgi;
	const char	*m, *uri, *qs, *cl;
	char		*path, *q, *end;
	unsigned long long len;
	size_t		 got;
	int		 n;

	m = env(req, "REQUEST_METHOD");
	req->method_name = arena_strdup(req->arena, m ? m : "GET");
	req->method = method_from_name(req->method_name);
	uri = env(req, "REQUEST_URI");
	if (uri == NULL && (uri = env(req, "DOCUMENT_URI")) == NULL)
		uri = "/";
	path = arena_strdup(req->arena, uri);
	if ((q = strchr(path, '?')) != NULL)
		*q = '\0';
	if (url_decode(path, 0) == -1)
		return perr_set(e, 400, "Invalid URL escape in path");
	req->path = path;
	qs = env(req, "QUERY_STRING");
	if (qs != NULL && http_parse_query(req, qs, e) == -1)
		return -1;
	req->hdr_token = env(req, "HTTP_X_CONSUL_TOKEN");
	req->hdr_auth = env(req, "HTTP_AUTHORIZATION");
	req->hdr_ns = env(req, "HTTP_X_CONSUL_NAMESPACE");
	req->hdr_partition = env(req, "HTTP_X_CONSUL_PARTITION");
	req->remote_addr = env(req, "REMOTE_ADDR");

	cl = env(req, "CONTENT_LENGTH");
	len = 0;
	if (cl != NULL && *cl != '\0') {
		errno = 0;
		len = strtoull(cl, &end, 10);
		if (errno || *end != '\0')
			return perr_set(e, 400, "Invalid Content-Length");
	}
	if (len > (unsigned long long)req->worker->conf->max_body) {
		/* Drain what nginx sends so it sees our reply, not EPIPE. */
		char	sink[8192];

		while (FCGX_GetStr(sink, sizeof(sink), fr->in) > 0)
			;
		return perr_set(e, 413, "Request body too large: limit is "
		    "%" PRId64 " bytes", req->worker->conf->max_body);
	}
	req->body = arena_alloc(req->arena, (size_t)len + 1);
	got = 0;
	while (got < len) {
		n = FCGX_GetStr(req->body + got, (int)(len - got), fr->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	req->body[got] = '\0';
	req->bodylen = got;
	return 0;
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Request Entity Too Large";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return status >= 500 ? "Internal Server Error" : "";
	}
}

/*
 * Write the reply: e when it holds an error, else req->reply (JSON) or
 * req->raw.  The only function that writes a response.
 */
void
http_reply(struct req *req, const struct perr *e)
{
	FCGX_Stream	*out = ((FCGX_Request *)req->fcgi)->out;
	const struct conf *c = req->worker->conf;
	char		*body = NULL;
	const char	*ctype = NULL, *raw = NULL;
	char		 hdr[HDRMAX], *hp;
	size_t		 len = 0, i;
	int		 status, pretty;

	if (e != NULL && e->status != 0) {
		status = e->status;
		body = xstrdup(e->msg);
		len = strlen(body);
		ctype = "text/plain; charset=utf-8";
	} else {
		status = req->status ? req->status : 200;
		if (req->reply != NULL) {
			pretty = req_query_has(req, "pretty");
			body = json_render(req->reply, pretty, &len);
			ctype = "application/json";
		} else if (req->raw != NULL) {
			raw = req->raw;		/* written as is, not copied */
			len = req->rawlen;
			ctype = req->content_type;
		}
	}
	/*
	 * Headers are formatted with libc: libfcgi's FCGX_FPrintF has its
	 * own formatter, which does not know %zu or PRIu64.
	 */
	hp = hdr;
	HADD("Status: %d %s\r\n", status,
	    status_text(status));
	if (ctype != NULL)
		HADD("Content-Type: %s\r\n", ctype);
	/* Consul sets it on every reply, 404s of unknown paths too. */
	HADD("X-Consul-Default-ACL-Policy: %s\r\n", c->acl.default_policy);
	if (req->meta_headers && (e == NULL || e->status == 0)) {
		HADD("X-Consul-Index: %" PRIu64 "\r\n"
		    "X-Consul-KnownLeader: true\r\n"
		    "X-Consul-LastContact: 0\r\n",
		    req->index == 0 ? 1 : req->index);
		if (req->route != NULL && (req->route->flags & R_BLOCKING))
			HADD("X-Consul-Query-Backend: "
			    "blocking-query\r\n");
	}
	for (i = 0; i < req->nheaders; i++)
		HADD("%s: %s\r\n",
		    req->headers[i].key, req->headers[i].val);
	HADD("Content-Length: %zu\r\n\r\n", len);
	FCGX_PutStr(hdr, (int)(hp - hdr), out);
	if (len > 0)
		FCGX_PutStr(raw != NULL ? raw : body, (int)len, out);
	free(body);
	metrics_request(req->route != NULL ? (size_t)(req->route - routes) :
	    nroutes, status, req->start_us);
}

/*
 * The generic query options every route honours (spec connect §1.3,
 * §9; acl §1.8, §1.9).  400/500 texts as Consul's.
 */
int
http_check_common(struct req *req, struct perr *e)
{
	const struct conf *c = req->worker->conf;
	const char	*dc, *v;
	int64_t		 ns;
	char		*end;
	unsigned long long idx;

	dc = req_query(req, "datacenter");
	if (dc == NULL || *dc == '\0')
		dc = req_query(req, "dc");
	if (dc != NULL && *dc != '\0' && strcmp(dc, c->datacenter) != 0)
		return perr_set(e, 500, "No path to datacenter");

	if (req->route->flags & R_ENTMETA) {
		if (req->hdr_ns != NULL && *req->hdr_ns != '\0')
			return perr_set(e, 400, "Invalid header: "
			    "\"X-Consul-Namespace\" - Namespaces are a Consul "
			    "Enterprise feature");
		if ((v = req_query(req, "ns")) != NULL && *v != '\0')
			return perr_set(e, 400, "Invalid query parameter: "
			    "\"ns\" - Namespaces are a Consul Enterprise "
			    "feature");
		if (req->hdr_partition != NULL && *req->hdr_partition != '\0')
			return perr_set(e, 400, "Invalid header: "
			    "\"X-Consul-Partition\" - Partitions are a Consul "
			    "Enterprise feature");
		if ((v = req_query(req, "partition")) != NULL && *v != '\0')
			return perr_set(e, 400, "Invalid query parameter: "
			    "\"partition\" - Partitions are a Consul "
			    "Enterprise feature");
	}
	if (req_query_has(req, "stale") && req_query_has(req, "consistent"))
		return perr_set(e, 400, "Cannot specify ?stale with "
		    "?consistent, conflicting semantics.");
	if (req_query_has(req, "cached") && req_query_has(req, "consistent"))
		return perr_set(e, 400, "Cannot specify ?cached with "
		    "?consistent, conflicting semantics.");
	if ((v = req_query(req, "max_stale")) != NULL &&
	    duration_parse(v, &ns) == -1)
		return perr_set(e, 400, "Invalid max_stale value \"%s\"", v);

	/*
	 * ?index=&wait= are parsed on every route, as Consul does; like
	 * its parseWait, empty values are skipped.
	 */
	if ((v = req_query(req, "wait")) != NULL && *v != '\0' &&
	    duration_parse(v, &ns) == -1)
		return perr_set(e, 400, "Invalid wait time");
	if ((v = req_query(req, "index")) != NULL && *v != '\0') {
		errno = 0;
		idx = strtoull(v, &end, 10);
		if (*v == '\0' || *v == '-' || *v == '+' || errno ||
		    *end != '\0')
			return perr_set(e, 400, "Invalid index");
		req->min_index = idx;
	}
	return 0;
}

/* Set the blocking deadline: ?wait (default 5m, max 10m) + jitter. */
void
http_set_deadline(struct req *req)
{
	const char	*v;
	int64_t		 ns = 0, ms;

	if ((v = req_query(req, "wait")) != NULL && *v != '\0')
		(void)duration_parse(v, &ns);
	ms = ns / 1000000;
	if (ms <= 0)
		ms = req->route != NULL && (req->route->flags & R_LONGWAIT) ?
		    WAIT_MAX_MS : WAIT_DEFAULT_MS;
	if (ms > WAIT_MAX_MS)
		ms = WAIT_MAX_MS;
	/* Consul adds a random jitter in [0, wait/16). */
	if (ms >= 16)
		ms += (int64_t)(random() % (ms / 16));
	req->deadline_ms = mono_ms() + ms;
}

/* The AuthMethod a login's body names (arena), or NULL. */
static const char *
auth_method(struct req *req)
{
	struct json_object	*v;

	if (req->json == NULL ||
	    !json_object_object_get_ex(req->json, "AuthMethod", &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return arena_strdup(req->arena, json_object_get_string(v));
}

/*
 * Check the token and the route's ACL, then run the route's handler;
 * again for a woken blocking query, so a revoked token stops there too.
 * Frees a previous reply first.  Returns the handler's result.
 */
int
http_run_handler(struct req *req, struct perr *e)
{
	int	rc;

	json_object_put(req->reply);
	req->reply = NULL;
	req->raw = NULL;
	req->nheaders = 0;
	req->status = 0;
	perr_clear(e);
	/*
	 * Which requests a worker may answer from the snapshot a rebuild is
	 * replacing (snap.c): reads (GET; authorize.c allows its POST too)
	 * that neither block (?index=) nor ask for ?consistent.
	 */
	snap_may_serve_old(req->method == M_GET && req->min_index == 0 &&
	    !req_query_has(req, "consistent"));
	/* Resolved again on each run: a revoked token stops here too. */
	if (acl_route_check(req, e) == -1) {
		snap_may_serve_old(0);
		acl_release(req);
		return -1;
	}
	/* Whose writes these are, for the audit records (audit.c). */
	store_audit_ctx(req->store, req->acl != NULL ? req->acl->accessor :
	    NULL, req->remote_addr, req->method_name, req->route->pattern);
	rc = req->route->handler(req, e);
	if (rc == -1 && (req->route->flags & R_AUDITFAIL))
		audit_failure(req->store, auth_method(req), e->status);
	store_audit_ctx(req->store, NULL, NULL, NULL, NULL);
	acl_release(req);
	snap_may_serve_old(0);
	return rc;
}

/*
 * Serve one request.  On return the request is either answered (the
 * caller finishes and frees it) or parked (blocking.c owns it).
 */
void
http_dispatch(struct req *req)
{
	struct perr	 e;
	char		 allow[128];

	perr_clear(&e);
	req->start_us = metrics_now();
	if (http_read(req, &e) == -1)
		goto reply;
	switch (router_match(req, allow, sizeof(allow))) {
	case ROUTE_NO_PATH:
		perr_set(&e, 404, "Invalid URL path: not a recognized HTTP "
		    "API endpoint\n");
		goto reply;
	case ROUTE_NO_METHOD:
		req_header(req, "Allow", arena_strdup(req->arena, allow));
		if (req->method == M_OPTIONS)
			goto reply;
		perr_set(&e, 405, "method %s not allowed", req->method_name);
		goto reply;
	case ROUTE_FOUND:
		break;
	}
	if (http_check_common(req, &e) == -1)
		goto reply;
	req->meta_headers = req->method == M_GET &&
	    !(req->route->flags & R_NOMETA);
	/* Identity providers are called off the accept threads (worker.c). */
	if ((req->route->flags & R_OUTBOUND) && worker_outbound(req, &e) == 0)
		return;
	if (e.status != 0)
		goto reply;
	/* The token and the row's ACL, then the handler. */
	if (http_run_handler(req, &e) == -1)
		goto reply;
	if ((req->route->flags & R_BLOCKING) && req->min_index > 0 &&
	    req->index <= req->min_index &&
	    req->min_index <= store_index(TBL_RAFT)) {
		http_set_deadline(req);
		if (blocking_park(req, &e) == 0)
			return;
	}
reply:
	http_reply(req, &e);
	worker_finish(req);
}
