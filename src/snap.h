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
#include "store.h"

/* The header every snapshot type embeds as its first member. */
struct snap {
	int		 refs;		/* atomic */
	uint64_t	 index;		/* max index of the slot's tables */
	void		(*free)(struct snap *);
	int		 incremental;	/* set by a loader that patched base */
};

/* Where a family keeps its current snapshot. */
struct snap_slot {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 built;		/* a build ended (signals waiters) */
	unsigned int	 watch;		/* TBIT(TBL_x) | ... */
	struct snap	*cur;
	int		 stale;		/* serving cur stale (logged once) */
	int		 building;	/* one thread is building the next */
	int64_t		 building_ms;	/* since when (mono_ms()) */
};

#define SNAP_SLOT(watch)	{ PTHREAD_MUTEX_INITIALIZER, \
	PTHREAD_COND_INITIALIZER, (watch), NULL, 0, 0, 0 }

/*
 * How long a build may run while other threads are still answered from
 * the snapshot it replaces; past it they wait for it (snap.c).
 */
#define SNAP_OLD_MAX_MS		1000

/*
 * Build a snapshot of the tables as of index (at least); sets ->free.
 * base, when not NULL, is the slot's current snapshot (older than
 * index, borrowed): a loader may build the new one from it and the
 * rows changed since base->index, and says so in ->incremental.
 */
typedef int	(*snap_load_fn)(struct store *, void *, uint64_t,
		    const struct snap *, struct snap **, struct perr *);

int	snap_get(struct snap_slot *, struct store *, snap_load_fn, void *,
	    struct snap **, struct perr *) PC_MUSTCHECK;
void	snap_put(struct snap *);
void	snap_ref(struct snap *);
void	snap_may_serve_old(int);
int	snap_patchable(struct store *, uint64_t, struct perr *)
	    PC_MUSTCHECK;
int	snap_tombstones(struct store *, enum table, uint64_t,
	    void (*)(void *, const char *), void *, struct perr *)
	    PC_MUSTCHECK;

#endif /* SNAP_H */
