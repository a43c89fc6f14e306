/*
 * blocking.c -- Consul blocking queries without a thread per query.
 *
 * API: an accept thread that ran a blocking route's handler and found
 * nothing newer than ?index= calls blocking_park(req) and goes back to
 * accepting; from then on this file owns the request.  One blocking
 * thread per worker holds every parked request (10,000s of them cost a
 * FastCGI connection and an arena each, no thread) and answers each one
 * when
 *   - the modify index of the tables its route watches moves and the
 *     re-run handler's answer (handlers are pure reads) has an index
 *     past the request's ?index= -- another service's new leaf moves
 *     the leaves table without answering this service's query -- or
 *   - its deadline (?wait, default 5 min, max 10 min, + jitter) passes:
 *     the current data with the current index, as Consul does, or
 *   - the worker drains (SIGTERM): the current data at once.
 * A request whose client went away (nginx closed the connection: the
 * socket reports RDHUP) is dropped without an answer.
 *
 * Wake-ups come from notify.c (a commit in any worker) through this
 * worker's wake pipe; the shared-memory indexes say what moved.  Once a
 * second the thread re-reads the indexes from SQLite, the safety net
 * for a writer that died between commit and publishing its index.
 *
 * Requests released in one pass that ask the same question (same
 * route, path, query without index/wait) share one handler run.
 *
 * "Answered nothing new": a route's watch is a whole table, so a write
 * of another destination's intention re-runs every exact and match
 * query.  Their answer carries the table's index, past ?index=, but its
 * bytes did not change; Consul watches the rows and keeps such a query
 * waiting.  So a request remembers a digest of the reply it would have
 * got when it was parked, and a re-run whose rendered reply has the
 * same digest sends it back to waiting (the counter
 * portcullis.blocking.rerun_unchanged) rather than waking the client
 * with what it has.  On its deadline it gets that reply with the
 * current index, as Consul answers.
 *
 * File descriptors: each parked request holds its FastCGI connection.
 * A worker parks at most RLIMIT_NOFILE - PARK_FD_HEADROOM of them (the
 * rest: kept idle connections, the store, pipes); past that the query
 * is refused with 429 and Retry-After, which Consul's clients back off
 * from, rather than the worker running out of descriptors.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <gnutls/crypto.h>
#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "blocking.h"
#include "http.h"
#include "json.h"
#include "metrics.h"
#include "notify.h"
#include "router.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#define SAFETY_POLL_MS	1000
/* Descriptors of a worker not given to parked requests. */
#define PARK_FD_HEADROOM	1024
#define DIGEST_LEN	32

struct parked {
	struct req	*req;
	struct parked	*prev, *next;
	int		 fd;
	char		*key;		/* identical-question key */
	uint64_t	 seen;		/* watched index at the last run */
	unsigned char	 digest[DIGEST_LEN];	/* of the reply when parked */
	int		 digested;	/* (a reply with no body has none) */
};

static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static struct parked	*incoming;	/* handed over, not yet seen */
static struct parked	*parked;	/* owned by the blocking thread */
static size_t		 nparked;
static int		 evfd = -1;	/* accept threads -> blocking thread */
static int		 epfd = -1;
static pthread_t	 thread;
static volatile int	 stopping;
static struct worker	*wk;
static int64_t		 park_max;	/* parked requests, at most */
/*
 * What the last full pass saw (sweep()): every table's highest index,
 * and the nearest deadline of the requests it left parked (lowered as
 * requests come in).  Until one of the two moves, or a request comes in
 * that is behind its tables, a pass has nothing to do.
 */
static uint64_t		 swept_index;
static int64_t		 swept_deadline = INT64_MAX;
static int		 sweep_due = 1;
static int64_t		 refused_logged_ms;

static void
digest(const char *body, size_t len, unsigned char out[DIGEST_LEN])
{
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, body, len, out) < 0)
		fatalx("blocking: gnutls_hash_fast");
}


static uint64_t
watch_index(const struct route *r)
{
	return store_index_max(r->watch);
}

