/*
 * intention_db.c -- the store half of the Connect intentions API
 * (intention.c holds validation, the snapshot slot and the handlers):
 * the queries of sql/queries/intention.sql on the connection's prepared
 * statements (store.c).
 *
 *   snapshot   every intention in evaluation order, and by name, for
 *              the per-worker snapshot intention.c keeps (snap.h);
 *   entries    the config entry of one destination (Meta, counts);
 *   rows       one intention: read by legacy ID or names, upsert,
 *              delete, its position in its entry, legacy IDs cleared.
 *
 * Writes run inside the caller's transaction (store_begin() ...
 * store_commit() in intention.c) and mark the intentions table touched.
 * Those whose outcome nobody looks at are deferred (store_defer()): on
 * PostgreSQL they travel with the COMMIT, or with the next read.
 */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"
#include "req.h"
#include "intention.h"
#include "intention_db.h"
#include "snap.h"
#include "store.h"

/* ---------------------------------------------------------------- */
/* The snapshot.                                                      */

/* Fill x from a row of the intention_* queries (fixed column order). */
static void
ixn_from_row(struct ixn *x, struct store_q *st)
{
	memset(x, 0, sizeof(*x));
	x->dest_name = store_col_dup(st, 0);
	x->source_name = store_col_dup(st, 1);
	x->source_peer = store_col_dup(st, 2);
	x->action = store_col_dup(st, 3);
	x->permissions = store_col_dup(st, 4);
	x->description = store_col_dup(st, 5);
	x->source_type = store_col_dup(st, 6);
	x->precedence = (int)store_col_int(st, 7);
	x->id = store_col_dup(st, 8);
	/* A legacy intention's Meta is its own; otherwise the entry's. */
	x->meta = x->id != NULL ? store_col_dup(st, 9) : store_col_dup(st, 12);
	x->created_at = store_col_dup(st, 10);
	x->updated_at = store_col_dup(st, 11);
	x->create_index = (uint64_t)store_col_int(st, 13);
	x->modify_index = (uint64_t)store_col_int(st, 14);
}

/*
 * Free the strings of an intention read from the store (a snapshot's
 * or intention_db_row_get()'s); x itself is the caller's.
 */
void
intention_db_ixn_clear(struct ixn *x)
{
	free(x->id);
	free(x->description);
	free(x->source_name);
	free(x->source_peer);
	free(x->dest_name);
	free(x->source_type);
	free(x->action);
	free(x->permissions);
	free(x->meta);
	free(x->created_at);
	free(x->updated_at);
}

/* Drop a snapshot's hold on x; the last one frees it. */
static void
ixn_put(struct ixn *x)
{
	if (__atomic_sub_fetch(&x->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		intention_db_ixn_clear(x);
		free(x);
	}
}

static void
snap_free(struct snap *hdr)
{
	struct ixn_snap	*s = (struct ixn_snap *)hdr;
	size_t		 i;

	for (i = 0; i < s->n; i++)
		ixn_put(s->v[i]);
	free(s->v);
	free(s->by_name);
	free(s);
}

/* Step through q (bound), appending each row to *v (*n of *cap). */
static int
read_ixns(struct store *st, struct store_q *q, struct ixn ***v, size_t *n,
    size_t *cap, struct perr *e)
{
	struct ixn	*x;
	int		 rc;

	while ((rc = store_step(st, q, e)) == 1) {
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*v = xrealloc(*v, *cap * sizeof(**v));
		}
		x = xmalloc(sizeof(*x));
		ixn_from_row(x, q);
		x->refs = 1;
		(*v)[(*n)++] = x;
	}
	store_reset(q);
	return rc;
}

/* Evaluation order: intention_all's ORDER BY, bytewise as its collation. */
static int
eval_cmp(const struct ixn *a, const struct ixn *b)
{
	int	c;

	if (a->precedence != b->precedence)
		return a->precedence > b->precedence ? -1 : 1;
	if ((c = strcmp(a->source_peer, b->source_peer)) != 0 ||
	    (c = strcmp(a->source_name, b->source_name)) != 0)
		return c;
	return strcmp(a->dest_name, b->dest_name);
}

