/*
 * worker.h -- a worker process: accept threads, one blocking thread,
 * a pool of outbound threads.
 */
#ifndef WORKER_H
#define WORKER_H

#include <pthread.h>

#include "portcullis.h"

/* Outbound pool (R_OUTBOUND routes), per worker: threads, queue slots. */
#define WORKER_OUTBOUND_THREADS	16
#define WORKER_OUTBOUND_QUEUE	64

struct conf;
struct req;
struct store;

struct worker {
	struct conf	*conf;
	int		 slot;
	int		 listen_fd;
	int		 ep;		/* epoll: listen_fd + idle kept conns */
	_Atomic unsigned char *idle;	/* [fd]: 1 while fd waits, kept */
	int		 nidle;		/* fds idle[] covers */
	_Atomic int	 nconn;		/* connections open, kept or busy */
	volatile int	 drained;	/* drain over: accept threads stop */
	char		 cluster_id[64];
	char		*db_path;	/* <data_dir>/portcullis.db */
	volatile int	 draining;	/* SIGTERM: __atomic_* */

	/* Outbound pool: requests waiting in ob_q, run by ob_th. */
	pthread_mutex_t	 ob_mtx;
	pthread_cond_t	 ob_cond;
	struct req	*ob_q[WORKER_OUTBOUND_QUEUE];	/* ring */
	int		 ob_head, ob_n;
	int		 ob_stop;	/* drained: threads exit when empty */
	pthread_t	 ob_th[WORKER_OUTBOUND_THREADS];
};

extern struct worker	*the_worker;

void		 worker_main(struct conf *, int, int)
		    __attribute__((noreturn));
struct req	*worker_req_new(struct worker *, struct store *, void *);
void		 worker_finish(struct req *);
int		 worker_outbound(struct req *, struct perr *) PC_MUSTCHECK;

#endif /* WORKER_H */