static char *
question_key(struct req *req)
{
	size_t	 i, len;
	char	*k, *p, who[64];
	const char *sec[1];

	/*
	 * Requests share an answer only when they present the same token:
	 * ACLs filter and redact replies (a digest, not the secret).
	 */
	sec[0] = acl_req_secret(req);
	digest_b64(sec, 1, who);
	len = strlen(req->path) + 32 + sizeof(who);
	for (i = 0; i < req->nquery; i++)
		len += strlen(req->query[i].key) + strlen(req->query[i].val) + 2;
	k = p = arena_alloc(req->arena, len);
	p += sprintf(p, "%p %s %s?", (const void *)req->route, who, req->path);
	for (i = 0; i < req->nquery; i++) {
		if (strcmp(req->query[i].key, "index") == 0 ||
		    strcmp(req->query[i].key, "wait") == 0)
			continue;
		p += sprintf(p, "%s=%s&", req->query[i].key, req->query[i].val);
	}
	return k;
}

/*
 * Hand req (its handler run, its reply not sent) to the blocking
 * thread.  Returns 0: now owned here.  Returns -1 when it cannot wait:
 * the caller answers at once, with e (429) set when this worker holds
 * as many parked requests as its descriptors allow, else the reply.
 */
int
blocking_park(struct req *req, struct perr *e)
{
	struct parked	*p;
	uint64_t	 one = 1;
	char		*body;
	size_t		 len;
	int64_t		 now, last;

	if (evfd == -1 || stopping)
		return -1;
	if (__atomic_load_n(&store_shared->parked[wk->slot],
	    __ATOMIC_RELAXED) >= park_max) {
		now = mono_ms();
		last = __atomic_load_n(&refused_logged_ms, __ATOMIC_RELAXED);
		if (now - last >= 10000 && __atomic_compare_exchange_n(
		    &refused_logged_ms, &last, now, 0, __ATOMIC_RELAXED,
		    __ATOMIC_RELAXED)) {
			log_warnx("blocking: %lld queries parked, the most "
			    "this worker's descriptors allow; refusing more",
			    (long long)park_max);
		}
		req_header(req, "Retry-After", "1");
		return perr_set(e, 429, "Too many blocking queries waiting "
		    "on this server; try again later");
	}
	p = xcalloc(1, sizeof(*p));
	/* What the client has: a re-run with the same bytes is no news. */
	if (req->reply != NULL) {
		body = json_render(req->reply, req_query_has(req, "pretty"),
		    &len);
		digest(body, len, p->digest);
		free(body);
		p->digested = 1;
	} else if (req->raw != NULL) {
		digest(req->raw, req->rawlen, p->digest);
		p->digested = 1;
	}
	json_object_put(req->reply);
	req->reply = NULL;
	p->req = req;
	p->fd = ((FCGX_Request *)req->fcgi)->ipcFd;
	p->key = question_key(req);
	p->seen = req->min_index;
	/* Before the blocking thread compares indexes (notify_commit()). */
	__atomic_add_fetch(&store_shared->parked[wk->slot], 1,
	    __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&mtx);
	p->next = incoming;
	incoming = p;
	pthread_mutex_unlock(&mtx);
	(void)write(evfd, &one, sizeof(one));
	return 0;
}

size_t
blocking_count(void)
{
	return __atomic_load_n(&nparked, __ATOMIC_RELAXED);
}

static void
unlink_parked(struct parked *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		parked = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, NULL);
	__atomic_sub_fetch(&nparked, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&store_shared->parked[wk->slot], 1,
	    __ATOMIC_SEQ_CST);
}

static void
adopt_incoming(void)
{
	struct parked		*list, *p, *next;
	struct epoll_event	 ev;
	uint64_t		 v;

	(void)read(evfd, &v, sizeof(v));
	pthread_mutex_lock(&mtx);
	list = incoming;
	incoming = NULL;
	pthread_mutex_unlock(&mtx);
	for (p = list; p != NULL; p = next) {
		next = p->next;
		p->prev = NULL;
		p->next = parked;
		if (parked != NULL)
			parked->prev = p;
		parked = p;
		__atomic_add_fetch(&nparked, 1, __ATOMIC_RELAXED);
		if (p->req->deadline_ms < swept_deadline)
			swept_deadline = p->req->deadline_ms;
		if (watch_index(p->req->route) > p->seen)
			sweep_due = 1;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLRDHUP | EPOLLIN;
		ev.data.ptr = p;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, p->fd, &ev) == -1)
			log_warn("blocking: epoll_ctl");
	}
}

