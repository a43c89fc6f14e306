/*
 * acl_login.c -- exchanging an identity for an ACL token (acl.md §8-9):
 *
 *   POST /v1/acl/login           bearer token -> token (no ACL)
 *   POST /v1/acl/logout          delete the caller's login token
 *   POST /v1/acl/oidc/auth-url   start an OIDC authorization-code flow
 *   POST /v1/acl/oidc/callback   finish it -> token
 *
 * Login verifies the bearer token with the method's type for real
 * (authmethod.c: TokenReview, JWT signatures, the OIDC code exchange),
 * runs the method's binding rules (acl_binding_rule.c) and creates a
 * token with AuthMethod set, Local unless TokenLocality is "global" and
 * ExpirationTime CreateTime + MaxTokenTTL (acl_token.c).  Consul
 * sources: agent/consul/acl_endpoint.go Login/Logout and
 * tokenSetFromAuthMethod, agent/consul/auth/binder.go.  The OIDC
 * endpoints are Enterprise-only in Consul; they follow go-sso's
 * behaviour (acl.md §9).
 *
 * Where the state lives (issue #12).  Nothing an anonymous caller
 * sends is written to the store.  Pending OIDC flows and failed-login
 * counters sit in one anonymous shared region the master maps before it
 * forks (acl_login_init(), as leafcache.c does for leaves), so any
 * worker can finish a flow another started.  Its size is fixed: at
 * LS_PENDING pending flows of one LS_SLOT_BYTES slot each (16 MiB of
 * address space, backed by memory only as slots are used) and
 * LS_COUNTERS counters.  A restart of the master forgets both, which
 * costs the browser logins in flight a new start; a reload (SIGHUP)
 * keeps them.  Consul too keeps OIDC pending state in the agent's
 * memory.  Before, each auth-url call inserted a row with its Meta for
 * 600 s: 400 calls grew the database by 363 MB, 10,000 cheap calls
 * refused every real user for ten minutes, and concurrent inserts
 * answered 500 "database is locked".
 *
 * On PostgreSQL (issue #17: several nodes on one database) a flow
 * begun on one node must finish on any, so pending flows live in the
 * database instead, in an UNLOGGED table of the same bounds
 * (state_put_db(), sql/pg/004-oidc-pending.sql): keyed by a SHA-256 of
 * the state, at most LS_PENDING rows and LS_PENDING_PER_SOURCE per
 * source whatever the nodes insert at once, expired rows dropped at
 * each insert, single use by DELETE ... RETURNING.  They are written
 * outside store_begin(): no modify index, no wake-up, no audit record.
 * Failure counters stay per node in the shared region.
 *
 * Pending flows: a state is single use (taken under the lock) and
 * expires after acl.login.oidc_state_ttl_seconds.  Each one is bounded:
 * RedirectURI at most LS_REDIRECT_MAX bytes, ClientNonce
 * LS_NONCE_MAX, Meta LS_META_MAX as JSON (400 beyond).  One source may
 * hold at most LS_PENDING_PER_SOURCE unfinished flows (429 beyond), so
 * filling the table takes LS_PENDING / LS_PENDING_PER_SOURCE
 * addresses; a finished flow frees its slot at once.  The source is
 * nginx's $remote_addr (REMOTE_ADDR, nginx/fastcgi.conf: the TCP peer,
 * never X-Forwarded-For), an IPv6 address counted by its /64.
 *
 * Failed logins (beyond Consul) never refuse a valid credential
 * because others failed.  A credential is always verified; a valid one
 * always logs in.  Failures (unknown method, rejected credential,
 * nothing bound, bad OIDC state) are counted in fixed windows of
 * acl.login.window_seconds, per source and per presented credential
 * (a SHA-256 of the method and the bearer token: never the token).
 * Once a source has acl.login.max_failures_per_address failures, its
 * further failed attempts answer 429 instead of the failure's text; a
 * credential that failed that often is refused with 429 before the
 * provider is asked again (only its holder is refused).  The per-method
 * count (acl.login.max_failures_per_method) refuses nothing: reaching
 * it logs one alarm line per window.  Load on a provider is bounded by
 * the outbound pool instead (worker.c): at most LS_BUSY_PER_METHOD
 * requests per worker talk to one auth method at a time (429 beyond).
 * Every login and logout, success or failure, is logged with the
 * AccessorID, the auth method and the source address; never a bearer
 * token, secret or code.
 *
 * Locking: one process-shared robust mutex over the region, held for a
 * scan of at most LS_PENDING entries.  A worker that dies holding it
 * may have left an entry half-written: the next taker wipes the whole
 * region and marks the mutex consistent.
 */
#include "config.h"

#include <sys/mman.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "acl_auth_method.h"
#include "acl_binding_rule.h"
#include "acl_login.h"
#include "authmethod.h"
#include "conf.h"
#include "json.h"
#include "metrics.h"
#include "req.h"
#include "store.h"
#include "util.h"

#define NS_PER_S		1000000000LL

/* The shared region (the file's top comment). */
#define LS_PENDING		4096	/* pending OIDC flows, at most */
#define LS_SLOT_BYTES		4096	/* one flow, at most */
#define LS_PENDING_PER_SOURCE	32	/* unfinished flows of one source */
#define LS_METHOD_MAX		128	/* auth method names (acl_auth_method.c) */
#define LS_REDIRECT_MAX		1024	/* RedirectURI */
#define LS_NONCE_MAX		256	/* ClientNonce */
#define LS_META_MAX		2048	/* Meta, as JSON */
#define LS_COUNTERS		16384	/* failure counters */
#define LS_PROBE		16	/* counter probe window */
#define LS_BUSY_PER_METHOD	8	/* per worker: half the outbound pool */

struct login_in {
	const char		*auth_method;
	const char		*bearer;
	struct json_object	*meta;
};

