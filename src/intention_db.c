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

static void
snap_free(struct snap *hdr)
{
	struct ixn_snap	*s = (struct ixn_snap *)hdr;
	size_t		 i;

	for (i = 0; i < s->n; i++)
		intention_db_ixn_clear(&s->v[i]);
	free(s->v);
	free(s->by_name);
	free(s);
}

/*
 * The snapshot loader (snap_load_fn) of intention.c's slot: every
 * intention in evaluation order into a new struct ixn_snap, whose
 * hdr.free releases it.  Returns 0, or -1 (500).
 */
int
intention_db_snap_load(struct store *st, void *arg, uint64_t idx,
    struct snap **out, struct perr *e)
{
	struct ixn_snap	*s;
	struct store_q	*q;
	size_t		 cap = 16;
	int		 rc;

	(void)arg;
	(void)idx;
	if ((q = store_stmt(st, SQL_INTENTION_ALL)) == NULL)
		return perr_set(e, 500, "internal store error");
	s = xcalloc(1, sizeof(*s));
	s->hdr.free = snap_free;
	s->v = xcalloc(cap, sizeof(*s->v));
	while ((rc = store_step(st, q, e)) == 1) {
		if (s->n == cap) {
			cap *= 2;
			s->v = xrealloc(s->v, cap * sizeof(*s->v));
		}
		ixn_from_row(&s->v[s->n++], q);
	}
	store_reset(q);
	if (rc == -1) {
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
		if (store_col_text(st, 0) != NULL)
			en->meta = arena_strdup(req->arena,
			    store_col_text(st, 0));
		en->nsources = (size_t)store_col_int(st, 3);
		en->nonlegacy = en->nsources -
		    (size_t)store_col_int(st, 4);
		en->with_legacy_meta = (size_t)store_col_int(st, 5);
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
		if (store_col_text(st, 2) != NULL)
			en->meta = arena_strdup(req->arena,
			    store_col_text(st, 2));
		en->nsources = (size_t)store_col_int(st, 3);
		en->nonlegacy = en->nsources -
		    (size_t)store_col_int(st, 4);
		en->with_legacy_meta = (size_t)store_col_int(st, 5);
	}
	store_reset(st);
	return rc == 1 ? 0 : -1;
}
