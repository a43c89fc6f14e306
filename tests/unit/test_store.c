/*
 * test_store.c -- migrations, the statement API of store.h (binding by
 * name, columns by index, NULLs, rows changed, constraint failures),
 * write transactions and indexes, checkpoints, file modes.
 */
#include "config.h"

#include <sys/stat.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portcullis.h"
#include "audit.h"
#include "intention_db.h"
#include "req.h"
#include "store.h"
#include "store_be.h"
#include "tap.h"

/*
 * Another node's commit announcement (store_pg.c's NOTIFY payload)
 * raises the tables it names and the global index, never lowers any,
 * and a malformed one changes nothing.
 */
static void
test_notified(void)
{
	uint64_t	in = store_index(TBL_INTENTIONS);

	ok(store_notified("1000000 ca-roots,acl-tokens") == 1000000 &&
	    store_index(TBL_CA_ROOTS) == 1000000 &&
	    store_index(TBL_ACL_TOKENS) == 1000000 &&
	    store_index(TBL_RAFT) == 1000000 &&
	    store_index(TBL_INTENTIONS) == in,
	    "an announcement raises its tables and the global index only");
	ok(store_notified("7 ca-roots") == 7 &&
	    store_index(TBL_CA_ROOTS) == 1000000 &&
	    store_index(TBL_RAFT) == 1000000,
	    "an older announcement lowers nothing");
	ok(store_notified("x ca-roots") == 0 && store_notified("12abc") == 0 &&
	    store_notified("") == 0 && store_index(TBL_RAFT) == 1000000,
	    "a malformed announcement is ignored");
	ok(store_notified("1000001 nosuch,,ca-config") == 1000001 &&
	    store_index(TBL_CA_CONFIG) == 1000001 &&
	    store_index(TBL_RAFT) == 1000001,
	    "unknown table names are skipped");
}

/*
 * Commits never checkpoint by themselves (store.c); store_checkpoint()
 * copies the WAL back, and once the WAL is past its catch-up size
 * (STORE_CKPT_CATCHUP frames) rewinds it: the next commit starts at
 * its beginning.
 */
static void
test_checkpoints(const char *path, struct store *s)
{
	struct store	*ck, *rd;
	struct perr	 e;
	struct store_q	*st;
	char		 k[32], *v = NULL;
	time_t		 t0;
	int		 i, n, before, after, failed = 0;

	ok(store_open(path, &ck, &e) == 0 && store_open(path, &rd, &e) == 0,
	    "checkpoint and reader connections");
	before = store_checkpoint(ck);
	ok(before >= 0, "a checkpoint pass reports the WAL size (%d)",
	    before);
	/* A reader with a statement open: a passive pass must not wait. */
	st = store_stmt(rd, SQL_INDEX_ALL);
	ok(st != NULL && store_step(rd, st, &e) == 1, "reader mid-query");
	/* ~3 frames a commit: past the catch-up size, below the emergency */
	for (i = 0; i < STORE_CKPT_CATCHUP * 2 / 3 && !failed; i++) {
		snprintf(k, sizeof(k), "key-%d", i);
		failed = store_begin(s, &e) == -1 ||
		    store_meta_put(s, k, "a value of some length, to fill "
		    "pages of the WAL a little faster than a single byte", &e)
		    == -1 || store_commit(s, &e) == -1;
	}
	ok(!failed, "%d commits", i);
	t0 = time(NULL);
	n = store_checkpoint(ck);
	ok(n >= STORE_CKPT_CATCHUP, "commits grew the WAL past the catch-up "
	    "size (%d frames): none checkpointed it", n);
	ok(time(NULL) - t0 <= 2, "a reader holding the WAL does not stall "
	    "the catch-up pass (and the writers behind it)");
	store_reset(st);
	ok(store_checkpoint(ck) >= STORE_CKPT_CATCHUP, "with the reader gone, "
	    "the catch-up pass completes");
	ok(store_begin(s, &e) == 0 && store_meta_put(s, "after", "x",
	    &e) == 0 && store_commit(s, &e) == 0, "one more commit");
	after = store_checkpoint(ck);
	ok(after >= 0 && after < 16, "after the catch-up pass the next "
	    "commit rewound the WAL (%d frames)", after);
	ok(store_meta_get(rd, "after", &v, &e) == 0 && v != NULL &&
	    strcmp(v, "x") == 0, "another connection reads the last commit");
	free(v);
	store_close(rd);
	store_close(ck);
}

