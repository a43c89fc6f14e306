/*
 * worker.c -- a worker process: several accept threads serving
 * requests through http_dispatch(), and one blocking thread
 * (blocking.c) holding parked blocking queries.
 *
 * Accepting: the master's listening socket is non-blocking; each accept
 * thread waits on its own epoll set with EPOLLEXCLUSIVE (so one
 * connection wakes one thread, not every thread of every worker) and
 * then calls FCGX_Accept_r(), which returns -EAGAIN when another thread
 * won the race.  A fresh FCGX_Request per connection lets a blocking
 * query be parked while the thread goes back to accepting; no mutex
 * around FCGX_Accept_r (that collapsed throughput when measured).
 *
 * Signals: libfcgi installs handlers of its own in FCGX_Init(); we put
 * ours back.  SIGTERM drains: stop accepting, finish in-flight
 * requests, answer parked blocking queries with current data, exit 0.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/prctl.h>

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "portcullis.h"
#include "blocking.h"
#include "conf.h"
#include "http.h"
#include "notify.h"
#include "store.h"
#include "worker.h"

#define ACCEPT_POLL_MS	200
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

static void
on_term(int sig)
{
	(void)sig;
	if (the_worker != NULL)
		the_worker->draining = 1;
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
	FCGX_Request	*fr = req->fcgi;

	fr->detached = 1;
	FCGX_Finish_r(fr);
	free(fr);
	json_object_put(req->reply);
	json_object_put(req->json);
	arena_free(req->arena);
}

static void *
accept_thread(void *arg)
{
	struct worker		*w = arg;
	struct epoll_event	 ev;
	struct store		*st;
	struct perr		 e;
	FCGX_Request		*fr = NULL;
	int			 ep, n;

	if (store_open(w->db_path, &st, &e) == -1)
		fatalx("worker: %s", e.msg);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("worker: epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, w->listen_fd, &ev) == -1)
		fatal("worker: epoll_ctl");
	while (!w->draining) {
		n = epoll_wait(ep, &ev, 1, ACCEPT_POLL_MS);
		if (n <= 0)
			continue;
		if (fr == NULL) {
			fr = xmalloc(sizeof(*fr));
			if (FCGX_InitRequest(fr, w->listen_fd, 0) != 0)
				fatalx("worker: FCGX_InitRequest");
		}
		if (FCGX_Accept_r(fr) < 0)
			continue;	/* -EAGAIN: another thread took it */
		http_dispatch(worker_req_new(w, st, fr));
		fr = NULL;
	}
	free(fr);
	close(ep);
	store_close(st);
	return NULL;
}

/*
 * Run worker slot on the inherited listening socket.  Never returns.
 */
void
worker_main(struct conf *conf, int slot, int listen_fd)
{
	struct worker		 w;
	struct sigaction	 sa;
	sigset_t		 block, old;
	struct store		*st;
	struct perr		 e;
	pthread_t		*th;
	pthread_attr_t		 attr;
	char			*cid = NULL;
	int			 i;

	memset(&w, 0, sizeof(w));
	w.conf = conf;
	w.slot = slot;
	w.listen_fd = listen_fd;
	xasprintf(&w.db_path, "%s/portcullis.db", conf->data_dir);
	the_worker = &w;
	log_init("worker", conf->log_debug);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	mallopt(M_TRIM_THRESHOLD, MALLOC_TRIM);
	mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP);
	notify_worker_init(slot);
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
	for (i = 0; i < conf->threads; i++)
		pthread_join(th[i], NULL);
	blocking_stop();
	log_info("worker %d stopped", slot);
	exit(0);
}