/* A pass's shared answers: key -> the first request answered for it. */
struct shared_answer {
	const char		*key;
	char			*body;		/* rendered once, written N times */
	size_t			 len;
	const char		*ctype;
	unsigned char		 digest[DIGEST_LEN];
	int			 digested;
	uint64_t		 index;
	struct kv		 headers[REQ_MAX_HEADERS];
	size_t			 nheaders;
	struct perr		 err;
	struct shared_answer	*next;
};

/*
 * The answer to p's question in this pass: the handler runs for the
 * first request asking it, and its reply is rendered once.
 */
static struct shared_answer *
answer(struct parked *p, struct store *st, struct shared_answer **cache)
{
	struct req		*req = p->req;
	struct shared_answer	*a;
	size_t			 i;

	for (a = *cache; a != NULL; a = a->next)
		if (strcmp(a->key, p->key) == 0)
			return a;
	a = xcalloc(1, sizeof(*a));
	a->key = xstrdup(p->key);
	req->store = st;
	(void)http_run_handler(req, &a->err);
	if (a->err.status == 0 && req->reply != NULL) {
		a->body = json_render(req->reply,
		    req_query_has(req, "pretty"), &a->len);
		a->ctype = "application/json";
	} else if (a->err.status == 0 && req->raw != NULL) {
		a->body = xmalloc(req->rawlen + 1);
		memcpy(a->body, req->raw, req->rawlen);
		a->len = req->rawlen;
		a->ctype = req->content_type;
	}
	if (a->body != NULL) {
		digest(a->body, a->len, a->digest);
		a->digested = 1;
	}
	a->index = req->index;
	/* Header values live in this request's arena: copy them. */
	for (i = 0; i < req->nheaders; i++) {
		a->headers[i].key = xstrdup(req->headers[i].key);
		a->headers[i].val = xstrdup(req->headers[i].val);
	}
	a->nheaders = req->nheaders;
	json_object_put(req->reply);
	req->reply = NULL;
	a->next = *cache;
	*cache = a;
	return a;
}

/* Answer p with a and let it go. */
static void
release(struct parked *p, const struct shared_answer *a)
{
	struct req	*req = p->req;
	size_t		 i;

	unlink_parked(p);
	json_object_put(req->reply);
	req->reply = NULL;
	req->raw = a->body;		/* borrowed until the pass ends */
	req->rawlen = a->len;
	req->content_type = a->ctype;
	req->index = a->index;
	for (i = 0; i < a->nheaders; i++)
		req->headers[i] = a->headers[i];
	req->nheaders = a->nheaders;
	http_reply(req, &a->err);
	worker_finish(req);
	free(p);
}

static void
cache_free(struct shared_answer *a)
{
	struct shared_answer	*next;
	size_t			 i;

	for (; a != NULL; a = next) {
		next = a->next;
		free(a->body);
		for (i = 0; i < a->nheaders; i++) {
			free((char *)a->headers[i].key);
			free((char *)a->headers[i].val);
		}
		free((char *)a->key);
		free(a);
	}
}

static void
drop(struct parked *p)
{
	unlink_parked(p);
	worker_finish(p->req);
	free(p);
}

/*
 * One pass over the parked requests.  A request whose watched tables
 * moved is asked again; it is answered if its own answer moved past
 * ?index= (another service's new leaf moves the leaves table but not
 * this service's leaf) and its bytes changed (another destination's
 * intention moves the index of every exact and match answer), else it
 * keeps waiting.  Past its deadline, or
 * when stopping, it gets the current answer.  Returns the milliseconds
 * until the nearest deadline.
 *
 * The pass is skipped when no table moved since the last one, no
 * deadline came and no request came in behind its tables: it touches
 * every parked request, and with 12,500 of them a worker spent 4.5 ms
 * of a core on it every second (the safety poll's wake-up), which
 * showed in the tail latency of everything else the host served
 * (tests/bench/park.sh, check p99 with 50,000 parked).
 */