#define LI(f)	offsetof(struct login_in, f)
static const struct jfield login_fields[] = {
	{ "AuthMethod", J_STRING, LI(auth_method), "string" },
	{ "BearerToken", J_STRING, LI(bearer), "string" },
	{ "Meta", J_MAP_STRING, LI(meta), "map[string]string" },
	{ NULL, 0, 0, NULL }
};

struct oidc_in {
	const char		*auth_method;
	const char		*redirect_uri;
	const char		*client_nonce;
	const char		*state;
	const char		*code;
	struct json_object	*meta;
};

#define OI(f)	offsetof(struct oidc_in, f)
static const struct jfield auth_url_fields[] = {
	{ "AuthMethod", J_STRING, OI(auth_method), "string" },
	{ "RedirectURI", J_STRING, OI(redirect_uri), "string" },
	{ "ClientNonce", J_STRING, OI(client_nonce), "string" },
	{ "Meta", J_MAP_STRING, OI(meta), "map[string]string" },
	{ NULL, 0, 0, NULL }
};
static const struct jfield callback_fields[] = {
	{ "AuthMethod", J_STRING, OI(auth_method), "string" },
	{ "State", J_STRING, OI(state), "string" },
	{ "Code", J_STRING, OI(code), "string" },
	{ "ClientNonce", J_STRING, OI(client_nonce), "string" },
	{ "Meta", J_MAP_STRING, OI(meta), "map[string]string" },
	{ NULL, 0, 0, NULL }
};

static uint64_t	source_key(const char *);

/* A request's login attempt, for the limiter and the log line. */
struct attempt {
	const char	*what;		/* "login", "oidc login" */
	const char	*addr;		/* source address, printable */
	const char	*method;	/* as requested, printable */
	const char	*method_key;	/* lower case (known only) */
	uint64_t	 source;	/* source_key() */
	uint64_t	 ident;		/* credential presented; 0: none */
	int		 known;		/* the method exists */
};

/* s made safe for one log line: printable ASCII, at most 128 bytes. */
static const char *
printable(struct req *req, const char *s)
{
	char	*o;
	size_t	 i, n;

	if (s == NULL)
		return "";
	n = strlen(s);
	if (n > 128)
		n = 128;
	o = arena_strndup(req->arena, s, n);
	for (i = 0; i < n; i++)
		if (o[i] < 0x20 || o[i] > 0x7e)
			o[i] = '?';
	return o;
}

static void
attempt_init(struct req *req, struct attempt *a, const char *what,
    const char *method)
{
	a->what = what;
	a->addr = printable(req, req->remote_addr != NULL &&
	    *req->remote_addr != '\0' ? req->remote_addr : "-");
	a->method = printable(req, method);
	a->method_key = "";
	a->source = source_key(a->addr);
	a->ident = 0;
	a->known = 0;
}

/* ---------------------------------------------------------------- */
/* The shared region: pending OIDC flows and failure counters.        */

struct ls_flow {
	char		 state[AM_STATE_LEN + 1];
	char		 nonce[AM_STATE_LEN + 1];
	char		 method[LS_METHOD_MAX + 1];
	char		 redirect_uri[LS_REDIRECT_MAX + 1];
	char		 client_nonce[LS_NONCE_MAX + 1];
	char		 meta[LS_META_MAX + 1];		/* JSON or "" */
};

/* A fixed window of failures of one key. */
struct ls_counter {
	uint64_t	 key;		/* 0: free */
	int64_t		 start_ns;	/* window start */
	int32_t		 count;
	int32_t		 alarmed;	/* alarm logged in this window */
};

/* Keys, expiries and sources apart: a scan reads no flow's page. */
struct ls_shm {
	pthread_mutex_t		 mtx;
	uint64_t		 fkey[LS_PENDING];	/* hash of state; 0 free */
	int64_t			 fexp[LS_PENDING];	/* expiry, ns */
	uint64_t		 fsrc[LS_PENDING];	/* hash of the source */
	struct ls_counter	 ctr[LS_COUNTERS];
	struct ls_flow		 flow[LS_PENDING];
};

_Static_assert(sizeof(struct ls_flow) <= LS_SLOT_BYTES, "LS_SLOT_BYTES");

static struct ls_shm	*ls;
static pthread_once_t	 ls_once = PTHREAD_ONCE_INIT;

static void
ls_map(void)
{
	pthread_mutexattr_t	 a;
	void			*p;

	p = mmap(NULL, sizeof(*ls), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("mmap login state");
	(void)madvise(p, sizeof(*ls), MADV_DONTDUMP);	/* nonces */
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&((struct ls_shm *)p)->mtx, &a) != 0)
		fatalx("login state mutex");
	pthread_mutexattr_destroy(&a);
	ls = p;
}

/*
 * Master, before forking the workers: map the region shared by them.
 * A process that did not (unit tests) maps a private one on first use.
 */
void
acl_login_init(void)
{
	pthread_once(&ls_once, ls_map);
}

/* Take the region's lock; after a holder died, wipe it first. */
static void
ls_lock(void)
{
	pthread_once(&ls_once, ls_map);
	if (pthread_mutex_lock(&ls->mtx) == EOWNERDEAD) {
		log_warnx("acl: login state: a worker died holding it; "
		    "pending OIDC logins and failure counts forgotten");
		memset(ls->fkey, 0, sizeof(ls->fkey));
		memset(ls->fexp, 0, sizeof(ls->fexp));
		memset(ls->fsrc, 0, sizeof(ls->fsrc));
		memset(ls->ctr, 0, sizeof(ls->ctr));
		explicit_bzero(ls->flow, sizeof(ls->flow));
		pthread_mutex_consistent(&ls->mtx);
	}
}

static void
ls_unlock(void)
{
	pthread_mutex_unlock(&ls->mtx);
}

