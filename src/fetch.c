/*
 * fetch.c -- outbound HTTP(S) for the auth methods, through libcurl's
 * GnuTLS build (libcurl4-gnutls-dev): the Kubernetes TokenReview and
 * ServiceAccount lookups, JWKS documents, OIDC discovery documents and
 * the OIDC token endpoint.  There is no hand-written HTTP client.
 *
 * Every request is bounded: a connect timeout, a total timeout and a
 * cap on the response body (the transfer is aborted as soon as it is
 * passed), only http and https, no redirects followed, no signals (the
 * workers are threaded).  A custom CA bundle (CACert,
 * OIDCDiscoveryCACert, JWKSCACert) replaces the system store for that
 * request: curl's GnuTLS backend has no CAINFO_BLOB, so the PEM is
 * written to a private temporary file that lives for the request only.
 *
 * fetch_cached() keeps 200 responses (discovery documents, JWKS) for a
 * TTL, keyed by URL and CA bundle, behind one mutex: a worker's threads
 * share it, and a fetch never runs with the lock held.
 *
 * Errors are status 500 ("<Method> \"<url>\": <reason>", Go's
 * net/http wording); bodies, bearer tokens and secrets are never put in
 * a message or a log line.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "portcullis.h"
#include "fetch.h"
#include "util.h"

static pthread_once_t	curl_once = PTHREAD_ONCE_INIT;

static void
curl_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init");
}

struct sink {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
	int	 over;
};

static size_t
sink_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink	*s = arg;
	size_t		 n = size * nmemb;

	if (s->len + n > s->max) {
		s->over = 1;
		return 0;	/* aborts the transfer */
	}
	if (s->len + n + 1 > s->cap) {
		s->cap = (s->len + n + 1) * 2;
		if (s->cap > s->max + 1)
			s->cap = s->max + 1;
		s->buf = xrealloc(s->buf, s->cap);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

/* Go's net/http spells the method this way in its errors. */
static const char *
gomethod(const char *m)
{
	return strcmp(m, "POST") == 0 ? "Post" : "Get";
}

static int
write_ca(const char *pem, char *path, size_t len, struct perr *e)
{
	const char	*dir;
	size_t		 n, off;
	ssize_t		 w;
	int		 fd;

	if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(path, len, "%s/portcullis-ca.XXXXXX", dir);
	if ((fd = mkstemp(path)) == -1) {
		log_warn("fetch: mkstemp %s", path);
		return perr_set(e, 500, "could not write CA bundle");
	}
	n = strlen(pem);
	for (off = 0; off < n; off += (size_t)w)
		if ((w = write(fd, pem + off, n - off)) <= 0) {
			log_warn("fetch: write %s", path);
			close(fd);
			unlink(path);
			return perr_set(e, 500, "could not write CA bundle");
		}
	close(fd);
	return 0;
}

/*
 * Perform r.  On success returns 0 with *resp filled (any HTTP status;
 * the caller judges it), resp->body owned by the caller
 * (fetch_resp_clear).  Returns -1, status 500, when the transfer fails:
 * DNS, connect, TLS (including a server the CA bundle does not
 * vouch for), timeout, or a body over the cap.
 */
int
fetch_do(const struct fetch_req *r, struct fetch_resp *resp, struct perr *e)
{
	CURL			*c = NULL;
	struct curl_slist	*hdrs = NULL;
	struct sink		 s;
	CURLcode		 rc;
	const char		*method = r->method ? r->method : "GET";
	char			 errbuf[CURL_ERROR_SIZE], capath[256] = "";
	char			*h = NULL;
	int			 ret = -1;

	memset(resp, 0, sizeof(*resp));
	memset(&s, 0, sizeof(s));
	s.max = r->max_bytes ? r->max_bytes : FETCH_MAXBYTES;
	errbuf[0] = '\0';
	pthread_once(&curl_once, curl_init);
	if (r->url == NULL || (strncmp(r->url, "https://", 8) != 0 &&
	    strncmp(r->url, "http://", 7) != 0))
		return perr_set(e, 500, "%s \"%.200s\": unsupported protocol "
		    "scheme", gomethod(method), r->url ? r->url : "");
	if ((c = curl_easy_init()) == NULL)
		fatalx("curl_easy_init");

	curl_easy_setopt(c, CURLOPT_URL, r->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    r->connect_ms ? r->connect_ms : (long)FETCH_CONNECT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
	    r->timeout_ms ? r->timeout_ms : (long)FETCH_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s.max);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "portcullis/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (r->ca_pem != NULL && r->ca_pem[0] != '\0') {
		if (write_ca(r->ca_pem, capath, sizeof(capath), e) == -1) {
			capath[0] = '\0';
			goto out;
		}
		curl_easy_setopt(c, CURLOPT_CAINFO, capath);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}

	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (r->bearer != NULL) {
		xasprintf(&h, "Authorization: Bearer %s", r->bearer);
		hdrs = curl_slist_append(hdrs, h);
	}
	if (r->basic_user != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, r->basic_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD,
		    r->basic_pass ? r->basic_pass : "");
	}
	if (strcmp(method, "POST") == 0) {
		char	*ct;

		xasprintf(&ct, "Content-Type: %s", r->content_type ?
		    r->content_type : "application/json");
		hdrs = curl_slist_append(hdrs, ct);
		free(ct);
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)r->body_len);
		curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS,
		    r->body ? r->body : "");
	} else
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	rc = curl_easy_perform(c);
	if (s.over || rc == CURLE_FILESIZE_EXCEEDED) {
		perr_set(e, 500, "%s \"%.200s\": response body larger than "
		    "%zu bytes", gomethod(method), r->url, s.max);
		goto out;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		perr_set(e, 500, "%s \"%.200s\": context deadline exceeded "
		    "(Client.Timeout exceeded)", gomethod(method), r->url);
		goto out;
	}
	if (rc != CURLE_OK) {
		perr_set(e, 500, "%s \"%.200s\": %.200s", gomethod(method),
		    r->url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->body = s.buf ? s.buf : xstrdup("");
	resp->len = s.len;
	s.buf = NULL;
	ret = 0;
out:
	if (h != NULL)
		secret_free(h);
	if (capath[0] != '\0')
		unlink(capath);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	free(s.buf);
	return ret;
}

void
fetch_resp_clear(struct fetch_resp *r)
{
	if (r == NULL)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Returns a new string: s percent-encoded as Go's url.QueryEscape. */
char *
fetch_urlencode(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			*out, *p;
	unsigned char		 ch;

	out = p = xmalloc(strlen(s) * 3 + 1);
	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '~')
			*p++ = (char)ch;
		else if (ch == ' ')
			*p++ = '+';
		else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return out;
}

/*
 * Returns a new application/x-www-form-urlencoded body from a
 * NULL-terminated list of name, value pairs (a NULL value skips its
 * pair only when it is the name that is NULL: use "" for empty).
 */
char *
fetch_form(const char *const *kv)
{
	char	*out = xstrdup(""), *n, *v, *t;
	size_t	 i;

	for (i = 0; kv[i] != NULL; i += 2) {
		n = fetch_urlencode(kv[i]);
		v = fetch_urlencode(kv[i + 1] ? kv[i + 1] : "");
		xasprintf(&t, "%s%s%s=%s", out, out[0] ? "&" : "", n, v);
		secret_free(out);
		free(n);
		secret_free(v);
		out = t;
	}
	return out;
}

/* ------------------------------------------------------------------ */
/* cache */

struct centry {
	char		*key;		/* url "\n" ca_pem */
	char		*body;
	size_t		 len;
	int64_t		 expires;	/* mono_ms() */
	int64_t		 used;
};

struct fetch_cache {
	pthread_mutex_t	 mu;
	int64_t		 ttl_ms;
	size_t		 max;
	size_t		 n;
	struct centry	*e;
};

/*
 * A cache keeping each 200 response for ttl_ms, at most max entries
 * (the least recently used goes first).  Free with fetch_cache_free().
 */
struct fetch_cache *
fetch_cache_new(int64_t ttl_ms, size_t max)
{
	struct fetch_cache	*c;

	c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->ttl_ms = ttl_ms;
	c->max = max ? max : 1;
	c->e = xcalloc(c->max, sizeof(*c->e));
	return c;
}

static char *
ckey(const struct fetch_req *r)
{
	char	*k;

	xasprintf(&k, "%s\n%s", r->url, r->ca_pem ? r->ca_pem : "");
	return k;
}

static void
centry_clear(struct centry *ce)
{
	free(ce->key);
	free(ce->body);
	memset(ce, 0, sizeof(*ce));
}

/*
 * As fetch_do() for a GET, answered from c while the entry is fresh.
 * Only 200 responses are stored; the caller owns the copy in *resp.
 */
int
fetch_cached(struct fetch_cache *c, const struct fetch_req *r,
    struct fetch_resp *resp, struct perr *e)
{
	struct centry	*ce, *slot;
	char		*key;
	int64_t		 now = mono_ms();
	size_t		 i;

	key = ckey(r);
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->n; i++) {
		ce = &c->e[i];
		if (strcmp(ce->key, key) != 0 || ce->expires <= now)
			continue;
		ce->used = now;
		resp->status = 200;
		resp->body = xmalloc(ce->len + 1);
		memcpy(resp->body, ce->body, ce->len + 1);
		resp->len = ce->len;
		pthread_mutex_unlock(&c->mu);
		free(key);
		return 0;
	}
	pthread_mutex_unlock(&c->mu);

	if (fetch_do(r, resp, e) == -1) {
		free(key);
		return -1;
	}
	if (resp->status != 200) {
		free(key);
		return 0;
	}
	pthread_mutex_lock(&c->mu);
	slot = NULL;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->e[i].key, key) == 0)
			slot = &c->e[i];
	if (slot == NULL && c->n < c->max)
		slot = &c->e[c->n++];
	if (slot == NULL) {
		slot = &c->e[0];
		for (i = 1; i < c->n; i++)
			if (c->e[i].used < slot->used)
				slot = &c->e[i];
	}
	centry_clear(slot);
	slot->key = key;
	slot->body = xmalloc(resp->len + 1);
	memcpy(slot->body, resp->body, resp->len + 1);
	slot->len = resp->len;
	slot->expires = mono_ms() + c->ttl_ms;
	slot->used = now;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* Drop every entry for url (e.g. a JWKS without the token's kid). */
void
fetch_cache_forget(struct fetch_cache *c, const char *url)
{
	size_t	i, ulen = strlen(url);

	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->n; i++)
		if (strncmp(c->e[i].key, url, ulen) == 0 &&
		    c->e[i].key[ulen] == '\n')
			c->e[i].expires = 0;
	pthread_mutex_unlock(&c->mu);
}

void
fetch_cache_free(struct fetch_cache *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		centry_clear(&c->e[i]);
	free(c->e);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
