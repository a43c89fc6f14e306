/*
 * worker.c -- a worker process: several accept threads serving
 * requests through http_dispatch(), and one blocking thread
 * (blocking.c) holding parked blocking queries.
 *
 * Accepting: the master's listening socket is non-blocking; the accept
 * threads of a worker wait on the worker's one epoll set, where the
 * socket is registered with EPOLLEXCLUSIVE (a new connection wakes one
 * worker, not all of them), then call FCGX_Accept_r(), which returns
 * -EAGAIN when another thread won the race.  A fresh FCGX_Request per
 * request lets a blocking query be parked while the thread goes back
 * to accepting; no mutex around FCGX_Accept_r (that collapsed
 * throughput when measured).
 *
 * Kept connections: nginx asks for FCGI_KEEP_CONN (fastcgi_keep_conn
 * on, an upstream keepalive pool), so a connection serves many
 * requests and neither side pays socket/connect/accept/close per
 * request.  libfcgi would pin a kept connection to the thread that
 * reads it and block there; instead, once a request is finished (by an
 * accept thread or by the blocking thread) its idle connection goes
 * back into the epoll set with EPOLLONESHOT, and whichever thread is
 * woken reads the next request from it.  A parked query keeps its
 * connection out of the set, and nginx sends nothing on a connection
 * with a request outstanding.  idle[fd] says who owns an idle
 * connection: whoever swaps the 1 out (a woken thread, or the drain).
 *
 * Draining must not lose a request nginx already wrote to a kept
 * connection, and nginx does not retry a POST whose connection fails:
 * closing idle connections at exit lost 9 of ~3,000 POSTs over 10
 * reloads, and closing them at the start of the drain still lost 3
 * (nginx takes a connection from its pool before it has seen the EOF).
 * So a draining worker never closes a connection nginx may use; it
 * asks nginx to: it stops accepting, and writes an empty FCGI_STDERR
 * record (conn_nudge()) on each idle connection and after each
 * response.  nginx closes a pooled connection that turns readable, does
 * not pool one with bytes after FCGI_END_REQUEST, and, when it has
 * already sent a request on it, skips an empty stderr record before
 * the reply (ngx_http_fastcgi_module.c) -- which the draining worker
 * still serves.  The worker exits when nginx has closed them all, or
 * after DRAIN_CONN_MS (clients other than nginx).
 *
 * Outbound pool: routes flagged R_OUTBOUND (login, the OIDC
 * endpoints, auth method writes) call identity providers, each call up
 * to acl.login.outbound_timeout_ms.  On the accept threads, 16 logins
 * against an 8-second Kubernetes API pinned all 2 x 4 of them and an
 * unrelated GET /v1/connect/ca/roots took 31 s (issue #12).  So the
 * dispatcher hands such a request, parsed and routed, to this worker's
 * pool (worker_outbound()): WORKER_OUTBOUND_THREADS threads, each with
 * its own store connection, take requests from a ring of
 * WORKER_OUTBOUND_QUEUE slots and answer them exactly as an accept
 * thread would (token, ACL, handler, reply, worker_finish()), as the
 * blocking thread does for parked queries.  A full ring answers 429 at
 * once; acl_login.c caps the logins one auth method may run at a time,
 * so one slow provider cannot take the whole pool.  Draining: after
 * the accept threads have stopped (nothing more can be handed off),
 * the pool finishes every request it holds, then the worker exits
 * (the master's DRAIN_MAX_MS still bounds that).
 *
 * Signals: libfcgi installs handlers of its own in FCGX_Init(); we put
 * ours back.  SIGTERM drains: stop accepting, finish in-flight
 * requests, answer parked blocking queries with current data, exit 0.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/prctl.h>

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "portcullis.h"
#include "audit.h"
#include "blocking.h"
#include "conf.h"
#include "hooks.h"
#include "http.h"
#include "notify.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#define ACCEPT_POLL_MS	200
#define DRAIN_CONN_MS	2000
#define DRAIN_POLL_MS	10
/* An idle outbound thread closes its store connection after this. */
#define OUTBOUND_IDLE_S		30

/* Kept connections tracked per worker, at most (above: closed). */
#define MAX_KEPT_FD	(1 << 20)
/*
 * Descriptors of a worker kept from connections (the store, pipes):
 * past RLIMIT_NOFILE less this it leaves new connections to the other
 * workers, which take them again below it less ACCEPT_HYSTERESIS.
 * (blocking.c parks up to the same number.)
 */
