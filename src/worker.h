/*
 * worker.h -- a worker process: accept threads, one blocking thread,
 * a pool of outbound threads.
 */
#ifndef WORKER_H
#define WORKER_H

#include "portcullis.h"
#include "req.h"

struct conf;
struct store;

extern struct worker	*the_worker;

void		 worker_main(struct conf *, int, int)
		    __attribute__((noreturn));
struct req	*worker_req_new(struct worker *, struct store *, void *);
void		 worker_finish(struct req *);
int		 worker_outbound(struct req *, struct perr *) PC_MUSTCHECK;

#endif /* WORKER_H */