/* 64 bits of SHA-256("<kind>\n<a>\n<b>"); never 0. */
static uint64_t
ls_hash(const char *kind, const char *a, const char *b)
{
	gnutls_hash_hd_t	h;
	unsigned char		d[32];
	uint64_t		k;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) != 0)
		fatalx("gnutls_hash_init");
	gnutls_hash(h, kind, strlen(kind));
	gnutls_hash(h, "\n", 1);
	gnutls_hash(h, a, strlen(a));
	gnutls_hash(h, "\n", 1);
	if (b != NULL)
		gnutls_hash(h, b, strlen(b));
	gnutls_hash_deinit(h, d);
	memcpy(&k, d, sizeof(k));
	explicit_bzero(d, sizeof(d));
	return k == 0 ? 1 : k;
}

/*
 * The key the source address counts under: the address itself, or
 * for IPv6 its /64 (one host is given a whole /64).
 */
static uint64_t
source_key(const char *addr)
{
	struct in6_addr	a6;
	char		buf[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, addr, &a6) == 1 &&
	    !IN6_IS_ADDR_V4MAPPED(&a6)) {
		memset(a6.s6_addr + 8, 0, 8);
		if (inet_ntop(AF_INET6, &a6, buf, sizeof(buf)) != NULL)
			return ls_hash("source", buf, NULL);
	}
	return ls_hash("source", addr, NULL);
}

/*
 * The counter of key, under the lock: found, or a free or finished
 * one of its probe window, or (all busy) the one with fewest failures,
 * restarted.  Never NULL.
 */
static struct ls_counter *
counter(uint64_t key, int64_t now, int64_t window)
{
	struct ls_counter	*c, *best, *fr = NULL, *low = NULL;
	size_t			 i;

	for (i = 0; i < LS_PROBE; i++) {
		c = &ls->ctr[(key + i) % LS_COUNTERS];
		if (c->key == key) {
			if (now - c->start_ns >= window) {
				c->start_ns = now;
				c->count = 0;
				c->alarmed = 0;
			}
			return c;
		}
		if (c->key == 0 || now - c->start_ns >= window) {
			if (fr == NULL)
				fr = c;
		} else if (low == NULL || c->count < low->count)
			low = c;
	}
	best = fr != NULL ? fr : low;
	best->key = key;
	best->start_ns = now;
	best->count = 0;
	best->alarmed = 0;
	return best;
}

/* Failures of key in its current window, and seconds until it ends. */
static int
counter_get(uint64_t key, int64_t window, int64_t *left_s)
{
	struct ls_counter	*c;
	int64_t			 now = acl_now_ns();
	size_t			 i;
	int			 n = 0;

	*left_s = 0;
	ls_lock();
	for (i = 0; i < LS_PROBE; i++) {
		c = &ls->ctr[(key + i) % LS_COUNTERS];
		if (c->key == key && now - c->start_ns < window) {
			n = c->count;
			*left_s = (c->start_ns + window - now + NS_PER_S - 1) /
			    NS_PER_S;
			break;
		}
	}
	ls_unlock();
	if (*left_s < 1)
		*left_s = 1;
	return n;
}

/* ---------------------------------------------------------------- */
/* The failed-login limiter (policy: the file's top comment).         */

static int64_t
window_ns(const struct req *req)
{
	return (int64_t)req->worker->conf->acl.login.window_s * NS_PER_S;
}

static void
retry_after(struct req *req, int64_t left)
{
	req_header(req, "Retry-After", arena_printf(req->arena, "%lld",
	    (long long)left));
}

/*
 * Before verifying: 429 when this very credential (a->ident) failed
 * max_failures_per_address times in the window.  Nobody else's
 * failures count here.  Returns 0 or -1 with 429 and Retry-After.
 */
static int
limiter_check_ident(struct req *req, const struct attempt *a,
    struct perr *e)
{
	int	limit = req->worker->conf->acl.login.max_fail_addr;
	int64_t	left;

	if (limit == 0 || a->ident == 0)
		return 0;
	if (counter_get(a->ident, window_ns(req), &left) < limit)
		return 0;
	retry_after(req, left);
	return perr_set(e, 429, "Too many failed logins with this credential; "
	    "try again in %lld seconds", (long long)left);
}

/*
 * Count one failure against the source, the credential (if one was
 * presented) and the method (if it exists: the alarm).  When the
 * source is over its limit the failure is answered 429 instead of its
 * own text (e is rewritten).
 */
static void
limiter_fail(struct req *req, const struct attempt *a, struct perr *e)
{
	const struct conf	*c = req->worker->conf;
	struct ls_counter	*k;
	int64_t			 now = acl_now_ns(), window = window_ns(req);
	int64_t			 left = 0;
	int			 over = 0, alarm = 0, mcount = 0;

	ls_lock();
	if (c->acl.login.max_fail_addr > 0) {
		k = counter(a->source, now, window);
		if (k->count < INT32_MAX)
			k->count++;
		if (k->count > c->acl.login.max_fail_addr) {
			over = 1;
			left = (k->start_ns + window - now + NS_PER_S - 1) /
			    NS_PER_S;
		}
		if (a->ident != 0) {
			k = counter(a->ident, now, window);
			if (k->count < INT32_MAX)
				k->count++;
		}
	}
	if (a->known && c->acl.login.max_fail_method > 0) {
		k = counter(ls_hash("method", a->method_key, NULL), now,
		    window);
		if (k->count < INT32_MAX)
			k->count++;
		if (k->count >= c->acl.login.max_fail_method && !k->alarmed) {
			k->alarmed = 1;
			alarm = 1;
			mcount = k->count;
		}
	}
	ls_unlock();
	if (alarm)
		log_warnx("acl: login alarm: %d failed logins for auth method "
		    "%s within %d s (acl.login.max_failures_per_method); "
		    "logins are not refused for it", mcount, a->method,
		    c->acl.login.window_s);
	if (over) {
		if (left < 1)
			left = 1;
		retry_after(req, left);
		perr_set(e, 429, "Too many failed logins from %s; try again in "
		    "%lld seconds", a->addr, (long long)left);
	}
}