#define ACCEPT_FD_HEADROOM	1024
#define ACCEPT_HYSTERESIS	256
/*
 * glibc gives freed memory at the top of a thread arena back with
 * madvise() as soon as 128 KiB are free, and every such madvise flushes
 * the TLB of every core by IPI.  Under leaf issuance that was 7 % of a
 * worker's time (perf, issue #3).  A worker's heap is bounded by its
 * requests: keep up to this much, and mmap only really large blocks.
 */
#define MALLOC_TRIM	(64 * 1024 * 1024)
#define MALLOC_MMAP	(4 * 1024 * 1024)

struct worker	*the_worker;

static int	conn_idle(struct worker *, int);
static void	conn_count(struct worker *, int);
static int	draining(struct worker *);

static void
on_term(int sig)
{
	(void)sig;
	if (the_worker != NULL)
		__atomic_store_n(&the_worker->draining, 1, __ATOMIC_SEQ_CST);
}

/* A request for an accepted FastCGI connection; owns fr. */
struct req *
worker_req_new(struct worker *w, struct store *st, void *fr)
{
	struct arena	*a;
	struct req	*req;

	a = arena_new();
	req = arena_alloc(a, sizeof(*req));
	req->arena = a;
	req->worker = w;
	req->store = st;
	req->fcgi = fr;
	return req;
}

/*
 * Finish the FastCGI exchange and free everything the request owns.
 *
 * "detached" makes libfcgi close the socket plainly: otherwise its
 * OS_Close() shuts down the write side and waits in select() for nginx
 * to hang up -- a round trip per request, serial in the blocking thread
 * (10,000 parked queries took 20 s to release), and select() on a
 * descriptor >= FD_SETSIZE, which thousands of parked queries reach.
 * On a unix socket a plain close() loses no reply data.
 */
void
worker_finish(struct req *req)
{
	struct worker	*w = req->worker;
	FCGX_Request	*fr = req->fcgi;
	int		 fd;

	fr->detached = 1;
	FCGX_Finish_r(fr);
	fd = fr->ipcFd;			/* still open: nginx keeps it */
	free(fr);
	json_object_put(req->reply);
	json_object_put(req->json);
	arena_free(req->arena);
	if (fd >= 0 && conn_idle(w, fd) == -1) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		conn_count(w, -1);
}

/*
 * Ask nginx to stop using connection fd (draining): an empty FCGI_STDERR
 * record for request 1, the id nginx always uses.
 */
static void
conn_nudge(int fd)
{
	static const unsigned char	rec[8] = { 1, 7, 0, 1, 0, 0, 0, 0 };

	(void)send(fd, rec, sizeof(rec), MSG_DONTWAIT | MSG_NOSIGNAL);
}

/*
 * The listening socket in this worker's epoll set, or out of it.
 * With EPOLLEXCLUSIVE the kernel wakes whichever worker's thread waits
 * first, not the least loaded: 50,000 parked queries over 4 workers put
 * 19,000 in one while another held 8,000.  So a worker near its
 * descriptor limit stops taking new connections (its kept ones go on)
 * and the others get them.  Draining takes the socket out for good.
 */
static void
accept_set(struct worker *w, int on)
{
	struct epoll_event	ev;

	pthread_mutex_lock(&w->accept_mtx);
	if (on && w->accept_off && !draining(w)) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
		ev.data.fd = w->listen_fd;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->listen_fd, &ev) == 0)
			__atomic_store_n(&w->accept_off, 0, __ATOMIC_RELAXED);
		else
			log_warn("worker: epoll_ctl listen");
	} else if (!on && !w->accept_off) {
		epoll_ctl(w->ep, EPOLL_CTL_DEL, w->listen_fd, NULL);
		__atomic_store_n(&w->accept_off, 1, __ATOMIC_RELAXED);
		if (!draining(w))
			log_info("worker %d: %d connections, leaving new ones "
			    "to the other workers", w->slot,
			    atomic_load(&w->nconn));
	}
	pthread_mutex_unlock(&w->accept_mtx);
}

