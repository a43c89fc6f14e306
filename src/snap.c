/*
 * snap.c -- per-worker snapshots (snap.h).
 *
 * Hot paths (authorize, roots, token resolution, intention check) read
 * an immutable snapshot instead of the store.  Whether it is current is
 * a read of the shared-memory indexes (store.c), so a hit costs a mutex
 * and an atomic increment.  A reader keeps its reference until it is
 * done, so a snapshot being replaced is freed by whoever drops the last
 * reference.
 *
 * Misses are single-flight: one thread of the worker builds the next
 * snapshot of a slot (handing the loader the current one, so that it
 * can patch it with what changed rather than read everything), and the
 * threads that miss meanwhile either wait for it or are answered from
 * the snapshot it replaces.  The old one is at most the writes of one
 * build behind; Consul's agent cache behaves the same way: it answers
 * from its last value while a background blocking query fetches the
 * next one (agent/cache, "background refresh"), and its ACL token cache
 * lets a changed token stand for up to token_ttl.  A thread is answered
 * from the old snapshot only when all of these hold:
 *
 *   - its request allows it (snap_may_serve_old(), set per request by
 *     http.c: reads without ?index= and ?consistent; the default, for
 *     every other caller, is to wait);
 *   - the build has run for less than SNAP_OLD_MAX_MS;
 *   - the old snapshot holds every write this worker committed to the
 *     slot's tables (store_index_local()): a client that wrote through
 *     this worker reads its write on the next request, whichever thread
 *     serves it.  A client whose next request reaches another worker
 *     while that worker is rebuilding may be answered from the
 *     previous snapshot, for at most one build.
 *
 * When there is no snapshot yet, everyone waits for the first build.
 *
 * While the database cannot be used ("store unavailable": stopped,
 * failing over, unreachable), a miss serves the slot's last snapshot,
 * stale, rather than an error, so authorize, intention checks, roots
 * and token resolution keep answering through an outage as they did
 * before it; the next build after it replaces it.  A worker that never
 * built one has nothing to serve and answers the error.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "portcullis.h"
#include "metrics.h"
#include "snap.h"
#include "store.h"
#include "util.h"

/* Whether this thread's request may be answered from an old snapshot. */
static __thread int	may_serve_old;

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
 * Set whether the calling thread's current request may be answered
 * from the snapshot a build is replacing (see the file comment).
 */
void
snap_may_serve_old(int yes)
{
	may_serve_old = yes;
}

/* With slot->mtx held: whether this thread may use old, see above. */
static int
old_ok(const struct snap_slot *slot, const struct snap *old)
{
	return may_serve_old && old != NULL &&
	    mono_ms() - slot->building_ms < SNAP_OLD_MAX_MS &&
	    old->index >= store_index_local(slot->watch);
}

/*
 * A reference to slot's current snapshot, built first by load(st, arg,
 * index, base, ...) when the slot's tables moved past it (one build at
 * a time; see the file comment).  Release it with snap_put().  Returns
 * 0, or -1 with load's error.
 */
int
snap_get(struct snap_slot *slot, struct store *st, snap_load_fn load,
    void *arg, struct snap **out, struct perr *e)
{
	struct snap	*s, *base, *old = NULL;
	uint64_t	 idx;
	int		 rc;

	idx = store_index_max(slot->watch);
	pthread_mutex_lock(&slot->mtx);
	for (;;) {
		if ((s = slot->cur) != NULL && s->index >= idx) {
			snap_ref(s);
			pthread_mutex_unlock(&slot->mtx);
			*out = s;
			return 0;
		}
		if (!slot->building)
			break;
		if (old_ok(slot, s)) {
			snap_ref(s);
			pthread_mutex_unlock(&slot->mtx);
			*out = s;
			return 0;
		}
		pthread_cond_wait(&slot->built, &slot->mtx);
	}
	slot->building = 1;
	slot->building_ms = mono_ms();
	if ((base = slot->cur) != NULL)
		snap_ref(base);
	pthread_mutex_unlock(&slot->mtx);

	s = NULL;
	rc = load(st, arg, idx, base, &s, e);
	snap_put(base);
	if (rc == 0) {
		__atomic_store_n(&slot->stale, 0, __ATOMIC_RELAXED);
		metrics_inc(MET_SNAPSHOT_REBUILD);
		if (s->incremental)
			metrics_inc(MET_SNAPSHOT_INCREMENTAL);
		s->index = idx;
		s->refs = 2;		/* the caller's and the slot's */
	}
	pthread_mutex_lock(&slot->mtx);
	slot->building = 0;
	if (rc == 0 && (slot->cur == NULL || slot->cur->index < s->index)) {
		old = slot->cur;
		slot->cur = s;
	} else if (rc == 0)
		s->refs--;	/* not while single-flight; kept safe */
	pthread_cond_broadcast(&slot->built);
	if (rc == -1 && (s = slot->cur) != NULL)
		snap_ref(s);
	pthread_mutex_unlock(&slot->mtx);
	snap_put(old);
	if (rc == 0) {
		*out = s;
		return 0;
	}

	if (s == NULL || strncmp(e->msg, STORE_UNAVAILABLE,
	    strlen(STORE_UNAVAILABLE)) != 0) {
		snap_put(s);
		return -1;
	}
	if (!__atomic_exchange_n(&slot->stale, 1, __ATOMIC_RELAXED))
		log_warnx("snapshot at index %llu served stale: %s",
		    (unsigned long long)s->index, e->msg);
	perr_clear(e);
	*out = s;
	return 0;
}

/*
 * Whether a snapshot at index since can be patched from the changes
 * after it: every tombstone after it is still kept (the reaper's
 * horizon, sql/012-snap-tombstones.sql).  Returns 1, 0 (read it whole),
 * or -1 (500).
 */
int
snap_patchable(struct store *st, uint64_t since, struct perr *e)
{
	struct store_q	*q;
	int64_t		 h = INT64_MAX;
	int		 rc;

	if ((q = store_stmt(st, SQL_SNAP_HORIZON)) == NULL)
		return perr_set(e, 500, "internal store error");
	if ((rc = store_step(st, q, e)) == 1)
		h = store_col_int(q, 0);
	store_reset(q);
	if (rc == -1)
		return -1;
	return h <= (int64_t)since;
}

/*
 * Call fn(arg, key) for the key of every row of table t deleted after
 * index since (a tombstone).  Returns 0 or -1 (500).
 */
int
snap_tombstones(struct store *st, enum table t, uint64_t since,
    void (*fn)(void *, const char *), void *arg, struct perr *e)
{
	struct store_q	*q;
	int		 rc;

	if ((q = store_stmt(st, SQL_SNAP_TOMBSTONES)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(q, ":idx", (int64_t)since);
	store_bind_text(q, ":tbl", store_table_name(t));
	while ((rc = store_step(st, q, e)) == 1)
		fn(arg, store_col_text(q, 0));
	store_reset(q);
	return rc;
}