struct row {
	char	*name;
	int64_t	 idx;
};

static void
row_fill(void *out, struct store_q *q)
{
	struct row	*r = out;

	r->name = store_col_dup(q, 1);
	r->idx = store_col_int(q, 6);
}

static int
leaf_insert(struct store *s, int64_t serial, const char *service,
    struct perr *e)
{
	struct store_q	*q;
	int		 rc;

	if ((q = store_stmt(s, SQL_CA_LEAF_INSERT)) == NULL)
		return -2;
	store_bind_int(q, ":serial", serial);
	store_bind_text(q, ":service", service);
	store_bind_text(q, ":uri", "spiffe://x/svc/web");
	store_bind_int(q, ":nb", 1);
	store_bind_int(q, ":na", 2);
	store_bind_text(q, ":root", "r");
	store_bind_int(q, ":idx", (int64_t)store_tx_index(s));
	rc = store_step(s, q, e);
	store_reset(q);
	return rc;
}

/*
 * The statement API the handlers use, the same on every backend: one
 * cached handle per query, parameters by name, columns by index, NULL
 * both ways, rows changed, constraint failures told apart.
 */
static void
test_statements(struct store *s)
{
	struct store_q	*q, *q2;
	struct perr	 e;
	struct row	 r = { NULL, 0 };
	uint64_t	 idx, before;
	int		 found, deleted, rc;

	perr_clear(&e);
	q = store_stmt(s, SQL_ACL_POLICY_GET);
	q2 = store_stmt(s, SQL_ACL_POLICY_GET);
	ok(q != NULL && q == q2, "a query's handle is cached: the same one "
	    "each time, not prepared per request");

	ok(store_begin(s, &e) == 0, "begin");
	idx = store_tx_index(s);
	q = store_stmt(s, SQL_ACL_POLICY_UPSERT);
	store_bind_text(q, ":id", "0c3f1a52-0000-4000-8000-000000000001");
	store_bind_text(q, ":name", "p-one");
	store_bind_text(q, ":description", "");
	store_bind_text(q, ":rules", "");
	store_bind_null(q, ":datacenters");
	store_bind_text(q, ":hash", "h");
	store_bind_int(q, ":idx", (int64_t)idx);
	ok(store_step(s, q, &e) == STORE_DONE, "a write steps to done");
	is_int(store_changes(q), 1, "one row changed");
	store_touch(s, TBL_ACL_POLICIES);
	ok(store_commit(s, &e) == 0, "commit");

	q = store_stmt(s, SQL_ACL_POLICY_GET);
	store_bind_text(q, ":id", "0C3F1A52-0000-4000-8000-000000000001");
	ok(store_step(s, q, &e) == STORE_ROW, "the row reads back");
	is_str(store_col_text(q, 1), "p-one", "text column by index");
	ok(store_col_isnull(q, 4) && store_col_text(q, 4) == NULL &&
	    store_col_dup(q, 4) == NULL, "a NULL bound with store_bind_null "
	    "reads back as NULL");
	ok(!store_col_isnull(q, 3) && store_col_text(q, 3) != NULL &&
	    *store_col_text(q, 3) == '\0', "an empty string is not NULL");
	is_int(store_col_int(q, 6), (int64_t)idx, "int64 column by index "
	    "(the write's modify index)");
	ok(store_step(s, q, &e) == STORE_DONE, "one row only");
	store_reset(q);

	ok(store_get_row(s, SQL_ACL_POLICY_GET, ":id",
	    "0c3f1a52-0000-4000-8000-000000000001", row_fill, &r, &found,
	    &e) == 0 && found && r.name != NULL &&
	    strcmp(r.name, "p-one") == 0 && r.idx == (int64_t)idx,
	    "store_get_row fills from the row");
	free(r.name);
	ok(store_get_row(s, SQL_ACL_POLICY_GET, ":id", "nope", row_fill, &r,
	    &found, &e) == 0 && !found, "store_get_row: no row, not an "
	    "error");

	/* A cursor left mid-way is ended by store_reset(). */
	q = store_stmt(s, SQL_INDEX_ALL);
	ok(store_step(s, q, &e) == STORE_ROW, "first of several rows");
	store_reset(q);
	ok(store_begin(s, &e) == 0 && store_meta_put(s, "r", "1", &e) == 0 &&
	    store_commit(s, &e) == 0, "a write after a reset cursor");

	/* Constraint failures: told apart, the transaction still whole. */
	ok(store_begin(s, &e) == 0, "begin");
	ok(leaf_insert(s, 77, "web", &e) == STORE_DONE, "insert a row");
	perr_clear(&e);
	rc = leaf_insert(s, 77, "web", &e);
	ok(rc == STORE_ERR && store_conflict(s), "a duplicate key fails as "
	    "a conflict");
	ok(e.status == 500 && strcmp(e.msg, "internal store error") == 0,
	    "with the generic 500 (%d %s)", e.status, e.msg);
	if (store_backend() == STORE_POSTGRES) {
		/* A refused statement aborted it (below): a new one. */
		store_rollback(s);
		ok(store_begin(s, &e) == 0, "postgres: begin again");
	}
	perr_clear(&e);
	rc = leaf_insert(s, 78, NULL, &e);
	ok(rc == STORE_ERR && store_conflict(s), "text bound as a NULL "
	    "pointer is SQL NULL: into NOT NULL it fails as a conflict");
	perr_clear(&e);
	if (store_backend() == STORE_SQLITE)
		ok(leaf_insert(s, 79, "db", &e) == STORE_DONE, "sqlite: the "
		    "transaction goes on after a refused statement");
	else
		ok(leaf_insert(s, 79, "db", &e) == STORE_ERR &&
		    e.status == 500, "postgres: a refused statement ends the "
		    "transaction (the caller rolls back)");
	store_rollback(s);
	ok(store_begin(s, &e) == 0 && leaf_insert(s, 80, "db", &e) ==
	    STORE_DONE && store_commit(s, &e) == 0, "after the rollback the "
	    "connection writes again");

	/* store_delete_row: the index moves only when a row went. */
	before = store_index(TBL_ACL_POLICIES);
	ok(store_delete_row(s, SQL_ACL_POLICY_DELETE, ":id", "nope",
	    TBL_ACL_POLICIES, &deleted, &e) == 0 && !deleted &&
	    store_index(TBL_ACL_POLICIES) == before, "deleting no row writes "
	    "nothing");
	ok(store_delete_row(s, SQL_ACL_POLICY_DELETE, ":id",
	    "0c3f1a52-0000-4000-8000-000000000001", TBL_ACL_POLICIES,
	    &deleted, &e) == 0 && deleted &&
	    store_index(TBL_ACL_POLICIES) > before, "deleting a row moves "
	    "the table's index");
}

