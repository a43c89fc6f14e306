/*
 * spiffe.c -- SPIFFE identities of Connect certificates.
 *
 * Parses the URI SAN of a certificate or CSR the way Consul's
 * ParseCertURI does (agent/connect/uri.go): the scheme must be spiffe,
 * the still percent-encoded path is matched against the service,
 * client-agent, mesh-gateway and server forms in that order, each
 * captured segment is then percent-decoded, and an empty path with a
 * dotted host is the CA's own signing ID.  Error texts are Consul's.
 * Formats the URIs Consul emits and derives the trust domain from the
 * cluster ID.  Relies on nothing but libc and the x* allocators; no
 * HTTP and no storage.
 *
 * Parsed values are percent-decoded C strings, so an encoded NUL
 * ("%00") is rejected: Go would keep it inside the string, but a C
 * string would silently end there (web%00x would become "web").
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"
#include "spiffe.h"
#include "util.h"

#define SEG_MAX		8	/* the longest form has eight segments */
#define ANY		NULL	/* a captured [^/]+ segment in a form */

/*
 * One accepted path form: the literal segments, ANY for a captured
 * one, whether an "/ap/<partition>" prefix may come first, and the
 * name Consul uses in its "Invalid <what>: ..." error for each capture
 * (in order, the partition's first when present).
 */
struct form {
	enum spiffe_kind	 kind;
	int			 ap;
	int			 nseg;
	const char		*seg[6];
	const char		*what[3];
};

static const struct form forms[] = {
	{ SPIFFE_SERVICE, 1, 6, { "ns", ANY, "dc", ANY, "svc", ANY },
	    { "namespace", "datacenter", "service" } },
	{ SPIFFE_AGENT, 1, 6, { "agent", "client", "dc", ANY, "id", ANY },
	    { "datacenter", "node", NULL } },
	{ SPIFFE_MESH_GATEWAY, 1, 4, { "gateway", "mesh", "dc", ANY },
	    { "datacenter", NULL, NULL } },
	{ SPIFFE_SERVER, 0, 4, { "agent", "server", "dc", ANY },
	    { "datacenter", NULL, NULL } },
};

static const char *const kind_names[SPIFFE__MAX] = {
	[SPIFFE_SERVICE] = "service",
	[SPIFFE_AGENT] = "agent",
	[SPIFFE_MESH_GATEWAY] = "mesh-gateway",
	[SPIFFE_SERVER] = "server",
	[SPIFFE_SIGNING] = "signing",
};

/* A slice of the input: no copy, no NUL. */
struct span {
	const char	*p;
	size_t		 n;
};

/*
 * Quote s[0..n) as Go's strconv.Quote would for ASCII input, into buf
 * (always NUL-terminated, truncated to fit).  Used in error texts so a
 * hostile URI cannot put control characters into a response body.
 */
