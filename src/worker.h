/*
 * worker.h -- a worker process: accept threads, one blocking thread.
 */
#ifndef WORKER_H
#define WORKER_H

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
};

extern struct worker	*the_worker;

void		 worker_main(struct conf *, int, int)
		    __attribute__((noreturn));
struct req	*worker_req_new(struct worker *, struct store *, void *);
void		 worker_finish(struct req *);

#endif /* WORKER_H */