/*
 * What every backend must do: migrations, transactions and the global
 * index across connections, the statement API.  path: the SQLite file
 * (ignored by PostgreSQL).  Returns the open store.
 */
static struct store *
test_core(const char *path)
{
	struct store	*s, *s2;
	struct perr	 e;
	char		*v;
	uint64_t	 i1, i2;

	perr_clear(&e);
	s = NULL;
	ok(store_open(path, &s, &e) == 0, "open");
	if (s == NULL) {
		/* nothing below can run: say why and stop (no NULL store) */
		fprintf(stdout, "Bail out! cannot open %s: %s\n",
		    store_backend() == STORE_POSTGRES ? "PostgreSQL" : path,
		    e.msg);
		exit(1);
	}
	ok(store_migrate(s, &e) == 0, "migrate");
	ok(store_migrate(s, &e) == 0, "migrating twice is a no-op");
	ok(store_prepare_all(s, &e) == 0, "every query in sql/queries "
	    "prepares against the schema");
	ok(store_load_shared(s, &e) == 0, "load indexes");
	i1 = store_index(TBL_RAFT);

	ok(store_begin(s, &e) == 0, "begin");
	ok(store_tx_index(s) == i1 + 1, "transaction gets the next index");
	ok(store_meta_put(s, "k", "v", &e) == 0, "meta put");
	store_touch(s, TBL_INTENTIONS);
	ok(store_commit(s, &e) == 0, "commit");
	is_int(store_index(TBL_RAFT), i1 + 1, "global index moved by one");
	is_int(store_index(TBL_INTENTIONS), i1 + 1, "touched table index");

	ok(store_begin(s, &e) == 0, "begin again");
	ok(store_meta_put(s, "k", "other", &e) == 0, "meta put");
	store_rollback(s);
	ok(store_meta_get(s, "k", &v, &e) == 0 && v && strcmp(v, "v") == 0,
	    "rollback left the old value");
	free(v);
	ok(store_meta_get(s, "missing", &v, &e) == 0 && v == NULL,
	    "missing key is NULL, not an error");

	/* A second connection (another thread or worker) sees commits. */
	ok(store_open(path, &s2, &e) == 0, "second connection");
	ok(store_begin(s2, &e) == 0, "second writer");
	i2 = store_tx_index(s2);
	ok(i2 == i1 + 3 || i2 == i1 + 2, "index keeps growing across "
	    "connections (rollback consumed none)");
	ok(store_commit(s2, &e) == 0, "commit");
	store_close(s2);

	test_statements(s);
	return s;
}