/*
 * The log line of a failed attempt, and its count for the limiter
 * (count 0: a 429, a 400 or our own fault, which the client did not
 * cause by guessing).  Returns -1 for the handler to return.
 */
static int
failed(struct req *req, const struct attempt *a, int count, struct perr *e)
{
	char	why[160];

	snprintf(why, sizeof(why), "%d %s", e->status, printable(req,
	    e->msg));
	if (count)
		limiter_fail(req, a, e);
	metrics_inc(e->status == 429 ? MET_LOGIN_REFUSED : MET_LOGIN_FAILED);
	if (e->status == 429 && count)
		log_warnx("acl: %s failed: auth_method=%s addr=%s: 429 (%s)",
		    a->what, a->method, a->addr, why);
	else
		log_warnx("acl: %s failed: auth_method=%s addr=%s: %s",
		    a->what, a->method, a->addr, why);
	return -1;
}

/* ---------------------------------------------------------------- */
/* Logins in progress per auth method, in this worker.                */

static pthread_mutex_t	busy_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char	name[LS_METHOD_MAX + 1];	/* lower case; "" free */
	int	n;
} busy[WORKER_OUTBOUND_THREADS];

/*
 * Take one of the LS_BUSY_PER_METHOD places of method (lower-cased
 * key) for a call to its provider.  Returns 0 (busy_leave() after) or
 * -1 with 429.
 */
static int
busy_enter(struct req *req, const char *key, const char *shown,
    struct perr *e)
{
	size_t	i, fr = SIZE_MAX;

	pthread_mutex_lock(&busy_mtx);
	for (i = 0; i < WORKER_OUTBOUND_THREADS; i++) {
		if (busy[i].n > 0 && strcmp(busy[i].name, key) == 0)
			break;
		if (busy[i].n == 0 && fr == SIZE_MAX)
			fr = i;
	}
	if (i == WORKER_OUTBOUND_THREADS) {
		/* Threads are fewer than places: one is free. */
		assert(fr != SIZE_MAX);
		i = fr;
		snprintf(busy[i].name, sizeof(busy[i].name), "%s", key);
	}
	if (busy[i].n >= LS_BUSY_PER_METHOD) {
		pthread_mutex_unlock(&busy_mtx);
		req_header(req, "Retry-After", "1");
		return perr_set(e, 429, "Too many logins in progress for auth "
		    "method \"%s\"; try again later", shown);
	}
	busy[i].n++;
	pthread_mutex_unlock(&busy_mtx);
	return 0;
}

static void
busy_leave(const char *key)
{
	size_t	i;

	pthread_mutex_lock(&busy_mtx);
	for (i = 0; i < WORKER_OUTBOUND_THREADS; i++)
		if (busy[i].n > 0 && strcmp(busy[i].name, key) == 0) {
			busy[i].n--;
			break;
		}
	pthread_mutex_unlock(&busy_mtx);
}

/* ---------------------------------------------------------------- */
/* Token creation.                                                    */

/*
 * "<prefix>" or "<prefix>: <Meta as Go's json.Marshal renders a
 * map[string]string>": keys sorted, <, > and & escaped.
 */
static const char *
description(struct req *req, const char *prefix, struct json_object *meta)
{
	struct json_object	*s;
	const char		*j;
	char			*o;
	size_t			 n = 0;

	if (meta == NULL || !json_object_is_type(meta, json_type_object) ||
	    json_object_object_length(meta) == 0)
		return prefix;
	s = json_map_sorted(meta);
	j = json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	o = arena_alloc(req->arena, strlen(prefix) + 2 + strlen(j) * 6 + 1);
	n = (size_t)sprintf(o, "%s: ", prefix);
	for (; *j != '\0'; j++) {
		if (*j == '<' || *j == '>' || *j == '&')
			n += (size_t)sprintf(o + n, "\\u%04x", (unsigned)*j);
		else
			o[n++] = *j;
	}
	o[n] = '\0';
	json_object_put(s);
	return o;
}

/*
 * Bind id through the method's rules and create the token, in one
 * transaction; reply with it.  403 "Permission denied" when nothing
 * is bound; *accessor (arena) set on success.
 */
static int
login_token(struct req *req, const char *method, const struct authmethod *m,
    const struct authmethod_identity *id, const char *desc,
    const char **accessor, struct perr *e)
{
	struct acl_bindings	 b;
	struct acl_token_new	 n;
	struct am_row		*am;
	char			 acc[37];

	memset(&b, 0, sizeof(b));
	if (store_begin(req->store, e) == -1)
		return -1;
	if (acl_auth_method_get(req, method, &am, e) == -1)
		goto abort;
	if (am == NULL) {	/* deleted since we looked */
		perr_set(e, 403, "ACL not found: auth method \"%s\" not found",
		    method);
		goto abort;
	}
	if (acl_binding_rule_bind(req, am, m, id, &b, e) == -1)
		goto abort;
	if (acl_bindings_empty(&b)) {
		perr_set(e, 403, "Permission denied");
		goto abort;
	}
	memset(&n, 0, sizeof(n));
	n.description = desc;
	n.policies = b.policies;
	n.roles = b.roles;
	n.svcids = b.svcids;
	n.nodeids = b.nodeids;
	n.local = strcmp(am->token_locality, "global") != 0;
	n.auth_method = am->name;
	n.ttl_ns = am->max_token_ttl;
	if (acl_token_insert(req, &n, acc, e) == -1)
		goto abort;
	if (store_commit(req->store, e) == -1) {
		acl_bindings_clear(&b);
		return -1;
	}
	acl_bindings_clear(&b);
	*accessor = arena_strdup(req->arena, acc);
	return acl_token_reply(req, acc, e);
abort:
	store_rollback(req->store);
	acl_bindings_clear(&b);
	return -1;
}

