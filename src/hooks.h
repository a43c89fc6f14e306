/*
 * hooks.h -- the process lifecycle work of the families, in one const
 * table (hooks.c), so the pipeline (main.c, worker.c) runs it without
 * naming a family: the start-up twin of THE routing table.
 */
#ifndef HOOKS_H
#define HOOKS_H

#include "portcullis.h"

struct conf;
struct store;

struct hook {
	const char	*name;		/* for the fatal message */

	/*
	 * Master, once, in table order before the first fork: the store
	 * is open, migrated and has its cluster ID.  0 or -1 (fatal).
	 */
	int		(*boot)(struct store *, const struct conf *,
			    struct perr *);
	/* A worker process at start, before it serves (its slot). */
	void		(*worker_start)(int);
	/* Master, once it has reaped the worker of slot (its pid). */
	void		(*worker_gone)(int, int);
};

extern const struct hook	hooks[];
extern const size_t		nhooks;

#endif /* HOOKS_H */
