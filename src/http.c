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

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "blocking.h"
#include "conf.h"
#include "http.h"
#include "json.h"
#include "router.h"
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

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Percent-decode s in place (and '+' as space when plus).  Returns 0,
 * or -1 for a malformed escape (Go's url parsing rejects those too).
 */
int
url_decode(char *s, int plus)
{
	char	*w = s;
	int	 h, l;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			if ((h = hexval((unsigned char)s[1])) < 0 ||
			    (l = hexval((unsigned char)s[2])) < 0)
				return -1;
			*w++ = (char)(h << 4 | l);
			s += 2;
		} else if (*s == '+' && plus)
			*w++ = ' ';
		else
			*w++ = *s;
	}
	*w = '\0';
	return 0;
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

/*
 * Replace every NaN and infinity below v with null (json-c prints them
 * bare, which no JSON client reads).  Returns how many were replaced.
 */
static int
drop_nonfinite(struct json_object *v)
{
	struct json_object	*c;
	size_t			 i;
	int			 n = 0;

	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, ch) {
			if (json_object_is_type(ch, json_type_double) &&
			    !isfinite(json_object_get_double(ch))) {
				json_object_object_add(v, k, NULL);
				n++;
			} else
				n += drop_nonfinite(ch);
		}
	} else if (json_object_is_type(v, json_type_array)) {
		for (i = 0; i < json_object_array_length(v); i++) {
			c = json_object_array_get_idx(v, i);
			if (json_object_is_type(c, json_type_double) &&
			    !isfinite(json_object_get_double(c))) {
				json_object_array_put_idx(v, i, NULL);
				n++;
			} else
				n += drop_nonfinite(c);
		}
	}
	return n;
}

/*
 * How many bytes the rendering of s[0] takes, *adv set to how many
 * bytes of s it consumes: Go's encoder writes each byte of invalid
 * UTF-8 as \ufffd and U+2028/U+2029 as \u2028/\u2029.
 */
static size_t
render_width(const char *s, size_t *adv, int pretty)
{
	size_t	k;

	*adv = 1;
	switch (s[0]) {
	case '<':
	case '>':
	case '&':
		return 6;
	case '\t':
		return pretty ? 4 : 1;
	default:
		break;
	}
	if ((unsigned char)s[0] < 0x80)
		return 1;
	if ((k = json_utf8_seq(s, strnlen(s, 4))) == 0)
		return 6;
	*adv = k;
	if (k == 3 && memcmp(s, "\xe2\x80", 2) == 0 &&
	    (s[2] == '\xa8' || s[2] == '\xa9'))
		return 6;
	return k;
}

/*
 * Whether json-c's text s holds a bare NaN or Infinity: outside
 * strings, json-c writes no other 'N' or 'I'.
 */
static int
has_nonfinite(const char *s)
{
	int	instr = 0;

	for (; *s != '\0'; s++) {
		if (instr && *s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			instr = !instr;
		else if (!instr && (*s == 'N' || *s == 'I'))
			return 1;
	}
	return 0;
}

/*
 * Render obj as Go's encoding/json would: compact, or as MarshalIndent
 * with 4 spaces ("key": value, empty {} and [] on one line) and a
 * final newline; '<', '>' and '&' become \u003c, \u003e, \u0026.
 * The last line of defence for strict clients: invalid UTF-8 becomes
 * \ufffd as Go writes it, and a NaN or infinity (which Go refuses to
 * marshal and json-c prints bare) becomes null, with a warning; obj is
 * changed in that case.  Returns a malloc'd string and its length.
 */
char *
http_render_json(struct json_object *obj, int pretty, size_t *lenp)
{
	const char	*s;
	char		*out, *w;
	size_t		 n = 0, i, adv, k;
	int		 flags;

	flags = JSON_C_TO_STRING_NOSLASHESCAPE;
	flags |= pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB |
	    JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN;
	s = json_object_to_json_string_ext(obj, flags);
	if (has_nonfinite(s)) {
		log_warnx("reply: %d NaN or infinite number(s) sent as null",
		    drop_nonfinite(obj));
		s = json_object_to_json_string_ext(obj, flags);
	}
	for (i = 0; s[i]; i += adv)
		n += render_width(s + i, &adv, pretty);
	w = out = xmalloc(n + 2);
	for (i = 0; s[i]; i += adv) {
		/*
		 * Go writes empty containers as {} and [] where json-c
		 * breaks them over two lines.  A raw newline is always
		 * formatting: json-c escapes those inside strings.
		 */
		if (pretty && (s[i] == '{' || s[i] == '[') && s[i + 1] == '\n') {
			size_t	j = i + 2;

			while (s[j] == '\t')
				j++;
			if (s[j] == (s[i] == '{' ? '}' : ']')) {
				*w++ = s[i];
				*w++ = s[j];
				i = j;
				adv = 1;
				continue;
			}
		}
		k = render_width(s + i, &adv, pretty);
		switch (s[i]) {
		case '<':
			memcpy(w, "\\u003c", 6);
			break;
		case '>':
			memcpy(w, "\\u003e", 6);
			break;
		case '&':
			memcpy(w, "\\u0026", 6);
			break;
		case '\t':	/* only indentation: json-c escapes tabs */
			memcpy(w, pretty ? "    " : "\t", k);
			break;
		default:
			if (k == 6 && adv == 1)
				memcpy(w, "\\ufffd", 6);
			else if (k == 6)
				memcpy(w, s[i + 2] == '\xa8' ? "\\u2028" :
				    "\\u2029", 6);
			else
				memcpy(w, s + i, k);
		}
		w += k;
	}
	if (pretty)
		*w++ = '\n';
	*w = '\0';
	*lenp = (size_t)(w - out);
	return out;
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
			body = http_render_json(req->reply, pretty, &len);
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
	/* Resolved again on each run: a revoked token stops here too. */
	if (acl_route_check(req, e) == -1) {
		acl_release(req);
		return -1;
	}
	rc = req->route->handler(req, e);
	acl_release(req);
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
		if (blocking_park(req) == 0)
			return;
	}
reply:
	http_reply(req, &e);
	worker_finish(req);
}