/*
 * The method the request names: 403 "ACL not found: auth method ...
 * not found" (a counted failure).  On success *am is the row and
 * a->known, a->method_key are set.
 */
static int
method_for_login(struct req *req, struct attempt *a, const char *name,
    struct am_row **am, struct perr *e)
{
	char	*k;
	size_t	 i;

	if (acl_auth_method_get(req, name ? name : "", am, e) == -1)
		return failed(req, a, 0, e);
	if (*am == NULL) {
		perr_set(e, 403, "ACL not found: auth method \"%s\" not found",
		    name ? name : "");
		return failed(req, a, 1, e);
	}
	a->known = 1;
	k = arena_strdup(req->arena, (*am)->name);
	for (i = 0; k[i] != '\0'; i++)
		if (k[i] >= 'A' && k[i] <= 'Z')
			k[i] += 'a' - 'A';
	a->method_key = k;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Handlers.                                                          */

/* Verify, bind and create the token; the method's busy place held. */
static int
login_run(struct req *req, struct attempt *a, const struct login_in *in,
    struct am_row *am, struct perr *e)
{
	struct authmethod		*m = NULL;
	struct authmethod_identity	*id = NULL;
	const char			*acc = NULL;
	int				 rc;

	if (acl_auth_method_load(req, am, 0, &m, e) == -1)
		return failed(req, a, 0, e);
	if (authmethod_verify(m, in->bearer ? in->bearer : "", &id, e) == -1) {
		authmethod_free(m);
		return failed(req, a, 1, e);
	}
	rc = login_token(req, am->name, m, id, description(req,
	    "token created via login", in->meta), &acc, e);
	authmethod_identity_free(id);
	authmethod_free(m);
	if (rc == -1)
		return failed(req, a, e->status == 403, e);
	log_info("acl: login ok: accessor=%s auth_method=%s addr=%s", acc,
	    a->method, a->addr);
	return 0;
}

/*
 * POST /v1/acl/login  {AuthMethod, BearerToken, Meta}
 * Reply: the new token (SecretID shown).  400 decode; 403 unknown
 * method ("ACL not found: auth method \"x\" not found") or nothing
 * bound ("Permission denied"); 429 a credential or source with too many
 * failures (the file's top comment), too many logins in progress for
 * the method; 500 the validator's text for a rejected credential, or a
 * bad BindName.
 */
int
acl_login(struct req *req, struct perr *e)
{
	struct login_in			 in;
	struct attempt			 a;
	struct am_row			*am;
	int				 rc;

	memset(&in, 0, sizeof(in));
	attempt_init(req, &a, "login", NULL);
	if (acl_decode(req, login_fields, "structs.ACLLoginParams", &in, NULL,
	    "Failed to decode request body: ", e) == -1)
		return failed(req, &a, 0, e);
	a.method = printable(req, in.auth_method);
	if (method_for_login(req, &a, in.auth_method, &am, e) == -1)
		return -1;
	if (in.bearer != NULL && *in.bearer != '\0')
		a.ident = ls_hash("credential", a.method_key, in.bearer);
	if (limiter_check_ident(req, &a, e) == -1)
		return failed(req, &a, 0, e);
	if (busy_enter(req, a.method_key, a.method, e) == -1)
		return failed(req, &a, 0, e);
	rc = login_run(req, &a, &in, am, e);
	busy_leave(a.method_key);
	return rc;
}

/*
 * POST /v1/acl/logout  (the request's token, acl.md §1.3)
 * Reply: true; the token is deleted.  401 "Supplied token does not
 * exist" without a token; 403 "ACL not found" for an unknown or expired
 * one; 403 "Permission denied: token wasn't created via login".
 */
int
acl_logout(struct req *req, struct perr *e)
{
	struct attempt		 a;
	struct acl_snap		*s;
	const struct acl_token	*t;
	struct store_q		*st;
	const char		*secret, *acc, *method;

	attempt_init(req, &a, "logout", NULL);
	secret = acl_req_secret(req);
	if (*secret == '\0') {
		perr_set(e, 401, "Supplied token does not exist");
		return failed(req, &a, 0, e);
	}
	if (acl_snap_get(req->store, req->worker->conf, &s, e) == -1)
		return failed(req, &a, 0, e);
	t = acl_snap_token_secret(s, secret);
	if (t == NULL || acl_token_expired(t, acl_now_ns())) {
		acl_snap_put(s);
		perr_set(e, 403, "ACL not found");
		return failed(req, &a, 0, e);
	}
	acc = arena_strdup(req->arena, t->accessor_id);
	method = arena_strdup(req->arena, t->auth_method);
	acl_snap_put(s);
	store_audit_actor(req->store, acc);	/* the token logs itself out */
	a.method = printable(req, method);
	if (*method == '\0') {
		perr_set(e, 403, "Permission denied: token wasn't created via "
		    "login");
		log_warnx("acl: logout refused: accessor=%s addr=%s: not a "
		    "login token", acc, a.addr);
		return -1;
	}
	if (store_begin(req->store, e) == -1)
		return failed(req, &a, 0, e);
	if ((st = store_stmt(req->store, SQL_ACL_TOKEN_DELETE)) == NULL) {
		store_rollback(req->store);
		perr_set(e, 500, "internal store error");
		return failed(req, &a, 0, e);
	}
	store_bind_text(st, ":id", acc);
	if (store_step(req->store, st, e) < 0) {
		store_rollback(req->store);
		return failed(req, &a, 0, e);
	}
	store_touch_id(req->store, TBL_ACL_TOKENS, acc);
	if (store_commit(req->store, e) == -1)
		return failed(req, &a, 0, e);
	log_info("acl: logout ok: accessor=%s auth_method=%s addr=%s", acc,
	    a.method, a.addr);
	req->reply = json_object_new_boolean(1);
	return 0;
}

/* The method must be of type oidc for the two OIDC endpoints. */
static int
oidc_type(const struct am_row *am, const char *what, struct perr *e)
{
	if (strcmp(am->type, "oidc") == 0)
		return 0;
	return perr_set(e, 500, "%s is incompatible with type \"%s\"", what,
	    am->type);
}

/*
 * The bounds of one pending flow (the file's top comment): 400 when a
 * part is too large to be kept.  *meta is Meta as JSON, or "".
 */
static int
flow_bounds(const struct oidc_in *in, const char **meta, struct perr *e)
{
	*meta = "";
	if (in->redirect_uri != NULL &&
	    strlen(in->redirect_uri) > LS_REDIRECT_MAX)
		return perr_set(e, 400, "RedirectURI is too long: at most %d "
		    "bytes", LS_REDIRECT_MAX);
	if (in->client_nonce != NULL &&
	    strlen(in->client_nonce) > LS_NONCE_MAX)
		return perr_set(e, 400, "ClientNonce is too long: at most %d "
		    "bytes", LS_NONCE_MAX);
	if (in->meta != NULL && json_object_object_length(in->meta) > 0)
		*meta = json_object_to_json_string_ext(in->meta,
		    JSON_C_TO_STRING_PLAIN);
	if (strlen(*meta) > LS_META_MAX)
		return perr_set(e, 400, "Meta is too large: at most %d bytes "
		    "as JSON", LS_META_MAX);
	return 0;
}

/* The key of state in the store: its SHA-256, hex (65 bytes). */
static void
state_key(const char *state, char *out)
{
	unsigned char	d[32];
	size_t		i;

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, state, strlen(state), d) != 0)
		fatalx("gnutls_hash_fast");
	for (i = 0; i < sizeof(d); i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	explicit_bzero(d, sizeof(d));
}