static int64_t
sweep(struct store *st)
{
	struct shared_answer	*cache = NULL, *a;
	struct parked		*p, *next;
	int64_t			 now, nearest = SAFETY_POLL_MS, left;
	uint64_t		 w, all;

	now = mono_ms();
	/* Read before the pass: a commit during it is the next one's. */
	all = store_index_max(~0u);
	if (!stopping && !sweep_due && all == swept_index &&
	    now < swept_deadline)
		return swept_deadline - now < nearest ? swept_deadline - now :
		    nearest;
	sweep_due = 0;
	swept_index = all;
	swept_deadline = INT64_MAX;
	for (p = parked; p != NULL; p = next) {
		next = p->next;
		if (stopping || now >= p->req->deadline_ms) {
			release(p, answer(p, st, &cache));
			continue;
		}
		if ((w = watch_index(p->req->route)) > p->seen) {
			a = answer(p, st, &cache);
			if (a->err.status != 0 ||
			    (a->index > p->req->min_index && (!a->digested ||
			    !p->digested ||
			    memcmp(a->digest, p->digest, DIGEST_LEN) != 0))) {
				release(p, a);
				continue;
			}
			p->seen = w;
			metrics_inc(MET_BLOCKING_RERUN_UNCHANGED);
		}
		if (p->req->deadline_ms < swept_deadline)
			swept_deadline = p->req->deadline_ms;
		left = p->req->deadline_ms - now;
		if (left < nearest)
			nearest = left;
	}
	cache_free(cache);
	return nearest;
}

static void *
blocking_thread(void *arg)
{
	struct epoll_event	 evs[64];
	struct store		*st;
	struct perr		 e;
	int64_t			 timeout, last_poll = 0, now;
	int			 n, i;
	void			*wake_tag = &evfd, *notify_tag = &epfd;

	if (store_open(wk->db_path, &st, &e) == -1)
		fatalx("blocking: %s", e.msg);
	timeout = SAFETY_POLL_MS;
	for (;;) {
		n = epoll_wait(epfd, evs, 64, (int)(timeout < 0 ? 0 : timeout));
		if (n == -1 && errno != EINTR)
			fatal("blocking: epoll_wait");
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == wake_tag)
				adopt_incoming();
			else if (evs[i].data.ptr == notify_tag)
				notify_worker_drain();
			else
				drop(evs[i].data.ptr);
		}
		now = mono_ms();
		if (now - last_poll >= SAFETY_POLL_MS) {
			if (store_load_shared(st, &e) == -1)
				log_warnx("blocking: safety poll: %s", e.msg);
			last_poll = now;
		}
		timeout = sweep(st);
		if (stopping && parked == NULL) {
			pthread_mutex_lock(&mtx);
			n = incoming == NULL;
			pthread_mutex_unlock(&mtx);
			if (n)
				break;
			adopt_incoming();
		}
	}
	store_close(st);
	return NULL;
}

/* Start this worker's blocking thread. */
void
blocking_start(struct worker *w)
{
	struct epoll_event	ev;
	struct rlimit		rl;

	wk = w;
	park_max = 1 << 20;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (int64_t)rl.rlim_cur < park_max)
		park_max = (int64_t)rl.rlim_cur;
	park_max = park_max > 2 * PARK_FD_HEADROOM ?
	    park_max - PARK_FD_HEADROOM : park_max / 2;
	if ((evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("blocking: eventfd/epoll");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &evfd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev) == -1)
		fatal("blocking: epoll_ctl");
	ev.data.ptr = &epfd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, notify_worker_wake_fd(), &ev) == -1)
		fatal("blocking: epoll_ctl");
	if (pthread_create(&thread, NULL, blocking_thread, NULL) != 0)
		fatalx("blocking: pthread_create");
}

/* Answer every parked request now and stop the thread (drain). */
void
blocking_stop(void)
{
	uint64_t	one = 1;

	if (evfd == -1)
		return;
	stopping = 1;
	(void)write(evfd, &one, sizeof(one));
	pthread_join(thread, NULL);
}
