/*
 * snap.h -- per-worker snapshots: immutable data built from the store
 * and replaced whole when the modify index of the tables it came from
 * moves.  Readers hold a reference while they use one.
 */
#ifndef SNAP_H
#define SNAP_H

#include <pthread.h>
#include <stdint.h>

#include "portcullis.h"

struct store;

/* The header every snapshot type embeds as its first member. */
struct snap {
	int		 refs;		/* atomic */
	uint64_t	 index;		/* max index of the slot's tables */
	void		(*free)(struct snap *);
};

/* Where a family keeps its current snapshot. */
struct snap_slot {
	pthread_mutex_t	 mtx;
	unsigned int	 watch;		/* TBIT(TBL_x) | ... */
	struct snap	*cur;
	int		 stale;		/* serving cur stale (logged once) */
};

#define SNAP_SLOT(watch)	{ PTHREAD_MUTEX_INITIALIZER, (watch), NULL, 0 }

/* Build a snapshot of the tables as of index (at least); sets ->free. */
typedef int	(*snap_load_fn)(struct store *, void *, uint64_t,
		    struct snap **, struct perr *);

int	snap_get(struct snap_slot *, struct store *, snap_load_fn, void *,
	    struct snap **, struct perr *) PC_MUSTCHECK;
void	snap_put(struct snap *);
void	snap_ref(struct snap *);

#endif /* SNAP_H */