/* The 429 of a source holding LS_PENDING_PER_SOURCE flows. */
static int
too_many_from(struct req *req, const struct attempt *a, int64_t first,
    int64_t now, struct perr *e)
{
	long long	left = (first - now + NS_PER_S - 1) / NS_PER_S;

	retry_after(req, left);
	return perr_set(e, 429, "Too many pending OIDC logins from %s "
	    "(at most %d); finish one or try again in %lld seconds",
	    a->addr, LS_PENDING_PER_SOURCE, left);
}

/* The 429 of a full table. */
static int
too_many(struct req *req, struct perr *e)
{
	req_header(req, "Retry-After", "10");
	return perr_set(e, 429, "Too many pending OIDC logins; try again "
	    "later");
}

/*
 * PostgreSQL (several nodes on one database): keep a pending flow in
 * the table acl_oidc_pending, so that any node can finish it, with the
 * bounds of the shared region (sql/pg/004-oidc-pending.sql: one
 * statement, serialized cluster-wide by an advisory lock).  It runs
 * outside store_begin(), as node.c writes the nodes table: ephemeral
 * state moves no modify index and wakes no blocking query.  429 as
 * state_put(); 500 when the store fails.
 */
static int
state_put_db(struct req *req, const struct am_row *am, const char *state,
    const char *nonce, const struct oidc_in *in, const char *meta,
    const struct attempt *a, struct perr *e)
{
	struct store_q	*q;
	char		 key[65];
	int64_t		 now = acl_now_ns(), outcome, first;
	int		 rc;

	if ((q = store_stmt(req->store, SQL_OIDC_PENDING_PUT)) == NULL)
		return perr_set(e, 500, "internal store error");
	state_key(state, key);
	store_bind_text(q, ":key", key);
	store_bind_int(q, ":source", (int64_t)a->source);
	store_bind_int(q, ":now", now);
	store_bind_int(q, ":expires", now +
	    (int64_t)req->worker->conf->acl.login.state_ttl_s * NS_PER_S);
	store_bind_text(q, ":method", am->name);
	store_bind_text(q, ":nonce", nonce);
	store_bind_text(q, ":redirect_uri", in->redirect_uri ?
	    in->redirect_uri : "");
	store_bind_text(q, ":client_nonce", in->client_nonce ?
	    in->client_nonce : "");
	store_bind_text(q, ":meta", meta);
	store_bind_int(q, ":cap", LS_PENDING);
	store_bind_int(q, ":per_source", LS_PENDING_PER_SOURCE);
	if ((rc = store_step(req->store, q, e)) != STORE_ROW) {
		store_reset(q);
		return rc == STORE_ERR ? -1 : perr_set(e, 500,
		    "internal store error");
	}
	outcome = store_col_int(q, 0);
	first = store_col_int(q, 1);
	store_reset(q);
	if (outcome == 1)
		return too_many_from(req, a, first, now, e);
	if (outcome != 0)
		return too_many(req, e);
	return 0;
}

/*
 * Keep a pending flow in the shared region.  429 when the source holds
 * LS_PENDING_PER_SOURCE unfinished flows, or the table is full.
 */