static int
eval_qcmp(const void *a, const void *b)
{
	return eval_cmp(*(const struct ixn *const *)a,
	    *(const struct ixn *const *)b);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A set of destination names: sorted, searched with bsearch(). */
struct dests {
	char	**v;
	size_t	  n, cap;
};

static void
dests_add(void *arg, const char *name)
{
	struct dests	*d = arg;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	d->v[d->n++] = xstrdup(name);
}

static void
dests_free(struct dests *d)
{
	size_t	i;

	for (i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
}

/*
 * The intentions of base a patch replaces, as a set of pointers (open
 * addressing): found by destination in by_name, so filtering base's two
 * orders costs a hash probe per intention, no string comparison.
 */
struct gone {
	const struct ixn **v;
	size_t		   mask;
};

static size_t
gone_slot(const struct gone *g, const struct ixn *x)
{
	return ((uintptr_t)x >> 4) * 0x9e3779b97f4a7c15ULL >> 17 & g->mask;
}

static void
gone_put(struct gone *g, const struct ixn *x)
{
	size_t	i;

	for (i = gone_slot(g, x); g->v[i] != NULL; i = (i + 1) & g->mask)
		;
	g->v[i] = x;
}

static int
gone_has(const struct gone *g, const struct ixn *x)
{
	size_t	i;

	if (g->v == NULL)
		return 0;
	for (i = gone_slot(g, x); g->v[i] != NULL; i = (i + 1) & g->mask)
		if (g->v[i] == x)
			return 1;
	return 0;
}

/* Where dest's intentions sit in base->by_name: [*lo, return). */
static size_t
dest_range(const struct ixn_snap *base, const char *dest, size_t *lo)
{
	size_t	l = 0, h = base->n, mid;

	while (l < h) {
		mid = l + (h - l) / 2;
		if (strcmp(base->by_name[mid]->dest_name, dest) < 0)
			l = mid + 1;
		else
			h = mid;
	}
	*lo = l;
	while (h < base->n && strcmp(base->by_name[h]->dest_name, dest) == 0)
		h++;
	return h;
}

/* The set of base's intentions to the destinations in d (sorted). */
static void
gone_fill(struct gone *g, const struct ixn_snap *base, const struct dests *d)
{
	size_t	k, lo, hi, n = 0, cap;

	memset(g, 0, sizeof(*g));
	for (k = 0; k < d->n; k++)
		if (k == 0 || strcmp(d->v[k], d->v[k - 1]) != 0)
			n += dest_range(base, d->v[k], &lo) - lo;
	if (n == 0)
		return;
	for (cap = 16; cap < 2 * n + 1; cap *= 2)
		;
	g->v = xcalloc(cap, sizeof(*g->v));
	g->mask = cap - 1;
	for (k = 0; k < d->n; k++)
		if (k == 0 || strcmp(d->v[k], d->v[k - 1]) != 0)
			for (hi = dest_range(base, d->v[k], &lo); lo < hi; lo++)
				gone_put(g, base->by_name[lo]);
}

/*
 * The first position in [from, n) of v, sorted by cmp, whose element
 * is not before x.
 */
static size_t
lower(struct ixn *const *v, size_t from, size_t n, const struct ixn *x,
    int (*cmp)(const struct ixn *, const struct ixn *))
{
	size_t	mid;

	while (from < n) {
		mid = from + (n - from) / 2;
		if (cmp(v[mid], x) < 0)
			from = mid + 1;
		else
			n = mid;
	}
	return from;
}

static int
name_order(const struct ixn *a, const struct ixn *b)
{
	return ixn_by_name_cmp(&a, &b);
}

/*
 * Merge base's v (order cmp) less the gone with the new nv (nn, same
 * order) into out; returns how many.  The kept ones get a reference
 * when ref.  Runs between new rows are found by binary search.
 */
static size_t
merge(struct ixn **out, struct ixn *const *v, size_t n, const struct gone *g,
    struct ixn *const *nv, size_t nn, int ref,
    int (*cmp)(const struct ixn *, const struct ixn *))
{
	size_t	i = 0, j, end, k = 0;

	for (j = 0; j <= nn; j++) {
		end = j < nn ? lower(v, i, n, nv[j], cmp) : n;
		for (; i < end; i++) {
			if (gone_has(g, v[i]))
				continue;
			if (ref)
				__atomic_add_fetch(&v[i]->refs, 1,
				    __ATOMIC_RELAXED);
			out[k++] = v[i];
		}
		if (j < nn)
			out[k++] = nv[j];
	}
	return k;
}

/*
 * Patch base into *out: the destinations whose entry moved past
 * base's index (or went: a tombstone) lose their intentions, which come
 * back from the rows read now.  Every other intention is shared with
 * base; both orders are merges.  Returns 0, 1 when base cannot be
 * patched (too old, or too much changed: read everything), -1 (500).
 */
static int
snap_patch(struct store *st, const struct ixn_snap *base, struct ixn_snap **out,
    struct perr *e)
{
	struct ixn_snap	*s;
	struct ixn	**nv = NULL, **nb;
	struct store_q	*q;
	struct dests	 d;
	struct gone	 g;
	size_t		 nn = 0, cap = 0, i, k;
	uint64_t	 since = base->hdr.index;
	int		 rc;

	if ((rc = snap_patchable(st, since, e)) != 1)
		return rc == 0 ? 1 : -1;
	memset(&d, 0, sizeof(d));
	if ((q = store_stmt(st, SQL_INTENTION_SINCE)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(q, ":idx", (int64_t)since);
	if (read_ixns(st, q, &nv, &nn, &cap, e) == -1)
		goto fail;
	if (nn > 0)
		qsort(nv, nn, sizeof(*nv), eval_qcmp);
	/* Every destination read is replaced, whatever moved meanwhile. */
	for (i = 0; i < nn; i++)
		dests_add(&d, nv[i]->dest_name);
	if ((q = store_stmt(st, SQL_INTENTION_ENTRIES_SINCE)) == NULL) {
		perr_set(e, 500, "internal store error");
		goto fail;
	}
	store_bind_int(q, ":idx", (int64_t)since);
	while ((rc = store_step(st, q, e)) == 1)
		dests_add(&d, store_col_text(q, 0));
	store_reset(q);
	if (rc == -1 || snap_tombstones(st, TBL_INTENTIONS, since, dests_add,
	    &d, e) == -1)
		goto fail;
	if (d.n > base->n / 4 + 16) {
		rc = 1;		/* a full read is as cheap */
		goto out;
	}
	qsort(d.v, d.n, sizeof(*d.v), str_cmp);

	gone_fill(&g, base, &d);
	s = xcalloc(1, sizeof(*s));
	s->hdr.free = snap_free;
	s->hdr.incremental = 1;
	s->v = xcalloc(base->n + nn + 1, sizeof(*s->v));
	s->n = merge(s->v, base->v, base->n, &g, nv, nn, 1, eval_cmp);
	/* by_name: base's, less the replaced, merged with the new sorted. */
	nb = xcalloc(nn + 1, sizeof(*nb));
	memcpy(nb, nv, nn * sizeof(*nb));
	qsort(nb, nn, sizeof(*nb), ixn_by_name_cmp);
	s->by_name = xcalloc(s->n + 1, sizeof(*s->by_name));
	k = merge(s->by_name, base->by_name, base->n, &g, nb, nn, 0,
	    name_order);
	free(g.v);
	assert(k == s->n);
	free(nb);
	free(nv);
	dests_free(&d);
	*out = s;
	return 0;
fail:
	rc = -1;
out:
	for (i = 0; i < nn; i++)
		ixn_put(nv[i]);
	free(nv);
	dests_free(&d);
	return rc;
}

/*
 * The snapshot loader (snap_load_fn) of intention.c's slot: every
 * intention in evaluation order into a new struct ixn_snap, whose
 * hdr.free releases it; patched from base (snap_patch()) when there
 * is one and it can be.  Returns 0, or -1 (500).
 */
int
intention_db_snap_load(struct store *st, void *arg, uint64_t idx,
    const struct snap *base, struct snap **out, struct perr *e)
{
	struct ixn_snap	*s = NULL;
	struct store_q	*q;
	size_t		 cap = 0;
	int		 rc;

	(void)arg;
	(void)idx;
	if (base != NULL) {
		if ((rc = snap_patch(st, (const struct ixn_snap *)base, &s,
		    e)) == -1)
			return -1;
		if (rc == 0) {
			*out = &s->hdr;
			return 0;
		}
	}
	if ((q = store_stmt(st, SQL_INTENTION_ALL)) == NULL)
		return perr_set(e, 500, "internal store error");
	s = xcalloc(1, sizeof(*s));
	s->hdr.free = snap_free;
	if (read_ixns(st, q, &s->v, &s->n, &cap, e) == -1) {
		snap_free(&s->hdr);
		return -1;
	}
	ixn_snap_index(s);
	*out = &s->hdr;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Store functions (inside the caller's write transaction).           */

/*
 * The entry's columns of intention_entry_get and intention_put_read:
 * its Meta at column meta (copied into the request's arena), then the
 * three source counts at columns 3-5.
 */
static void
entry_cols(struct req *req, struct store_q *st, int meta,
    struct ixn_entry *en)
{
	if (store_col_text(st, meta) != NULL)
		en->meta = arena_strdup(req->arena, store_col_text(st, meta));
	en->nsources = (size_t)store_col_int(st, 3);
	en->nonlegacy = en->nsources - (size_t)store_col_int(st, 4);
	en->with_legacy_meta = (size_t)store_col_int(st, 5);
}

/*
 * Read dest's config entry into *en (exists 0 when there is none; Meta
 * copied into the request's arena).  Returns 0 or -1 (500).
 */
int
intention_db_entry_load(struct req *req, const char *dest,
    struct ixn_entry *en, struct perr *e)
{
	struct store_q	*st;
	int		 rc;

	memset(en, 0, sizeof(*en));
	if ((st = store_stmt(req->store, SQL_INTENTION_ENTRY_GET)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":dest", dest);
	if ((rc = store_step(req->store, st, e)) == 1) {
		en->exists = 1;
		entry_cols(req, st, 0, en);
	}
	store_reset(st);
	return rc < 0 ? -1 : 0;
}

/*
 * Bump (or create) the entry for dest, with Meta meta (JSON text or
 * NULL): its ModifyIndex moves.  Returns 0 or -1 (500).
 */
int
intention_db_entry_touch(struct req *req, const char *dest, const char *meta,
    struct perr *e)
{
	struct store_q	*st;

	if ((st = store_stmt(req->store, SQL_INTENTION_ENTRY_UPSERT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":dest", dest);
	store_bind_text(st, ":meta", meta);
	store_bind_int(st, ":idx", (int64_t)store_tx_index(req->store));
	if (store_defer(req->store, st, e) == -1)
		return -1;
	store_touch_id(req->store, TBL_INTENTIONS, dest);
	return 0;
}

/*
 * After a delete: drop dest's entry if empty, else bump it.  Returns 0
 * or -1 (500).
 */
int
intention_db_entry_after_delete(struct req *req, const char *dest,
    struct perr *e)
{
	struct ixn_entry en;
	struct store_q	*st;

	if ((st = store_stmt(req->store,
	    SQL_INTENTION_ENTRY_DELETE_IF_EMPTY)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":dest", dest);
	if (store_step(req->store, st, e) < 0)
		return -1;
	store_touch_id(req->store, TBL_INTENTIONS, dest);
	if (intention_db_entry_load(req, dest, &en, e) == -1)
		return -1;
	return en.exists ? intention_db_entry_touch(req, dest, en.meta, e) : 0;
}

/*
 * A by-name write turns dest's whole entry into a non-legacy one:
 * strip the legacy IDs of all its intentions.  Returns 0 or -1 (500).
 */
int
intention_db_clear_legacy(struct req *req, const char *dest, struct perr *e)
{
	struct store_q	*st;

	if ((st = store_stmt(req->store, SQL_INTENTION_CLEAR_LEGACY)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":dest", dest);
	return store_defer(req->store, st, e);
}

/*
 * Insert or replace the intention r (its precedence computed from its
 * names).  Returns 0 or -1 (500).
 */
int
intention_db_row_upsert(struct req *req, const struct ixn_row *r,
    struct perr *e)
{
	struct store_q	*st;

	if ((st = store_stmt(req->store, SQL_INTENTION_UPSERT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":dest", r->dest);
	store_bind_text(st, ":source", r->source);
	store_bind_text(st, ":peer", r->peer ? r->peer : "");
	store_bind_text(st, ":action", r->action);
	store_bind_text(st, ":permissions", r->permissions);
	store_bind_text(st, ":description", r->description);
	store_bind_text(st, ":source_type", r->source_type);
	store_bind_int(st, ":precedence",
	    intention_precedence(r->source, r->dest));
	store_bind_text(st, ":legacy_id", r->legacy_id);
	store_bind_text(st, ":legacy_meta", r->legacy_meta);
	store_bind_text(st, ":created_at", r->created_at);
	store_bind_text(st, ":updated_at", r->updated_at);
	return store_defer(req->store, st, e);
}

/*
 * Delete the intention source (of peer) -> dest; *deleted says whether
 * there was one.  Returns 0 or -1 (500).
 */
int
intention_db_row_delete(struct req *req, const char *dest, const char *source,
    const char *peer, int *deleted, struct perr *e)
{
	struct store_q	*st;

	if ((st = store_stmt(req->store, SQL_INTENTION_DELETE_EXACT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":dest", dest);
	store_bind_text(st, ":source", source);
	store_bind_text(st, ":peer", peer);
	if (store_step(req->store, st, e) < 0)
		return -1;
	*deleted = store_changes(st) > 0;
	return 0;
}

/*
 * Load one intention by legacy ID or (id NULL) by local names into *x
 * (release with intention_db_ixn_clear()); *found 0 when absent.
 * Returns 0 or -1 (500).
 */
int
intention_db_row_get(struct req *req, const char *id, const char *dest,
    const char *source, struct ixn *x, int *found, struct perr *e)
{
	struct store_q	*st;
	int		 rc;

	st = store_stmt(req->store, id ? SQL_INTENTION_GET_ID :
	    SQL_INTENTION_GET_EXACT);
	if (st == NULL)
		return perr_set(e, 500, "internal store error");
	if (id != NULL)
		store_bind_text(st, ":id", id);
	else {
		store_bind_text(st, ":dest", dest);
		store_bind_text(st, ":source", source);
		store_bind_text(st, ":peer", "");
	}
	*found = 0;
	if ((rc = store_step(req->store, st, e)) == 1) {
		ixn_from_row(x, st);
		*found = 1;
	}
	store_reset(st);
	return rc < 0 ? -1 : 0;
}

/*
 * What a by-name write of source -> dest reads first, in one statement:
 * the position source would take in dest's entry (precedence, then
 * name) into *pos, for Consul's "Sources[i]" texts -- indexed counts,
 * not a snapshot reload: a write must not cost O(all intentions) --
 * and the entry into *en, as intention_db_entry_load().  Returns 0, or
 * -1 (500).
 */
int
intention_db_put_read(struct req *req, const char *dest, const char *source,
    size_t *pos, struct ixn_entry *en, struct perr *e)
{
	struct store_q	*st;
	int		 rc;

	memset(en, 0, sizeof(*en));
	if ((st = store_stmt(req->store, SQL_INTENTION_PUT_READ)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":dest", dest);
	store_bind_text(st, ":source", source);
	store_bind_int(st, ":prec", intention_precedence(source, dest));
	if ((rc = store_step(req->store, st, e)) == 1) {
		*pos = (size_t)store_col_int(st, 0);
		en->exists = store_col_int(st, 1) != 0;
		entry_cols(req, st, 2, en);
	}
	store_reset(st);
	return rc == 1 ? 0 : -1;
}