struct writer {
	struct store	*s;
	uint64_t	 idx;
	int		 rc;
};

static void *
writer(void *arg)
{
	struct writer	*w = arg;
	struct perr	 e;

	perr_clear(&e);
	w->rc = store_begin(w->s, &e) == 0 &&
	    store_meta_put(w->s, "order", "b", &e) == 0 ? 0 : -1;
	w->idx = store_tx_index(w->s);
	if (w->rc == 0)
		w->rc = store_commit(w->s, &e);
	return NULL;
}

/*
 * PostgreSQL: a writer that begins while another holds its transaction
 * open waits for it, so indexes are taken in commit order; a schema
 * newer than the binary is refused with a message.
 */
static void
test_pg(struct store *s, const char *dsn)
{
	struct store	*s2;
	struct perr	 e;
	struct writer	 w;
	pthread_t	 t;
	struct timespec	 ts = { 0, 200 * 1000000L };
	uint64_t	 first;
	char		*v = NULL;

	perr_clear(&e);
	ok(store_open(dsn, &s2, &e) == 0, "postgres: a second connection");
	ok(store_begin(s, &e) == 0, "postgres: writer A begins");
	first = store_tx_index(s);
	w.s = s2;
	w.rc = -2;
	ok(pthread_create(&t, NULL, writer, &w) == 0, "writer B starts");
	nanosleep(&ts, NULL);
	ok(w.rc == -2, "writer B waits while A's transaction is open");
	ok(store_meta_put(s, "order", "a", &e) == 0 &&
	    store_commit(s, &e) == 0, "A commits");
	pthread_join(t, NULL);
	ok(w.rc == 0 && w.idx == first + 1, "B then commits with the next "
	    "index (%llu after %llu): index order is commit order",
	    (unsigned long long)w.idx, (unsigned long long)first);
	ok(store_meta_get(s, "order", &v, &e) == 0 && v != NULL &&
	    strcmp(v, "b") == 0, "B's write is the last one");
	free(v);
	ok(store_index(TBL_RAFT) >= w.idx, "the shared index page knows "
	    "B's commit");

	store_close(s2);
}

/* The chain head's seq (audit_head), or -1. */
static int64_t
audit_seq(struct store *s)
{
	struct store_q	*q;
	struct perr	 e;
	int64_t		 v = -1;

	perr_clear(&e);
	if ((q = store_stmt(s, SQL_AUDIT_HEAD_GET)) != NULL &&
	    store_step(s, q, &e) == STORE_ROW)
		v = store_col_int(q, 0);
	if (q != NULL)
		store_reset(q);
	return v;
}