static int
state_put(struct req *req, const struct am_row *am, const char *state,
    const char *nonce, const struct oidc_in *in, const char *meta,
    const struct attempt *a, struct perr *e)
{
	struct ls_flow	*f;
	int64_t		 now = acl_now_ns(), first = INT64_MAX;
	size_t		 i, fr = SIZE_MAX;
	int		 mine = 0;

	if (store_backend() == STORE_POSTGRES)
		return state_put_db(req, am, state, nonce, in, meta, a, e);
	ls_lock();
	for (i = 0; i < LS_PENDING; i++) {
		if (ls->fkey[i] != 0 && ls->fexp[i] <= now) {
			ls->fkey[i] = 0;	/* expired: free it */
			explicit_bzero(ls->flow[i].nonce,
			    sizeof(ls->flow[i].nonce));
		}
		if (ls->fkey[i] == 0) {
			if (fr == SIZE_MAX)
				fr = i;
			continue;
		}
		if (ls->fsrc[i] == a->source) {
			mine++;
			if (ls->fexp[i] < first)
				first = ls->fexp[i];
		}
	}
	if (mine >= LS_PENDING_PER_SOURCE) {
		ls_unlock();
		return too_many_from(req, a, first, now, e);
	}
	if (fr == SIZE_MAX) {
		ls_unlock();
		return too_many(req, e);
	}
	f = &ls->flow[fr];
	memset(f, 0, sizeof(*f));
	snprintf(f->state, sizeof(f->state), "%s", state);
	snprintf(f->nonce, sizeof(f->nonce), "%s", nonce);
	snprintf(f->method, sizeof(f->method), "%s", am->name);
	snprintf(f->redirect_uri, sizeof(f->redirect_uri), "%s",
	    in->redirect_uri ? in->redirect_uri : "");
	snprintf(f->client_nonce, sizeof(f->client_nonce), "%s",
	    in->client_nonce ? in->client_nonce : "");
	snprintf(f->meta, sizeof(f->meta), "%s", meta);
	ls->fsrc[fr] = a->source;
	ls->fexp[fr] = now +
	    (int64_t)req->worker->conf->acl.login.state_ttl_s * NS_PER_S;
	ls->fkey[fr] = ls_hash("state", state, NULL);
	ls_unlock();
	return 0;
}

/*
 * POST /v1/acl/oidc/auth-url  {AuthMethod, RedirectURI, ClientNonce,
 * Meta}
 * Reply: {"AuthURL": "<provider authorize URL>"}; the state and nonce
 * in it are kept for the callback.  400 a part too large to keep; 403
 * unknown method; 500 "missing redirect_uri", "unauthorized
 * redirect_uri: <uri>", a method not of type oidc, discovery failures;
 * 429 too many pending flows (from this source, or at all), too many
 * requests in progress for the method.
 */
int
acl_oidc_auth_url(struct req *req, struct perr *e)
{
	struct oidc_in		 in;
	struct attempt		 a;
	struct am_row		*am;
	struct authmethod	*m = NULL;
	struct json_object	*o;
	char			 state[AM_STATE_LEN + 1], nonce[AM_STATE_LEN + 1];
	const char		*meta;
	char			*url = NULL, *key;
	size_t			 i;
	int			 rc;

	memset(&in, 0, sizeof(in));
	attempt_init(req, &a, "oidc auth-url", NULL);
	if (acl_decode(req, auth_url_fields, "structs.ACLOIDCAuthURLParams",
	    &in, NULL, "Failed to decode request body: ", e) == -1 ||
	    flow_bounds(&in, &meta, e) == -1)
		return -1;
	if (acl_auth_method_get(req, in.auth_method ? in.auth_method : "", &am,
	    e) == -1)
		return -1;
	if (am == NULL)
		return perr_set(e, 403, "ACL not found: auth method \"%s\" not "
		    "found", in.auth_method ? in.auth_method : "");
	if (oidc_type(am, "GetAuthCodeURL", e) == -1 ||
	    acl_auth_method_load(req, am, 0, &m, e) == -1)
		return -1;
	key = arena_strdup(req->arena, am->name);
	for (i = 0; key[i] != '\0'; i++)
		if (key[i] >= 'A' && key[i] <= 'Z')
			key[i] += 'a' - 'A';
	if (busy_enter(req, key, printable(req, am->name), e) == -1) {
		authmethod_free(m);
		return -1;
	}
	authmethod_oidc_state(state, nonce);
	rc = authmethod_oidc_auth_url(m, in.redirect_uri, state, nonce, &url,
	    e);
	busy_leave(key);
	authmethod_free(m);
	if (rc == -1)
		return -1;
	if (state_put(req, am, state, nonce, &in, meta, &a, e) == -1) {
		free(url);
		log_warnx("acl: oidc auth-url refused: auth_method=%s addr=%s: "
		    "%d %s", printable(req, am->name), a.addr, e->status,
		    e->msg);
		return -1;
	}
	o = json_object_new_object();
	json_object_object_add(o, "AuthURL", json_object_new_string(url));
	free(url);
	req->reply = o;
	log_debug("acl: oidc auth-url: auth_method=%s addr=%s",
	    printable(req, am->name), a.addr);
	return 0;
}

/* A kept flow, taken. */
struct pending {
	const char		*auth_method;
	const char		*nonce;
	const char		*redirect_uri;
	const char		*client_nonce;
	struct json_object	*meta;		/* owned, or NULL */
};

/*
 * PostgreSQL: take (and so delete) the flow of state from the store,
 * meta into *meta (the request's arena, or left "").  DELETE ...
 * RETURNING makes it single use cluster-wide: of two nodes taking one
 * state, one gets the row.  Returns 0, or -1 when the store fails.
 */
static int
state_take_db(struct req *req, const char *state, struct pending *p,
    const char **meta, int *found, struct perr *e)
{
	struct store_q	*q;
	char		 key[65];
	int		 rc;

	if ((q = store_stmt(req->store, SQL_OIDC_PENDING_TAKE)) == NULL)
		return perr_set(e, 500, "internal store error");
	state_key(state, key);
	store_bind_text(q, ":key", key);
	if ((rc = store_step(req->store, q, e)) == STORE_ERR) {
		store_reset(q);
		return -1;
	}
	if (rc == STORE_ROW && store_col_int(q, 0) > acl_now_ns()) {
		*found = 1;
		p->auth_method = arena_strdup(req->arena,
		    store_col_text(q, 1));
		p->nonce = arena_strdup(req->arena, store_col_text(q, 2));
		p->redirect_uri = arena_strdup(req->arena,
		    store_col_text(q, 3));
		p->client_nonce = arena_strdup(req->arena,
		    store_col_text(q, 4));
		*meta = arena_strdup(req->arena, store_col_text(q, 5));
	}
	store_reset(q);
	return 0;
}