static const char *
quote(const char *s, size_t n, char *buf, size_t sz)
{
	size_t		 i, o = 0;
	unsigned char	 c;
	char		 tmp[8];
	int		 k;

	if (sz < 3)
		return "";
	buf[o++] = '"';
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			k = snprintf(tmp, sizeof(tmp), "\\%c", c);
		else if (c == '\n')
			k = snprintf(tmp, sizeof(tmp), "\\n");
		else if (c == '\t')
			k = snprintf(tmp, sizeof(tmp), "\\t");
		else if (c < 0x20 || c >= 0x7f)
			k = snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		else
			k = snprintf(tmp, sizeof(tmp), "%c", c);
		if (o + (size_t)k + 2 > sz)
			break;
		memcpy(buf + o, tmp, (size_t)k);
		o += (size_t)k;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/*
 * Percent-decode one captured segment (Go's url.PathUnescape: "+"
 * stays "+").  On a bad escape, or one that decodes to NUL, set
 * "Invalid <what>: invalid URL escape \"%..\"" (400) and return NULL.
 */
static char *
unescape(struct span sp, const char *what, struct perr *e)
{
	char	*out, q[32];
	size_t	 i, o = 0, bad;
	int	 hi, lo;

	out = xmalloc(sp.n + 1);
	for (i = 0; i < sp.n; i++) {
		if (sp.p[i] != '%') {
			out[o++] = sp.p[i];
			continue;
		}
		hi = i + 1 < sp.n ? hex_digit((unsigned char)sp.p[i + 1]) : -1;
		lo = i + 2 < sp.n ? hex_digit((unsigned char)sp.p[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			bad = sp.n - i < 3 ? sp.n - i : 3;
			free(out);
			perr_set(e, 400, "Invalid %s: invalid URL escape %s",
			    what, quote(sp.p + i, bad, q, sizeof(q)));
			return NULL;
		}
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

/*
 * Does the host part of the authority hold only characters Go's
 * url.Parse accepts in a registered name or a bracketed IPv6 literal,
 * followed by nothing or ":<digits>"?  Sets *bad to the offending
 * character, or to ':' for a bad port, and returns 0 if not.
 * Percent-escapes in the host are refused outright: Consul never
 * emits them.
 */
static int
host_ok(struct span h, char *bad)
{
	static const char	 extra[] = "-._~!$&'()*+,;=:[]<>\"";
	const char		*end, *port = NULL, *p;
	size_t			 i;
	unsigned char		 c;

	for (i = 0; i < h.n; i++) {
		c = (unsigned char)h.p[i];
		if (isalnum(c) || (c != '\0' && strchr(extra, c) != NULL))
			continue;
		*bad = (char)c;
		return 0;
	}
	end = h.p + h.n;
	if (h.n > 0 && h.p[0] == '[') {
		if ((port = memchr(h.p, ']', h.n)) == NULL) {
			*bad = '[';
			return 0;
		}
		port++;
	} else {
		for (p = h.p; p < end; p++)
			if (*p == ':')
				port = p;
	}
	if (port == NULL || port == end)
		return 1;
	if (*port != ':') {
		*bad = ':';
		return 0;
	}
	for (port++; port < end; port++)
		if (!isdigit((unsigned char)*port)) {
			*bad = ':';
			return 0;
		}
	return 1;
}

/* Split "/a/b/c" into spans; -1 if more than SEG_MAX or no leading /. */
static int
split(struct span path, struct span *seg)
{
	const char	*p, *end, *s;
	int		 n = 0;

	if (path.n == 0 || path.p[0] != '/')
		return -1;
	end = path.p + path.n;
	for (p = path.p + 1; ; p = s + 1) {
		if (n == SEG_MAX)
			return -1;
		for (s = p; s < end && *s != '/'; s++)
			continue;
		seg[n].p = p;
		seg[n].n = (size_t)(s - p);
		n++;
		if (s == end)
			break;
	}
	return n;
}

static int
seg_is(struct span s, const char *lit)
{
	return strlen(lit) == s.n && memcmp(s.p, lit, s.n) == 0;
}

/*
 * Match the segments against one form.  On a match, fill cap[] with
 * the captured segments (partition first, or an empty span when there
 * is no /ap/ prefix) and return the number captured; else -1.
 */
static int
form_match(const struct form *f, const struct span *seg, int n,
    struct span *cap)
{
	int	i, off = 0, nc = 1;

	cap[0].p = NULL;
	cap[0].n = 0;
	if (f->ap && n == f->nseg + 2 && seg_is(seg[0], "ap") &&
	    seg[1].n > 0) {
		cap[0] = seg[1];
		off = 2;
	} else if (n != f->nseg)
		return -1;
	for (i = 0; i < f->nseg; i++) {
		if (seg[off + i].n == 0)
			return -1;
		if (f->seg[i] == ANY)
			cap[nc++] = seg[off + i];
		else if (!seg_is(seg[off + i], f->seg[i]))
			return -1;
	}
	return nc;
}

/*
 * Build the struct from a matched form: decode each capture, naming
 * the field in Consul's words if it is malformed.
 */
static int
fill(struct spiffe_id *id, const struct form *f, const struct span *cap,
    struct perr *e)
{
	char	*v[4] = { NULL, NULL, NULL, NULL };
	int	 i, ncap;

	ncap = f->kind == SPIFFE_SERVICE ? 3 :
	    f->kind == SPIFFE_AGENT ? 2 : 1;
	if (f->ap && cap[0].p != NULL) {
		if ((v[0] = unescape(cap[0], "admin partition", e)) == NULL)
			return -1;
	} else if (f->ap)
		v[0] = xstrdup("default");
	for (i = 0; i < ncap; i++)
		if ((v[i + 1] = unescape(cap[i + 1], f->what[i], e)) == NULL) {
			while (i >= 0)
				free(v[i--]);
			return -1;
		}
	id->kind = f->kind;
	id->partition = v[0];
	switch (f->kind) {
	case SPIFFE_SERVICE:
		id->ns = v[1];
		id->dc = v[2];
		id->service = v[3];
		break;
	case SPIFFE_AGENT:
		id->dc = v[1];
		id->node = v[2];
		break;
	default:
		id->dc = v[1];
		break;
	}
	return 0;
}

/*
 * Parse a SPIFFE URI (a certificate's URI SAN) as Consul does.
 *
 * Returns 0 and sets *out to a new struct spiffe_id (free with
 * spiffe_free()), or -1 with *out NULL and e set, status 400, to one of
 * Consul's texts:
 *   SPIFFE ID must have 'spiffe' scheme
 *   Invalid admin partition|namespace|datacenter|service|node: invalid
 *     URL escape "%zz"
 *   SPIFFE ID is not in the expected format: <uri>
 * or to Go's url.Parse text for what it rejects before Consul looks
 * (control characters, a bad host or port, a leading colon).
 *
 * The query and fragment are ignored, a userinfo part is dropped and a
 * missing partition reads as "default", as with Go's net/url.
 */
int
spiffe_parse(const char *uri, struct spiffe_id **out, struct perr *e)
{
	struct spiffe_id	*id;
	struct span		 path, host, seg[SEG_MAX], cap[4];
	const char		*p, *rest, *end, *at, *dot;
	char			 q[400], bad;
	size_t			 i, slen = 0;
	int			 n, k;

	*out = NULL;
	for (p = uri; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return perr_set(e, 400, "parse %s: net/url: invalid "
			    "control character in URL",
			    quote(uri, strlen(uri), q, sizeof(q)));

	/* Scheme, as Go's getScheme finds it. */
	for (p = uri; *p != '\0'; p++) {
		if (isalpha((unsigned char)*p))
			continue;
		if (isdigit((unsigned char)*p) || strchr("+-.", *p) != NULL) {
			if (p == uri)
				break;
			continue;
		}
		if (*p == ':') {
			if (p == uri)
				return perr_set(e, 400, "parse %s: missing "
				    "protocol scheme",
				    quote(uri, strlen(uri), q, sizeof(q)));
			slen = (size_t)(p - uri);
		}
		break;
	}
	if (slen != 6 || strncasecmp(uri, "spiffe", 6) != 0)
		return perr_set(e, 400, "SPIFFE ID must have 'spiffe' scheme");

	/* Authority and raw path; the query and fragment go. */
	rest = uri + slen + 1;
	end = rest + strcspn(rest, "?#");
	host.p = rest;
	host.n = 0;
	path.p = rest;
	path.n = 0;
	if (end - rest >= 2 && rest[0] == '/' && rest[1] == '/') {
		host.p = rest + 2;
		for (p = host.p; p < end && *p != '/'; p++)
			continue;
		host.n = (size_t)(p - host.p);
		path.p = p;
		path.n = (size_t)(end - p);
		at = NULL;
		for (i = 0; i < host.n; i++)
			if (host.p[i] == '@')
				at = host.p + i;
		if (at != NULL) {
			host.n -= (size_t)(at + 1 - host.p);
			host.p = at + 1;
		}
		if (!host_ok(host, &bad)) {
			if (bad == ':')
				return perr_set(e, 400, "parse %s: invalid "
				    "port after host",
				    quote(uri, strlen(uri), q, sizeof(q)));
			return perr_set(e, 400, "parse %s: invalid "
			    "character \"%c\" in host name",
			    quote(uri, strlen(uri), q, sizeof(q)), bad);
		}
	} else if (rest < end && rest[0] == '/')
		path.n = (size_t)(end - rest);

	id = xcalloc(1, sizeof(*id));
	id->host = xstrndup(host.p, host.n);
	if ((n = split(path, seg)) > 0) {
		for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
			if ((k = form_match(&forms[i], seg, n, cap)) < 0)
				continue;
			if (fill(id, &forms[i], cap, e) == -1) {
				spiffe_free(id);
				return -1;
			}
			*out = id;
			return 0;
		}
	}
	if (path.n == 0 && host.n > 0 &&
	    (dot = memchr(host.p, '.', host.n)) != NULL && dot > host.p) {
		id->kind = SPIFFE_SIGNING;
		id->cluster_id = xstrndup(host.p, (size_t)(dot - host.p));
		id->domain = xstrndup(dot + 1, host.n - (size_t)(dot + 1 -
		    host.p));
		*out = id;
		return 0;
	}
	spiffe_free(id);
	/* Go prints url.String(): the input with its scheme lower-cased. */
	return perr_set(e, 400, "SPIFFE ID is not in the expected format: "
	    "spiffe%.*s", (int)(sizeof(e->msg) - 64), uri + slen);
}

static char *
dupnull(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

/* Deep copy of id (NULL gives NULL).  Free with spiffe_free(). */
struct spiffe_id *
spiffe_dup(const struct spiffe_id *id)
{
	struct spiffe_id	*c;

	if (id == NULL)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->kind = id->kind;
	c->host = dupnull(id->host);
	c->partition = dupnull(id->partition);
	c->ns = dupnull(id->ns);
	c->dc = dupnull(id->dc);
	c->service = dupnull(id->service);
	c->node = dupnull(id->node);
	c->cluster_id = dupnull(id->cluster_id);
	c->domain = dupnull(id->domain);
	return c;
}

/* Free a parsed ID and all its strings.  NULL is fine. */
void
spiffe_free(struct spiffe_id *id)
{
	if (id == NULL)
		return;
	free(id->host);
	free(id->partition);
	free(id->ns);
	free(id->dc);
	free(id->service);
	free(id->node);
	free(id->cluster_id);
	free(id->domain);
	free(id);
}

/* "service", "agent", "mesh-gateway", "server" or "signing". */
const char *
spiffe_kind_name(enum spiffe_kind k)
{
	if ((unsigned)k >= SPIFFE__MAX)
		return "unknown";
	return kind_names[k];
}

/* Growable string for the formatters. */
struct buf {
	char	*s;
	size_t	 n, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_lower(struct buf *b, const char *s)
{
	char	c;

	for (; *s != '\0'; s++) {
		c = (char)tolower((unsigned char)*s);
		buf_add(b, &c, 1);
	}
}

/*
 * Append one path segment, escaped as Go's url.URL.String() escapes a
 * path: unreserved characters and $&+,:;=@ stay, the rest becomes %XX.
 * Unlike Go we also escape "/", so that any name round-trips through
 * spiffe_parse() (Consul would emit a URI it cannot parse back).
 */
static void
buf_seg(struct buf *b, const char *s)
{
	static const char	 keep[] = "-._~$&+,:;=@";
	unsigned char		 c;
	char			 hex[4];

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (isalnum(c) && c < 0x80)
			buf_add(b, s, 1);
		else if (strchr(keep, c) != NULL)
			buf_add(b, s, 1);
		else {
			snprintf(hex, sizeof(hex), "%%%02X", c);
			buf_add(b, hex, 3);
		}
	}
}

/*
 * Append "/ap/<partition>" when the partition, lower-cased, is set and
 * not "default" (Consul's PartitionOrDefault).
 */
static void
buf_partition(struct buf *b, const char *ap)
{
	char	*l;
	size_t	 i;

	if (ap == NULL || *ap == '\0')
		return;
	l = xstrdup(ap);
	for (i = 0; l[i] != '\0'; i++)
		l[i] = (char)tolower((unsigned char)l[i]);
	if (strcmp(l, "default") != 0) {
		buf_str(b, "/ap/");
		buf_seg(b, l);
	}
	free(l);
}

/*
 * Format any kind of ID as the URI Consul would put in a certificate.
 * NULL fields read as empty, except ns which reads as "default".  The
 * signing ID's host is lower-cased; other hosts are written as given.
 * Returns a new string (free()).
 */
char *
spiffe_format(const struct spiffe_id *id)
{
	struct buf	b = { NULL, 0, 0 };

	buf_str(&b, "spiffe://");
	if (id->kind == SPIFFE_SIGNING) {
		if (id->cluster_id != NULL && id->domain != NULL) {
			buf_lower(&b, id->cluster_id);
			buf_str(&b, ".");
			buf_lower(&b, id->domain);
		} else if (id->host != NULL)
			buf_lower(&b, id->host);
		return b.s;
	}
	buf_str(&b, id->host != NULL ? id->host : "");
	switch (id->kind) {
	case SPIFFE_SERVICE:
		buf_partition(&b, id->partition);
		buf_str(&b, "/ns/");
		buf_seg(&b, id->ns != NULL && *id->ns != '\0' ? id->ns :
		    "default");
		buf_str(&b, "/dc/");
		buf_seg(&b, id->dc != NULL ? id->dc : "");
		buf_str(&b, "/svc/");
		buf_seg(&b, id->service != NULL ? id->service : "");
		break;
	case SPIFFE_AGENT:
		buf_partition(&b, id->partition);
		buf_str(&b, "/agent/client/dc/");
		buf_seg(&b, id->dc != NULL ? id->dc : "");
		buf_str(&b, "/id/");
		buf_seg(&b, id->node != NULL ? id->node : "");
		break;
	case SPIFFE_MESH_GATEWAY:
		buf_partition(&b, id->partition);
		buf_str(&b, "/gateway/mesh/dc/");
		buf_seg(&b, id->dc != NULL ? id->dc : "");
		break;
	case SPIFFE_SERVER:
		buf_str(&b, "/agent/server/dc/");
		buf_seg(&b, id->dc != NULL ? id->dc : "");
		break;
	default:
		break;
	}
	return b.s;
}

/*
 * The URI of a service leaf:
 * spiffe://<td>[/ap/<partition>]/ns/<ns>/dc/<dc>/svc/<service>.
 * partition may be NULL ("default", not written); ns may be NULL
 * ("default", always written).  Returns a new string (free()).
 */
char *
spiffe_service_uri(const char *td, const char *partition, const char *ns,
    const char *dc, const char *service)
{
	struct spiffe_id	id;

	memset(&id, 0, sizeof(id));
	id.kind = SPIFFE_SERVICE;
	id.host = (char *)td;
	id.partition = (char *)partition;
	id.ns = (char *)ns;
	id.dc = (char *)dc;
	id.service = (char *)service;
	return spiffe_format(&id);
}

/*
 * The CA's signing URI, spiffe://<trust domain> lower-cased (the URI
 * SAN of every root).  Returns a new string (free()).
 */
char *
spiffe_signing_uri(const char *td)
{
	struct buf	b = { NULL, 0, 0 };

	buf_str(&b, "spiffe://");
	buf_lower(&b, td);
	return b.s;
}

/*
 * The trust domain of a cluster: "<cluster id>.consul", lower-cased.
 * The .consul TLD is fixed, whatever the DNS domain (Consul's
 * SpiffeIDSigningForCluster).  Returns a new string (free()).
 */
char *
spiffe_trust_domain(const char *cluster_id)
{
	struct buf	b = { NULL, 0, 0 };

	buf_lower(&b, cluster_id);
	buf_str(&b, ".consul");
	return b.s;
}

/*
 * May the CA of trust domain td sign a certificate for id?  (Consul's
 * SpiffeIDSigning.CanSign.)  Service, mesh-gateway, server and signing
 * IDs must carry the trust domain as host, compared ASCII
 * case-insensitively.  Agent IDs are always accepted: Consul rewrites
 * their host to the trust domain, because agents ask for a certificate
 * before they know the roots; the signer must do the same.  Returns 1
 * or 0.
 */
int
spiffe_can_sign(const char *td, const struct spiffe_id *id)
{
	char	*h;
	int	 ok;

	switch (id->kind) {
	case SPIFFE_AGENT:
		return 1;
	case SPIFFE_SIGNING:
		h = spiffe_format(id);
		ok = strncmp(h, "spiffe://", 9) == 0 &&
		    strcasecmp(h + 9, td) == 0;
		free(h);
		return ok;
	case SPIFFE_SERVICE:
	case SPIFFE_MESH_GATEWAY:
	case SPIFFE_SERVER:
		return id->host != NULL && strcasecmp(id->host, td) == 0;
	default:
		return 0;
	}
}