/*
 * The audit hook of store_commit(): a commit touching an audited table
 * appends one record, a rollback or a commit of unaudited tables none,
 * a failed login one of its own; the chain verifies.
 */
static void
test_audit(struct store *s)
{
	struct store_q	*q;
	struct perr	 e;
	FILE		*null;
	int64_t		 n;

	perr_clear(&e);
	null = fopen("/dev/null", "w");
	n = audit_seq(s);
	ok(n >= 0, "audit: the chain head exists (seq %lld)", (long long)n);
	ok(store_begin(s, &e) == 0 && store_meta_put(s, "k", "v", &e) == 0 &&
	    store_commit(s, &e) == 0 && audit_seq(s) == n,
	    "audit: a commit of unaudited tables records nothing");
	ok(store_begin(s, &e) == 0, "audit: begin");
	store_touch_id(s, TBL_ACL_POLICIES, "p-1");
	store_rollback(s);
	ok(audit_seq(s) == n, "audit: a rollback records nothing");
	ok(store_begin(s, &e) == 0, "audit: begin again");
	store_touch_id(s, TBL_ACL_POLICIES, "p-1");
	store_touch_id(s, TBL_ACL_ROLES, "r-1");
	ok(store_commit(s, &e) == 0 && audit_seq(s) == n + 1,
	    "audit: a commit touching two audited tables records once");
	store_audit_ctx(s, "acc-1", "127.0.0.9", "POST", "/v1/acl/login");
	audit_failure(s, "m-1", 403);
	audit_failure(s, "m-1", 429);
	store_audit_ctx(s, NULL, NULL, NULL, NULL);
	ok(audit_seq(s) == n + 2, "audit: a failed login records once, a "
	    "rate-limited one not");
	q = store_stmt(s, SQL_AUDIT_LIST);
	store_bind_int(q, ":after", n);
	store_bind_int(q, ":limit", 10);
	ok(store_step(s, q, &e) == STORE_ROW &&
	    strcmp(store_col_text(q, 8), "acl-policies") == 0 &&
	    strcmp(store_col_text(q, 9), "p-1") == 0 &&
	    strcmp(store_col_text(q, 4), "") == 0,
	    "audit: the first object named is the one recorded");
	ok(store_step(s, q, &e) == STORE_ROW &&
	    strcmp(store_col_text(q, 8), "login") == 0 &&
	    strcmp(store_col_text(q, 9), "m-1") == 0 &&
	    strcmp(store_col_text(q, 4), "acc-1") == 0 &&
	    strcmp(store_col_text(q, 5), "127.0.0.9") == 0 &&
	    strcmp(store_col_text(q, 10), "failed: 403") == 0,
	    "audit: the failed login's record carries its context");
	store_reset(q);
	ok(audit_verify(s, null) == 0, "audit: the chain verifies");
	fclose(null);
}

/* The intention row source -> dest for intention_db_row_upsert(). */
static void
ixn_row(struct ixn_row *r, const char *dest, const char *source)
{
	memset(r, 0, sizeof(*r));
	r->dest = dest;
	r->source = source;
	r->action = "allow";
	r->description = "";
	r->source_type = "consul";
}

/*
 * What PUT intentions/exact runs (intention.c): one read, then the
 * entry and intention upserts, deferred (store_defer()), and the audit
 * record.  On PostgreSQL that is two round trips in all, each under
 * the write lock -- the read, with the transaction's start in front of
 * it (which reads the audit head), and the commit carrying the writes
 * and the record (and the flush and the index refresh after its
 * COMMIT) -- where it took nine and one, and then three.  A deferred write is seen by
 * the transaction's next read, and one that fails fails the commit:
 * nothing of the transaction stays, no record either.
 */