/*
 * Take (and so free) the unexpired flow of state; *found 0 when there
 * is none.  The strings are copied into the request's arena.  Returns
 * 0, or -1 when the store (PostgreSQL) fails.
 */
static int
state_take(struct req *req, const char *state, struct pending *p,
    int *found, struct perr *e)
{
	struct ls_flow	*f;
	struct perr	 je;
	uint64_t	 k;
	int64_t		 now = acl_now_ns();
	const char	*meta = "";
	size_t		 i;

	*found = 0;
	memset(p, 0, sizeof(*p));
	if (store_backend() == STORE_POSTGRES) {
		if (state_take_db(req, state, p, &meta, found, e) == -1)
			return -1;
		goto parse;
	}
	k = ls_hash("state", state, NULL);
	ls_lock();
	for (i = 0; i < LS_PENDING; i++) {
		if (ls->fkey[i] != k)
			continue;
		f = &ls->flow[i];
		if (strcmp(f->state, state) != 0)
			continue;
		ls->fkey[i] = 0;
		if (ls->fexp[i] > now) {
			*found = 1;
			p->auth_method = arena_strdup(req->arena, f->method);
			p->nonce = arena_strdup(req->arena, f->nonce);
			p->redirect_uri = arena_strdup(req->arena,
			    f->redirect_uri);
			p->client_nonce = arena_strdup(req->arena,
			    f->client_nonce);
			meta = arena_strdup(req->arena, f->meta);
		}
		explicit_bzero(f->nonce, sizeof(f->nonce));
		break;
	}
	ls_unlock();
parse:
	perr_clear(&je);
	if (*meta != '\0' && json_parse_text(meta, strlen(meta), &p->meta,
	    &je) == -1)
		p->meta = NULL;
	return 0;
}

/* The callback once the method is known; its busy place held. */
static int
callback_run(struct req *req, struct attempt *a, const struct oidc_in *in,
    struct am_row *am, struct perr *e)
{
	struct pending			 p;
	struct authmethod		*m = NULL;
	struct authmethod_identity	*id = NULL;
	struct json_object		*meta;
	const char			*acc = NULL;
	int				 found, rc;

	if (state_take(req, in->state ? in->state : "", &p, &found, e) == -1)
		return failed(req, a, 0, e);
	if (!found || strcasecmp(p.auth_method, am->name) != 0) {
		json_object_put(p.meta);
		perr_set(e, 500, "Provider login failed: Expired or missing "
		    "OAuth state.");
		return failed(req, a, 1, e);
	}
	/* XXX #5: Consul's text for this check is not public (acl.md §14). */
	if (*p.client_nonce != '\0' && (in->client_nonce == NULL ||
	    !ct_streq(p.client_nonce, in->client_nonce))) {
		json_object_put(p.meta);
		perr_set(e, 500, "Provider login failed: Invalid client "
		    "nonce.");
		return failed(req, a, 1, e);
	}
	if (acl_auth_method_load(req, am, 0, &m, e) == -1) {
		json_object_put(p.meta);
		return failed(req, a, 0, e);
	}
	if (authmethod_oidc_callback(m, in->code, p.redirect_uri, p.nonce, &id,
	    e) == -1) {
		authmethod_free(m);
		json_object_put(p.meta);
		return failed(req, a, 1, e);
	}
	meta = in->meta != NULL && json_object_object_length(in->meta) > 0 ?
	    in->meta : p.meta;
	rc = login_token(req, am->name, m, id, description(req,
	    "token created via OIDC login", meta), &acc, e);
	authmethod_identity_free(id);
	authmethod_free(m);
	json_object_put(p.meta);
	if (rc == -1)
		return failed(req, a, e->status == 403, e);
	log_info("acl: oidc login ok: accessor=%s auth_method=%s addr=%s", acc,
	    a->method, a->addr);
	return 0;
}

/*
 * POST /v1/acl/oidc/callback  {AuthMethod, State, Code, ClientNonce,
 * Meta}
 * Reply: the new token.  The state is consumed whatever happens next.
 * 403 unknown method or nothing bound; 429 too many failures from the
 * source, too many logins in progress for the method; 500 "Provider
 * login failed: ..." (no code; expired, used or unknown state; client
 * nonce mismatch; code exchange) and "Token verification failed: ..."
 * (ID token signature, audience, nonce, expiry).
 */
int
acl_oidc_callback(struct req *req, struct perr *e)
{
	struct oidc_in			 in;
	struct attempt			 a;
	struct am_row			*am;
	int				 rc;

	memset(&in, 0, sizeof(in));
	attempt_init(req, &a, "oidc login", NULL);
	if (acl_decode(req, callback_fields, "structs.ACLOIDCCallbackParams",
	    &in, NULL, "Failed to decode request body: ", e) == -1)
		return failed(req, &a, 0, e);
	a.method = printable(req, in.auth_method);
	if (method_for_login(req, &a, in.auth_method, &am, e) == -1)
		return -1;
	if (oidc_type(am, "ClaimsFromAuthCode", e) == -1)
		return failed(req, &a, 0, e);
	if (in.code == NULL || *in.code == '\0') {
		perr_set(e, 500, "Provider login failed: OAuth code parameter "
		    "not provided");
		return failed(req, &a, 1, e);
	}
	if (busy_enter(req, a.method_key, a.method, e) == -1)
		return failed(req, &a, 0, e);
	rc = callback_run(req, &a, &in, am, e);
	busy_leave(a.method_key);
	return rc;
}
