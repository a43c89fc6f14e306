/*
 * snap.c -- per-worker snapshots (snap.h).
 *
 * Hot paths (authorize, roots, token resolution, intention check) read
 * an immutable snapshot instead of SQLite.  Whether it is current is a
 * read of the shared-memory indexes (store.c), so a hit costs a mutex
 * and an atomic increment; a miss builds a new snapshot outside the
 * lock and installs it unless another thread installed a newer one.
 * A reader keeps its reference until it is done, so a snapshot being
 * replaced is freed by whoever drops the last reference.
 *
 * While the database cannot be used ("store unavailable": stopped,
 * failing over, unreachable), a miss serves the slot's last snapshot,
 * stale, rather than an error, so authorize, intention checks, roots
 * and token resolution keep answering through an outage as they did
 * before it; the next build after it replaces it.  A worker that never
 * built one has nothing to serve and answers the error.
 */
#include "config.h"

#include <string.h>

#include "portcullis.h"
#include "metrics.h"
#include "snap.h"
#include "store.h"

void
snap_ref(struct snap *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

/* Release a reference; the last one frees the snapshot.  NULL is fine. */
void
snap_put(struct snap *s)
{
	if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
		s->free(s);
}

/*
 * A reference to slot's current snapshot, built first by load(st, arg,
 * index, ...) when the slot's tables moved past it.  Release it with
 * snap_put().  Returns 0, or -1 with load's error.
 */
int
snap_get(struct snap_slot *slot, struct store *st, snap_load_fn load,
    void *arg, struct snap **out, struct perr *e)
{
	struct snap	*s, *old = NULL;
	uint64_t	 idx;

	idx = store_index_max(slot->watch);
	pthread_mutex_lock(&slot->mtx);
	if ((s = slot->cur) != NULL && s->index >= idx) {
		snap_ref(s);
		pthread_mutex_unlock(&slot->mtx);
		*out = s;
		return 0;
	}
	pthread_mutex_unlock(&slot->mtx);

	if (load(st, arg, idx, &s, e) == -1) {
		if (strncmp(e->msg, STORE_UNAVAILABLE,
		    strlen(STORE_UNAVAILABLE)) != 0)
			return -1;
		pthread_mutex_lock(&slot->mtx);
		if ((s = slot->cur) != NULL)
			snap_ref(s);
		pthread_mutex_unlock(&slot->mtx);
		if (s == NULL)
			return -1;
		if (!__atomic_exchange_n(&slot->stale, 1, __ATOMIC_RELAXED))
			log_warnx("snapshot at index %llu served stale: %s",
			    (unsigned long long)s->index, e->msg);
		perr_clear(e);
		*out = s;
		return 0;
	}
	__atomic_store_n(&slot->stale, 0, __ATOMIC_RELAXED);
	metrics_inc(MET_SNAPSHOT_REBUILD);
	s->index = idx;
	s->refs = 2;		/* the caller's and the slot's */
	pthread_mutex_lock(&slot->mtx);
	if (slot->cur == NULL || slot->cur->index < s->index) {
		old = slot->cur;
		slot->cur = s;
	} else
		s->refs--;	/* another thread installed one as new */
	pthread_mutex_unlock(&slot->mtx);
	snap_put(old);
	*out = s;
	return 0;
}