static void
test_deferred(struct store *s, int pg)
{
	struct req	 req;
	struct ixn_entry en;
	struct ixn_row	 r;
	struct perr	 e;
	uint64_t	 rt0, idx;
	size_t		 pos = 99;
	int64_t		 n;
	int		 rc;

	perr_clear(&e);
	memset(&req, 0, sizeof(req));
	req.arena = arena_new();
	req.store = s;
	n = audit_seq(s);
	rt0 = store_roundtrips(s);
	ok(store_begin(s, &e) == 0 && intention_db_put_read(&req, "rt-db",
	    "rt-web", &pos, &en, &e) == 0 && pos == 0 && !en.exists,
	    "deferred: a by-name write's read (no entry yet)");
	idx = store_tx_index(s);
	ixn_row(&r, "rt-db", "rt-web");
	ok(intention_db_entry_touch(&req, "rt-db", NULL, &e) == 0 &&
	    intention_db_row_upsert(&req, &r, &e) == 0 &&
	    store_commit(s, &e) == 0, "deferred: its writes commit (%s)",
	    e.msg);
	if (pg)
		is_int((long long)(store_roundtrips(s) - rt0), 2, "postgres: "
		    "a by-name intention write takes 2 round trips");
	else
		is_int((long long)store_roundtrips(s), 0, "sqlite: no round "
		    "trips");
	ok(audit_seq(s) == n + 1, "deferred: the write has its audit record");
	ok(store_index(TBL_INTENTIONS) >= idx && store_index(TBL_RAFT) >= idx,
	    "deferred: the shared index page knows the commit");

	ok(store_begin(s, &e) == 0 && intention_db_put_read(&req, "rt-db",
	    "rt-web2", &pos, &en, &e) == 0 && pos == 1 && en.exists &&
	    en.nsources == 1, "deferred: the next write reads what it wrote "
	    "(position %zu, %zu sources)", pos, en.nsources);
	ok(intention_db_entry_touch(&req, "rt-new", NULL, &e) == 0 &&
	    intention_db_put_read(&req, "rt-new", "rt-web", &pos, &en, &e) ==
	    0 && en.exists, "deferred: a deferred write is seen by the "
	    "transaction's next read");
	store_rollback(s);
	ok(store_begin(s, &e) == 0 && intention_db_put_read(&req, "rt-new",
	    "rt-web", &pos, &en, &e) == 0 && !en.exists, "deferred: a "
	    "rollback drops it");
	store_rollback(s);

	/* No entry for the row: its foreign key refuses it. */
	ixn_row(&r, "rt-none", "rt-web");
	ok(store_begin(s, &e) == 0, "deferred: begin");
	store_touch_id(s, TBL_INTENTIONS, "rt-none");
	rc = intention_db_row_upsert(&req, &r, &e);
	if (rc == 0)
		rc = store_commit(s, &e);
	else
		store_rollback(s);
	ok(rc == -1 && e.status == 500, "deferred: a write that fails fails "
	    "the transaction (%s)", e.msg);
	ok(!s->in_tx && audit_seq(s) == n + 1, "deferred: no record of it");
	perr_clear(&e);
	ok(store_begin(s, &e) == 0 && store_meta_put(s, "after", "x", &e) ==
	    0 && store_commit(s, &e) == 0, "deferred: the connection works "
	    "after it (%s)", e.msg);
	arena_free(req.arena);
}

/*
 * Five write transactions on s, one meta row each; returns how many
 * committed, and in *covered whether the shared page's 'synced' covered
 * each one's index when store_commit() returned.
 */
static int
commit_five(struct store *s, int *covered, struct perr *e)
{
	uint64_t	 idx;
	int		 i;

	*covered = 1;
	for (i = 0; i < 5; i++) {
		if (store_begin(s, e) == -1)
			break;
		idx = store_tx_index(s);
		if (store_meta_put(s, "durable", "x", e) == -1 ||
		    store_commit(s, e) == -1)
			break;
		if (store_shared->synced < idx)
			*covered = 0;
	}
	return i;
}

/*
 * SQLite, sync "full" (the default): store_commit() returns only once
 * the WAL holds the commit on disk (the shared page's 'synced' covers
 * its index), and it took an fsync; sync "normal" takes none.
 */