/* nconn += d, and the listening socket in or out as it crosses the mark. */
static void
conn_count(struct worker *w, int d)
{
	int	n, off;

	n = atomic_fetch_add(&w->nconn, d) + d;
	off = __atomic_load_n(&w->accept_off, __ATOMIC_RELAXED);

	if (d > 0 && n >= w->accept_max && !off)
		accept_set(w, 0);
	else if (d < 0 && n < w->accept_max - ACCEPT_HYSTERESIS && off)
		accept_set(w, 1);
}

/* Arm fd in the worker's epoll set for one wake-up; 0 or -1. */
static int
conn_arm(struct worker *w, int fd)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
	ev.data.fd = fd;
	if (epoll_ctl(w->ep, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	if (errno == ENOENT && epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	log_warn("worker: epoll_ctl kept connection");
	return -1;
}

/* Is the worker draining?  (Ordered against idle[]: conn_idle().) */
static int
draining(struct worker *w)
{
	return __atomic_load_n(&w->draining, __ATOMIC_SEQ_CST);
}

/*
 * Nudge idle connection fd, if it is still idle: taken (idle[] swapped)
 * so no thread writes a reply into it meanwhile, then armed again (a
 * thread that took its event in between found it busy and dropped it).
 */
static void
conn_nudge_idle(struct worker *w, int fd)
{
	if (!atomic_exchange(&w->idle[fd], 0))
		return;		/* a thread serves it: it nudges after */
	conn_nudge(fd);
	atomic_store(&w->idle[fd], 1);
	if (conn_arm(w, fd) == -1 && atomic_exchange(&w->idle[fd], 0)) {
		close(fd);
		conn_count(w, -1);
	}
}

/*
 * The request on kept connection fd is finished: wait in the epoll set
 * for the next one (nudged when draining).  Returns 0, or -1 when the
 * caller still owns fd and must close it.
 */
static int
conn_idle(struct worker *w, int fd)
{
	if (fd >= w->nidle)
		return -1;
	atomic_store(&w->idle[fd], 1);
	if (conn_arm(w, fd) == -1)
		return atomic_exchange(&w->idle[fd], 0) ? -1 : 0;
	/* Either this sees the drain, or the drain's sweep sees fd idle
	 * (both sequentially consistent). */
	if (draining(w))
		conn_nudge_idle(w, fd);
	return 0;
}

/* Drain: stop accepting and nudge every idle connection. */
static void
conn_drain(struct worker *w)
{
	int	fd;

	accept_set(w, 0);
	for (fd = 0; fd < w->nidle; fd++)
		conn_nudge_idle(w, fd);
}

/*
 * accept() found no descriptor free.  The connection stays in the
 * listening socket's queue, where another worker may take it; this
 * thread waits a moment instead of being woken for it at once, over
 * and over (level-triggered), and says so now and then.  Parked
 * queries stop short of this (blocking.c, PARK_FD_HEADROOM).
 */
static void
out_of_fds(struct worker *w)
{
	static _Atomic int64_t	logged;
	int64_t			now = mono_ms(), last = atomic_load(&logged);

	if (now - last >= 10000 &&
	    atomic_compare_exchange_strong(&logged, &last, now))
		log_warnx("worker %d: out of file descriptors (%d "
		    "connections); not accepting for %d ms", w->slot,
		    atomic_load(&w->nconn), ACCEPT_POLL_MS);
	usleep(ACCEPT_POLL_MS * 1000);
}

/*
 * Read the next request: from a new connection on the listening socket,
 * or from the kept connection fd that epoll reported.  Returns a new
 * FCGX_Request, or NULL when there was none (another thread accepted
 * it, or nginx closed the kept connection: libfcgi closes it then).
 * Keeps w->nconn.
 */
static FCGX_Request *
next_request(struct worker *w, int fd)
{
	FCGX_Request	*fr;
	int		 kept = fd != w->listen_fd, rc;

	if (kept && !atomic_exchange(&w->idle[fd], 0))
		return NULL;	/* the drain holds it; it arms it again */
	fr = xmalloc(sizeof(*fr));
	/* No listening socket while draining: when a kept connection
	 * ends, FCGX_Accept_r() would accept a new one instead. */
	if (FCGX_InitRequest(fr, draining(w) ? -1 : w->listen_fd, 0) != 0)
		fatalx("worker: FCGX_InitRequest");
	if (kept) {
		/* FCGX_Accept_r() first finishes the previous request and
		 * would close a connection not marked kept. */
		fr->ipcFd = fd;
		fr->keepConnection = 1;
		fr->detached = 1;
	}
	if ((rc = FCGX_Accept_r(fr)) < 0) {
		free(fr);	/* -EAGAIN, or the kept connection ended */
		if (kept)
			conn_count(w, -1);
		if (rc == -EMFILE || rc == -ENFILE)
			out_of_fds(w);
		return NULL;
	}
	if (!kept)
		conn_count(w, 1);
	/* (kept, and fr->ipcFd != fd: fd ended, a new one was accepted) */
	return fr;
}

static void *
accept_thread(void *arg)
{
	struct worker		*w = arg;
	struct epoll_event	 ev;
	struct store		*st;
	struct perr		 e;
	FCGX_Request		*fr;
	int			 n;

	if (store_open(w->db_path, &st, &e) == -1)
		fatalx("worker: %s", e.msg);
	while (!w->drained) {
		n = epoll_wait(w->ep, &ev, 1, w->draining ? DRAIN_POLL_MS :
		    ACCEPT_POLL_MS);
		if (n == 1 && (fr = next_request(w, ev.data.fd)) != NULL)
			http_dispatch(worker_req_new(w, st, fr));
	}
	store_close(st);
	return NULL;
}

/* ---------------------------------------------------------------- */
/* The outbound pool.                                                 */

/*
 * Hand req (parsed, routed, generic checks done) to the pool, which
 * answers and frees it.  Returns 0 (the caller must not touch req
 * again), or -1 with 429 when the ring is full (the caller answers).
 */
int
worker_outbound(struct req *req, struct perr *e)
{
	struct worker	*w = req->worker;

	pthread_mutex_lock(&w->ob_mtx);
	if (w->ob_n == WORKER_OUTBOUND_QUEUE || w->ob_stop) {
		pthread_mutex_unlock(&w->ob_mtx);
		req_header(req, "Retry-After", "1");
		return perr_set(e, 429, "Too many requests waiting on identity "
		    "providers; try again later");
	}
	w->ob_q[(w->ob_head + w->ob_n) % WORKER_OUTBOUND_QUEUE] = req;
	w->ob_n++;
	pthread_cond_signal(&w->ob_cond);
	pthread_mutex_unlock(&w->ob_mtx);
	return 0;
}

/*
 * An outbound thread.  Its store connection is opened at its first
 * request and closed after OUTBOUND_IDLE_S without one: a PostgreSQL
 * node then keeps WORKER_OUTBOUND_THREADS connections per worker only
 * while logins run, not for ever (README, "Faults").
 */
static void *
outbound_thread(void *arg)
{
	struct worker	*w = arg;
	struct store	*st = NULL;
	struct req	*req;
	struct perr	 e;
	struct timespec	 until;

	for (;;) {
		pthread_mutex_lock(&w->ob_mtx);
		while (w->ob_n == 0 && !w->ob_stop) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += OUTBOUND_IDLE_S;
			if (pthread_cond_timedwait(&w->ob_cond, &w->ob_mtx,
			    &until) == ETIMEDOUT && st != NULL) {
				pthread_mutex_unlock(&w->ob_mtx);
				store_close(st);
				st = NULL;
				pthread_mutex_lock(&w->ob_mtx);
			}
		}
		if (w->ob_n == 0) {		/* stopping, and empty */
			pthread_mutex_unlock(&w->ob_mtx);
			break;
		}
		req = w->ob_q[w->ob_head];
		w->ob_head = (w->ob_head + 1) % WORKER_OUTBOUND_QUEUE;
		w->ob_n--;
		pthread_mutex_unlock(&w->ob_mtx);
		perr_clear(&e);
		if (st == NULL && store_open(w->db_path, &st, &e) == -1)
			st = NULL;
		else {
			req->store = st; /* the accept thread's is its own */
			(void)http_run_handler(req, &e);
		}
		http_reply(req, &e);
		worker_finish(req);
	}
	store_close(st);
	return NULL;
}

static void
outbound_start(struct worker *w, pthread_attr_t *attr)
{
	int	i;

	if (pthread_mutex_init(&w->ob_mtx, NULL) != 0 ||
	    pthread_cond_init(&w->ob_cond, NULL) != 0)
		fatalx("worker: outbound pool");
	for (i = 0; i < WORKER_OUTBOUND_THREADS; i++)
		if (pthread_create(&w->ob_th[i], attr, outbound_thread, w) != 0)
			fatalx("worker: pthread_create");
}

/* Drain: answer every request handed off, then stop the threads. */
static void
outbound_stop(struct worker *w)
{
	int	i;

	pthread_mutex_lock(&w->ob_mtx);
	w->ob_stop = 1;
	pthread_cond_broadcast(&w->ob_cond);
	pthread_mutex_unlock(&w->ob_mtx);
	for (i = 0; i < WORKER_OUTBOUND_THREADS; i++)
		pthread_join(w->ob_th[i], NULL);
}

/*
 * Run worker slot on the inherited listening socket.  Never returns.
 */
void
worker_main(struct conf *conf, int slot, int listen_fd)
{
	struct worker		 w;
	struct epoll_event	 ev;
	struct rlimit		 rl;
	struct sigaction	 sa;
	sigset_t		 block, old;
	struct store		*st;
	struct perr		 e;
	pthread_t		*th;
	pthread_attr_t		 attr;
	char			*cid = NULL;
	int			 i, waited;

	memset(&w, 0, sizeof(w));
	w.conf = conf;
	w.slot = slot;
	audit_configure(conf);
	w.listen_fd = listen_fd;
	if ((w.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("worker: epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.fd = listen_fd;
	if (epoll_ctl(w.ep, EPOLL_CTL_ADD, listen_fd, &ev) == -1)
		fatal("worker: epoll_ctl");
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur > MAX_KEPT_FD)
		rl.rlim_cur = MAX_KEPT_FD;
	w.nidle = (int)rl.rlim_cur;
	w.accept_max = w.nidle > 2 * ACCEPT_FD_HEADROOM ?
	    w.nidle - ACCEPT_FD_HEADROOM : w.nidle / 2;
	if (pthread_mutex_init(&w.accept_mtx, NULL) != 0)
		fatalx("worker: accept mutex");
	w.idle = xcalloc((size_t)w.nidle, sizeof(*w.idle));
	xasprintf(&w.db_path, "%s/portcullis.db", conf->data_dir);
	the_worker = &w;
	log_init("worker", conf->log_debug);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	mallopt(M_TRIM_THRESHOLD, MALLOC_TRIM);
	mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP);
	notify_worker_init(slot);
	for (i = 0; i < (int)nhooks; i++)
		if (hooks[i].worker_start != NULL)
			hooks[i].worker_start(slot);
	srandom((unsigned)(time(NULL) ^ getpid()));

	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	/* Restore our signal handling over libfcgi's. */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);

	if (store_open(w.db_path, &st, &e) == -1 ||
	    store_meta_get(st, "cluster_id", &cid, &e) == -1)
		fatalx("worker: %s", e.msg);
	snprintf(w.cluster_id, sizeof(w.cluster_id), "%s", cid ? cid : "");
	free(cid);
	if (store_load_shared(st, &e) == -1)
		fatalx("worker: %s", e.msg);
	store_close(st);

	/* Only this thread takes SIGTERM: threads inherit the block. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	blocking_start(&w);
	if (slot == 0 && store_checkpointer(w.db_path) == -1)
		log_warnx("worker: no checkpointer; commits will checkpoint");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	outbound_start(&w, &attr);
	th = xcalloc((size_t)conf->threads, sizeof(*th));
	for (i = 0; i < conf->threads; i++)
		if (pthread_create(&th[i], &attr, accept_thread, &w) != 0)
			fatalx("worker: pthread_create");
	log_info("worker %d started with %d threads", slot, conf->threads);
	sigdelset(&old, SIGTERM);
	sigdelset(&old, SIGINT);
	while (!w.draining)
		sigsuspend(&old);
	log_info("worker %d draining", slot);
	conn_drain(&w);
	blocking_stop();	/* parked queries answered now */
	for (waited = 0; atomic_load(&w.nconn) > 0 && waited < DRAIN_CONN_MS;
	    waited += DRAIN_POLL_MS)
		usleep(DRAIN_POLL_MS * 1000);
	if (atomic_load(&w.nconn) > 0)
		log_info("worker %d: %d connections still open, closing",
		    slot, atomic_load(&w.nconn));
	w.drained = 1;
	for (i = 0; i < conf->threads; i++)
		pthread_join(th[i], NULL);
	outbound_stop(&w);	/* nothing is handed off any more */
	log_info("worker %d stopped", slot);
	exit(0);
}