static void
test_durable(struct store *s)
{
	struct perr	 e;
	uint64_t	 f0, d0;
	int		 i, covered;

	perr_clear(&e);
	f0 = store_shared->fsyncs;
	d0 = store_shared->durable;
	i = commit_five(s, &covered, &e);
	ok(i == 5, "five commits");
	ok(covered, "each commit was on disk when store_commit() returned");
	is_int(store_shared->fsyncs - f0, 5, "one writer: an fsync per commit "
	    "(nobody else's covered it)");
	is_int(store_shared->durable - d0, 5, "five durable commits counted");
	store_set_sync(0);
	f0 = store_shared->fsyncs;
	ok(store_begin(s, &e) == 0 && store_meta_put(s, "durable", "y", &e) ==
	    0 && store_commit(s, &e) == 0, "a commit with sync \"normal\"");
	is_int(store_shared->fsyncs - f0, 0, "sync \"normal\" takes no fsync");
	store_set_sync(1);
}

static int
run_psql(const char *dsn, const char *sql)
{
	char	cmd[1024];

	snprintf(cmd, sizeof(cmd), "psql -X -q -d '%s' -c '%s' >/dev/null",
	    dsn, sql);
	return system(cmd);
}

/* One by-name write's read, rolled back: its round trips; *okay if it read. */
static uint64_t
replan_read(struct store *s, struct req *req, int *okay, struct perr *e)
{
	struct ixn_entry en;
	uint64_t	 rt0 = store_roundtrips(s);
	size_t		 pos = 99;

	*okay = store_begin(s, e) == 0 && intention_db_put_read(req, "rt-db",
	    "rt-web", &pos, &en, e) == 0 && en.exists;
	store_rollback(s);
	return store_roundtrips(s) - rt0;
}

/*
 * A connection makes its plans again once the store's index has doubled
 * since it made them (store_pg.c, replan(): generic plans made while a
 * table was tiny seq-scan it for ever): one DISCARD PLANS round trip
 * before the next statement outside a transaction, then none until the
 * index doubles again; the prepared statements stay and still answer.
 */
static void
test_pg_replan(struct store *s)
{
	struct req	 req;
	struct perr	 e;
	uint64_t	 base, rt;
	int		 okay;

	perr_clear(&e);
	memset(&req, 0, sizeof(req));
	req.arena = arena_new();
	req.store = s;
	base = replan_read(s, &req, &okay, &e);
	ok(okay, "replan: a by-name write's read (%s)", e.msg);
	/* Other nodes' writes, as their notifications raise the index. */
	store_shared->idx[TBL_INTENTIONS] = 2 * store_index_max(~0u) + 1000;
	rt = replan_read(s, &req, &okay, &e);
	ok(okay, "replan: the same read after the store doubled (%s)", e.msg);
	is_int((long long)(rt - base), 1, "postgres: the first transaction "
	    "after the index doubled makes its plans again (one round trip "
	    "more)");
	rt = replan_read(s, &req, &okay, &e);
	is_int((long long)(rt - base), 0, "postgres: the next one does not");
	arena_free(req.arena);
}

/*
 * PostgreSQL: the write commits asynchronously and store_commit()
 * returns once a flush transaction after it has committed (the shared
 * page's 'synced' covers its index, one flush and one durable commit
 * counted each).  A flush that fails after a COMMIT that succeeded
 * leaves the write visible and answers 500 "may or may not have been
 * committed": here the flush's function is shadowed by one that fails,
 * for a connection whose search_path puts public first.
 */
static void
test_pg_durable(struct store *s, const char *dsn)
{
	struct store	*s2;
	struct perr	 e;
	uint64_t	 f0, d0;
	char		 dsn2[1024], *v = NULL;
	int		 i, covered;

	perr_clear(&e);
	f0 = store_shared->fsyncs;
	d0 = store_shared->durable;
	i = commit_five(s, &covered, &e);
	ok(i == 5, "postgres: five commits (%s)", e.msg);
	ok(covered, "postgres: each commit's flush was done when "
	    "store_commit() returned");
	is_int(store_shared->fsyncs - f0, 5, "postgres: a flush per commit");
	is_int(store_shared->durable - d0, 5, "postgres: five durable commits "
	    "counted");

	ok(run_psql(dsn, "CREATE FUNCTION public.pg_logical_emit_message("
	    "boolean, text, text) RETURNS pg_lsn LANGUAGE plpgsql AS "
	    "$$BEGIN RAISE division_by_zero; END$$") == 0,
	    "postgres: a flush that fails, for search_path public first");
	snprintf(dsn2, sizeof(dsn2), "%s options=-csearch_path=public,"
	    "pg_catalog", dsn);
	store_configure(STORE_POSTGRES, dsn2);
	ok(store_open(dsn2, &s2, &e) == 0, "postgres: a connection that "
	    "finds it");
	store_configure(STORE_POSTGRES, dsn);
	d0 = store_shared->durable;
	ok(store_begin(s2, &e) == 0 && store_meta_put(s2, "durable",
	    "unflushed", &e) == 0, "postgres: a write");
	ok(store_commit(s2, &e) == -1 && e.status == 500 && strstr(e.msg,
	    "may or may not have been committed") != NULL, "postgres: its "
	    "flush fails: 500, the outcome unknown (%s)", e.msg);
	is_int(store_shared->durable - d0, 0, "postgres: not counted durable");
	perr_clear(&e);
	ok(store_meta_get(s, "durable", &v, &e) == 0 && v != NULL &&
	    strcmp(v, "unflushed") == 0, "postgres: the COMMIT itself "
	    "succeeded: the write is visible");
	free(v);
	store_close(s2);
	ok(run_psql(dsn, "DROP FUNCTION public.pg_logical_emit_message("
	    "boolean, text, text)") == 0, "postgres: the flush works again");
}

int
main(void)
{
	struct store	*s;
	struct perr	 e;
	struct stat	 sb;
	char		 dir[] = "/tmp/pc-store-XXXXXX", path[256];
	const char	*dsn;
	char		 sql[128];
	int		 n;

	umask(077);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/test.db", dir);
	printf("# sqlite\n");
	s = test_core(path);
	test_audit(s);
	test_deferred(s, 0);
	test_durable(s);
	test_checkpoints(path, s);

	ok(stat(path, &sb) == 0 && (sb.st_mode & 077) == 0,
	    "database file is 0600 (mode %o)", sb.st_mode & 0777);
	snprintf(path, sizeof(path), "%s/test.db-wal", dir);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 077) == 0,
	    "WAL file is 0600");
	test_notified();
	store_close(s);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		return 1;

	/* The same on PostgreSQL, on a fresh database test.sh made. */
	if ((dsn = getenv("PORTCULLIS_TEST_PG_DSN")) == NULL || *dsn == '\0') {
		printf("ok %d - # SKIP postgres: PORTCULLIS_TEST_PG_DSN unset\n",
		    ++tap_n);
		return tap_done();
	}
	printf("# postgres\n");
	store_configure(STORE_POSTGRES, dsn);
	memset((void *)store_shared->idx, 0, sizeof(store_shared->idx));
	s = test_core(dsn);
	test_audit(s);
	test_deferred(s, 1);
	test_pg(s, dsn);
	test_pg_durable(s, dsn);
	test_pg_replan(s);
	perr_clear(&e);
	ok(run_psql(dsn, "UPDATE portcullis_schema SET version = 99") == 0,
	    "postgres: the schema moves past this binary");
	ok(store_migrate(s, &e) == -1 && strstr(e.msg, "schema is at "
	    "version 99") != NULL, "a binary older than the schema refuses "
	    "it and says why (%s)", e.msg);
	for (n = 0; sql_pg_migrations[n] != NULL; n++)
		;
	snprintf(sql, sizeof(sql), "UPDATE portcullis_schema SET version = %d",
	    n);
	ok(run_psql(dsn, sql) == 0, "schema restored");
	ok(store_migrate(s, &e) == 0, "and accepted again");
	store_close(s);
	return tap_done();
}
