/*
 * store.c -- the generic store: the shared index page and what is
 * built on the statement API alone (single-row reads and deletes,
 * meta keys, the table indexes) and the dispatch to the backend the
 * configuration chose (store_sqlite.c, store_pg.c; store_be.h).  No
 * driver is named here, nor any family's type.
 */
#include "config.h"

#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"
#include "metrics.h"
#include "audit.h"
#include "notify.h"
#include "store.h"
#include "store_be.h"
#include "util.h"

struct shared	*store_shared;

static enum store_backend	 backend = STORE_SQLITE;
static const struct store_ops	*be = &store_sqlite_ops;
static char			*be_dsn;	/* secret: never logged */
static int			 sync_full = 1;	/* store { sync = "full" } */

/* The master's watch connection (store_watch_start()). */
#define WATCH_POLL_MS		1000	/* the safety net's period */
#define WATCH_RETRY_MAX_MS	2000	/* reconnect back-off cap: a node
					   misses others' commits meanwhile */
static struct store		*watch;
static int			 watching;	/* the backend can watch */
static int64_t			 watch_poll_at;	/* next safety-net reload */
static int64_t			 watch_retry_at; /* next reconnect try */
static int64_t			 watch_backoff = WATCH_POLL_MS;

static const char *const table_names[TBL__MAX] = {
	[TBL_RAFT] = "raft",
	[TBL_INTENTIONS] = "intentions",
	[TBL_ACL_TOKENS] = "acl-tokens",
	[TBL_ACL_POLICIES] = "acl-policies",
	[TBL_ACL_ROLES] = "acl-roles",
	[TBL_ACL_BINDING_RULES] = "acl-binding-rules",
	[TBL_ACL_AUTH_METHODS] = "acl-auth-methods",
	[TBL_CA_ROOTS] = "ca-roots",
	[TBL_CA_CONFIG] = "ca-config",
	[TBL_CA_LEAVES] = "ca-leaves",
	[TBL_CA_REVOKED] = "ca-revocations",
	[TBL_AUDIT] = "audit",
};

/*
 * Map the shared index page.  Called once by the master before it
 * forks; a process that never calls it (unit tests) gets a private one.
 */
void
store_shared_init(void)
{
	void	*p;

	if (store_shared != NULL)
		return;
	be->init();
	p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("mmap shared index");
	store_shared = p;
	if (sem_init(&store_shared->pg_gate, 1, STORE_PG_WRITERS) == -1)
		fatal("sem_init writer gate");
}

/*
 * This process's worker slot (store_worker_start()); NOTIFY_MAX_WORKERS
 * (pg_gate_held's last entry): the master, unit tests.
 */
int	store_slot = NOTIFY_MAX_WORKERS;

/* Worker start-up hook (hooks.c): remember our slot for the gate. */
void
store_worker_start(int slot)
{
	if (slot >= 0 && slot < NOTIFY_MAX_WORKERS)
		store_slot = slot;
}

/*
 * Master, once it has reaped the worker of slot: give back the writer
 * gate entries it held (or was waiting for: an entry is counted before
 * it is taken and after it is given back, so a worker killed at any
 * point leaves the gate at worst one entry wider, never narrower).
 * Returns how many.
 */
int64_t
store_worker_gone(int slot)
{
	int64_t	held, i;

	if (store_shared == NULL || slot < 0 || slot >= NOTIFY_MAX_WORKERS)
		return 0;
	held = __atomic_exchange_n(&store_shared->pg_gate_held[slot], 0,
	    __ATOMIC_SEQ_CST);
	for (i = 0; i < held; i++)
		sem_post(&store_shared->pg_gate);
	return held;
}

/*
 * Choose the backend for every store_open() of this process (and of
 * its children): STORE_SQLITE (the default) opens the path given to
 * store_open(); STORE_POSTGRES ignores it and connects with dsn (a
 * libpq conninfo string or URI, copied; it may hold a password, so it
 * is never logged).  Call before store_shared_init().
 */
void
store_configure(enum store_backend b, const char *dsn)
{
	backend = b;
	be = b == STORE_POSTGRES ? &store_pg_ops : &store_sqlite_ops;
	free(be_dsn);
	be_dsn = dsn != NULL ? xstrdup(dsn) : NULL;
}

/*
 * store { sync }: 1 ("full", the default) makes every commit durable
 * before store_commit() returns; 0 ("normal") acknowledges a commit
 * once it is in the WAL, which an OS crash or power loss may lose
 * (store_sqlite.c, "Durability").  Call before the first store_open().
 */
void
store_set_sync(int full)
{
	sync_full = full;
}

int
store_sync_full(void)
{
	return sync_full;
}

/*
 * Log the durability counters of the shared page (the master, at
 * shutdown): how many commits were acknowledged on disk and how many
 * fsyncs the group commit needed for them (PostgreSQL: how many flush
 * transactions, one per commit; the server groups their fsyncs).
 */
void
store_log_durability(void)
{
	if (store_shared == NULL)
		return;
	if (backend == STORE_POSTGRES) {
		int	free_entries = 0;

		sem_getvalue(&store_shared->pg_gate, &free_entries);
		log_info("store: %llu commits made durable with %llu WAL "
		    "flushes (postgres)", (unsigned long long)__atomic_load_n(
		    &store_shared->durable, __ATOMIC_ACQUIRE),
		    (unsigned long long)__atomic_load_n(&store_shared->fsyncs,
		    __ATOMIC_ACQUIRE));
		log_info("store: writer gate: %llu writes waited for an "
		    "entry; %d of %d entries free", (unsigned long long)
		    __atomic_load_n(&store_shared->pg_gate_waited,
		    __ATOMIC_ACQUIRE), free_entries, STORE_PG_WRITERS);
		return;
	}
	log_info("store: %llu commits made durable with %llu fsyncs "
	    "(sync %s)", (unsigned long long)__atomic_load_n(
	    &store_shared->durable, __ATOMIC_ACQUIRE),
	    (unsigned long long)__atomic_load_n(&store_shared->fsyncs,
	    __ATOMIC_ACQUIRE), sync_full ? "full" : "normal");
}

enum store_backend
store_backend(void)
{
	return backend;
}

/*
 * Open a connection of the configured backend: the SQLite file at
 * path, or the PostgreSQL database of the DSN.  Returns 0 and a new
 * store in *out (one thread's; store_close() it), or -1 (500, the
 * detail logged).
 */
int
store_open(const char *path, struct store **out, struct perr *e)
{
	store_shared_init();
	return be->open(backend == STORE_POSTGRES ? (be_dsn ? be_dsn : "") :
	    path, out, e);
}

void
store_close(struct store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

/*
 * Apply the migrations the database has not seen (master only, before
 * workers start).  Refuses a schema newer than this binary.
 */
int
store_migrate(struct store *s, struct perr *e)
{
	return s->ops->migrate(s, e);
}

/* Start the backend's background maintenance, if it has any. */
int
store_checkpointer(const char *path)
{
	return be->checkpointer(path);
}

/* One maintenance pass (SQLite: a WAL checkpoint; see the backend). */
int
store_checkpoint(struct store *s)
{
	return s->ops->checkpoint(s);
}

/*
 * The cached statement for id, reset and with bindings cleared, or
 * NULL when it cannot be prepared (logged).  Owned by the store; valid
 * until store_close().
 */
struct store_q *
store_stmt(struct store *s, enum sql_id id)
{
	return s->ops->stmt(s, id);
}

/*
 * Step: STORE_ROW (1) for a row, STORE_DONE (0) when done, STORE_ERR
 * (-1) on error (500, logged; store_conflict() says whether a
 * constraint refused the write).
 */
int
store_step(struct store *s, struct store_q *q, struct perr *e)
{
	return s->ops->step(s, q, e);
}

/*
 * Run write q of the open transaction, whose outcome (rows changed, a
 * conflict) the caller does not look at.  The backend may hold it back
 * and send it with the transaction's next round trip: before the next
 * statement (whose snapshot then sees it) or with the COMMIT, so that
 * the writes after a handler's reads cost no round trip of their own
 * under the write lock (store_pg.c).  An error then shows there: the
 * next statement or store_commit() fails (500, rolled back).  q is
 * reset.  Returns 0, or -1 (500) when it ran at once and failed.
 */
int
store_defer(struct store *s, struct store_q *q, struct perr *e)
{
	int	rc;

	if (s->ops->defer != NULL && s->in_tx)
		return s->ops->defer(s, q, e);
	rc = s->ops->step(s, q, e);
	s->ops->reset(q);
	return rc < 0 ? -1 : 0;
}

/*
 * Round trips s made to the database server so far (0 on SQLite,
 * which has none): what a write costs under the write lock.
 */
uint64_t
store_roundtrips(const struct store *s)
{
	return s->roundtrips;
}

/* End q's cursor early (rows unread); bindings stay until store_stmt(). */
void
store_reset(struct store_q *q)
{
	q->ops->reset(q);
}

/* Rows changed by q, the last write statement its connection ran. */
int64_t
store_changes(const struct store_q *q)
{
	return q->ops->changes(q);
}

/*
 * Whether the last store_step() on s that returned STORE_ERR failed on
 * a constraint (a UNIQUE, CHECK or foreign key refused the write).
 */
int
store_conflict(const struct store *s)
{
	return s->conflict;
}

/* Bind text v (copied; NULL binds SQL NULL) to parameter name. */
void
store_bind_text(struct store_q *q, const char *name, const char *v)
{
	q->ops->bind_text(q, name, v);
}

void
store_bind_int(struct store_q *q, const char *name, int64_t v)
{
	q->ops->bind_int(q, name, v);
}

void
store_bind_null(struct store_q *q, const char *name)
{
	q->ops->bind_text(q, name, NULL);
}

/* Column text, or NULL for SQL NULL.  Valid until the next step. */
const char *
store_col_text(struct store_q *q, int col)
{
	return q->ops->col_text(q, col);
}

/* A copy of the column's text (free()), or NULL for SQL NULL. */
char *
store_col_dup(struct store_q *q, int col)
{
	const char	*s = store_col_text(q, col);

	return s == NULL ? NULL : xstrdup(s);
}

/* The column as a 64-bit integer (0 for SQL NULL). */
int64_t
store_col_int(struct store_q *q, int col)
{
	return q->ops->col_int(q, col);
}

/* Whether the column is SQL NULL. */
int
store_col_isnull(struct store_q *q, int col)
{
	return q->ops->col_isnull(q, col);
}

/*
 * Start a write transaction carrying the next global index.  Every
 * early exit after this must call store_rollback().
 */
int
store_begin(struct store *s, struct perr *e)
{
	s->head_known = 0;
	if (s->ops->begin(s, e) == -1)
		return -1;
	s->audit_kind = -1;
	s->audit_obj[0] = '\0';
	s->audit_outcome = NULL;
	return 0;
}

/*
 * The modify index of the open write transaction (on PostgreSQL this
 * may start it in the database: ask for it where it is needed).
 */
uint64_t
store_tx_index(struct store *s)
{
	return s->ops->tx_index != NULL ? s->ops->tx_index(s) : s->tx_index;
}

/* Mark table t as written by the open transaction. */
void
store_touch(struct store *s, enum table t)
{
	s->touched[t] = 1;
}

/*
 * Mark table t as written and name the object written (id, copied; a
 * long one is cut), for the transaction's audit record: the first
 * object named in a transaction is the one recorded.
 */
void
store_touch_id(struct store *s, enum table t, const char *id)
{
	s->touched[t] = 1;
	if (s->audit_kind != -1)
		return;
	s->audit_kind = (int)t;
	snprintf(s->audit_obj, sizeof(s->audit_obj), "%s", id != NULL ? id :
	    "");
}

/*
 * Set the request on whose behalf s writes, for the audit records of
 * the transactions that follow: the token's AccessorID (copied; "" or
 * NULL: none yet), the client's address, the method and the route
 * pattern (borrowed: clear, with route NULL, before the request ends).
 */
void
store_audit_ctx(struct store *s, const char *actor, const char *source,
    const char *method, const char *route)
{
	s->audit_on = route != NULL;
	s->audit_source = source;
	s->audit_method = method;
	s->audit_route = route;
	s->audit_actor[0] = '\0';
	store_audit_actor(s, actor);
}

/*
 * The token of the request s writes for, once resolved (acl.c): an
 * AccessorID, never a secret.  Ignored outside a request's context.
 */
void
store_audit_actor(struct store *s, const char *actor)
{
	if (s->audit_on && actor != NULL)
		snprintf(s->audit_actor, sizeof(s->audit_actor), "%s", actor);
}

/*
 * Commit the open transaction, publish the new indexes and wake every
 * blocking query.  On failure the transaction is rolled back (500).
 */
int
store_commit(struct store *s, struct perr *e)
{
	int64_t	t0 = metrics_now();

	/* The audit record, in the transaction it records (audit.c). */
	if (audit_record(s, e) == -1) {
		store_rollback(s);
		return metrics_result(MET_STORE_COMMIT, MET_STORE_COMMIT_FAILED,
		    t0, -1);
	}
	if (metrics_result(MET_STORE_COMMIT, MET_STORE_COMMIT_FAILED, t0,
	    s->ops->commit(s, e)) == -1) {
		audit_discard(s);
		return -1;
	}
	audit_emit(s);
	return 0;
}

/* Abandon the open write transaction, if any. */
void
store_rollback(struct store *s)
{
	s->ops->rollback(s);
	audit_discard(s);
}

const char *
store_table_name(enum table t)
{
	return table_names[t];
}

/* The last committed index of table t as this process knows it. */
uint64_t
store_index(enum table t)
{
	uint64_t	v;

	v = __atomic_load_n(&store_shared->idx[t], __ATOMIC_ACQUIRE);
	return v == 0 ? 1 : v;
}

/* The highest index among a set of tables (TBIT(t) | ...). */
uint64_t
store_index_max(unsigned int set)
{
	uint64_t	v, max = 1;
	size_t		t;

	for (t = 0; t < TBL__MAX; t++)
		if (set & TBIT(t) && (v = store_index((enum table)t)) > max)
			max = v;
	return max;
}

static void
shared_raise(enum table t, uint64_t v)
{
	uint64_t	cur;

	cur = __atomic_load_n(&store_shared->idx[t], __ATOMIC_ACQUIRE);
	while (cur < v && !__atomic_compare_exchange_n(&store_shared->idx[t],
	    &cur, v, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

/*
 * The last index this process committed to each table: the snapshots'
 * "must see" for read-your-writes (snap.c).
 */
static uint64_t	local_idx[TBL__MAX];

/* The highest index this process committed among a set of tables. */
uint64_t
store_index_local(unsigned int set)
{
	uint64_t	v, max = 0;
	size_t		t;

	for (t = 0; t < TBL__MAX; t++)
		if (set & TBIT(t) && (v = __atomic_load_n(&local_idx[t],
		    __ATOMIC_ACQUIRE)) > max)
			max = v;
	return max;
}

/*
 * Raise the shared indexes after a commit at idx (touched[t] for each
 * table written) and wake every blocking query (store_be.h).
 */
void
store_publish(const int *touched, uint64_t idx)
{
	size_t	t;

	for (t = 1; t < TBL__MAX; t++)
		if (touched[t]) {
			__atomic_store_n(&local_idx[t], idx, __ATOMIC_RELEASE);
			shared_raise((enum table)t, idx);
		}
	shared_raise(TBL_RAFT, idx);
	notify_commit();
}

/*
 * The watch: how this node sees other nodes' commits (backends with
 * notifications: PostgreSQL).  The master keeps one connection that
 * LISTENs to every commit's NOTIFY (store_pg.c), whose payload names
 * the commit's index and tables: store_notified() raises the shared
 * indexes from it without a query.  Once a second anyway (a lost
 * notification, a lost connection) it reloads table_index into the
 * shared page.  When either moved the global index, store_watch_run()
 * says so and the master pokes every worker's wake pipe (notify.c), as
 * after a local commit; snapshots follow the shared indexes.  A lost
 * connection is opened again with a back-off (1 s doubling to 10 s).
 * The connection is opened synchronously (libpq): a DSN naming an
 * unreachable host should set connect_timeout.
 */

/*
 * A commit's announcement "<index> <table>,<table>.." (store_pg.c):
 * raise those tables and the global index, in commit order, as the
 * committing node did.  Returns the index, 0 when malformed (ignored:
 * the safety net reloads everything within a second).
 */
uint64_t
store_notified(const char *p)
{
	uint64_t	 idx;
	char		*end;
	size_t		 t, n;

	idx = strtoull(p, &end, 10);
	if (end == p || (*end != ' ' && *end != '\0'))
		return 0;
	for (p = end; *p == ' ' || *p == ','; p += n) {
		p++;
		n = strcspn(p, ",");
		for (t = 1; t < TBL__MAX; t++)
			if (strlen(table_names[t]) == n &&
			    strncmp(p, table_names[t], n) == 0)
				shared_raise((enum table)t, idx);
	}
	shared_raise(TBL_RAFT, idx);
	return idx;
}

/* Open the watch connection and LISTEN; 0 or -1 (logged). */
static int
watch_open(void)
{
	struct perr	 e;

	perr_clear(&e);
	if (be->open(be_dsn ? be_dsn : "", &watch, &e) == -1)
		return -1;
	if (be->listen(watch, &e) == -1) {
		be->close(watch);
		watch = NULL;
		return -1;
	}
	return 0;
}

/* Master, before its poll loop: start watching (no-op on SQLite). */
void
store_watch_start(void)
{
	watching = be->listen != NULL;
	if (!watching)
		return;
	watch_poll_at = mono_ms() + WATCH_POLL_MS;
	if (watch_open() == -1) {
		log_warnx("store: cannot watch other nodes' commits; "
		    "retrying");
		watch_retry_at = mono_ms() + watch_backoff;
	}
}

/* The descriptor to poll for other nodes' commits, or -1. */
int
store_watch_fd(void)
{
	return watch != NULL ? be->listen_fd(watch) : -1;
}

/* Milliseconds from now until store_watch_run() is due (at most 1 s). */
int64_t
store_watch_timeout(int64_t now)
{
	int64_t	at;

	if (!watching)
		return WATCH_POLL_MS;
	at = watch != NULL ? watch_poll_at : watch_retry_at;
	return at <= now ? 0 : at - now;
}

static void
watch_lost(int64_t now)
{
	log_warnx("store: lost the connection watching other nodes' "
	    "commits; reconnecting");
	be->close(watch);
	watch = NULL;
	watch_backoff = WATCH_POLL_MS;
	watch_retry_at = now;
}

/*
 * Master, after each poll: read the watch connection when readable,
 * reload the shared indexes when a notification or the safety net says
 * so, reconnect when due.  Returns 1 when the shared indexes moved (wake
 * the workers), else 0.
 */
int
store_watch_run(int readable, int64_t now)
{
	struct perr	 e;
	uint64_t	 max = 0, before;
	int		 n = 0;

	if (!watching)
		return 0;
	if (watch == NULL) {
		if (now < watch_retry_at)
			return 0;
		if (watch_open() == -1) {
			watch_backoff = watch_backoff * 2 > WATCH_RETRY_MAX_MS ?
			    WATCH_RETRY_MAX_MS : watch_backoff * 2;
			watch_retry_at = now + watch_backoff;
			return 0;
		}
		log_info("store: watching other nodes' commits again");
		watch_poll_at = now;	/* catch up at once */
	}
	before = __atomic_load_n(&store_shared->idx[TBL_RAFT],
	    __ATOMIC_ACQUIRE);
	if (readable && (n = be->notified(watch, &max)) == -1) {
		watch_lost(now);
		return 0;
	}
	if (now < watch_poll_at)
		return n > 0 && max > before;
	watch_poll_at = now + WATCH_POLL_MS;
	perr_clear(&e);
	if (store_load_shared(watch, &e) == -1) {
		watch_lost(now);
		return 0;
	}
	return __atomic_load_n(&store_shared->idx[TBL_RAFT],
	    __ATOMIC_ACQUIRE) > before;
}

/* Prepare every query of sql/queries/ (a structural check). */
int
store_prepare_all(struct store *s, struct perr *e)
{
	size_t	i;

	for (i = 0; i < SQL__MAX; i++)
		if (store_stmt(s, (enum sql_id)i) == NULL)
			return perr_set(e, 500, "cannot prepare %s",
			    sql_names[i]);
	return 0;
}

/*
 * Raise the shared index of the table named name (a table_index row)
 * to idx; an unknown name is ignored.
 */
void
store_shared_index(const char *name, uint64_t idx)
{
	size_t	t;

	for (t = 0; name != NULL && t < TBL__MAX; t++)
		if (strcmp(name, table_names[t]) == 0)
			shared_raise((enum table)t, idx);
}

/* Read every table index into shared memory (start-up, safety net). */
int
store_load_shared(struct store *s, struct perr *e)
{
	struct store_q	*st;
	int		 rc;

	if ((st = store_stmt(s, SQL_INDEX_ALL)) == NULL)
		return perr_set(e, 500, "internal store error");
	while ((rc = store_step(s, st, e)) == 1)
		store_shared_index(store_col_text(st, 0),
		    (uint64_t)store_col_int(st, 1));
	store_reset(st);
	return rc;
}

/*
 * Read at most one row of query id, binding value (text, NULL for SQL
 * NULL) to the named parameter param (NULL: bind nothing).  When there
 * is a row, fill(out, row) copies what it needs out of it (column text
 * is valid only during the call) and *found is 1; otherwise *found is
 * 0 and out is untouched.  The statement is reset before returning.
 * Returns 0, or -1 with 500 (logged).
 */
int
store_get_row(struct store *s, enum sql_id id, const char *param,
    const char *value, void (*fill)(void *, struct store_q *), void *out,
    int *found, struct perr *e)
{
	struct store_q	*st;
	int		 rc;

	*found = 0;
	if ((st = store_stmt(s, id)) == NULL)
		return perr_set(e, 500, "internal store error");
	if (param != NULL)
		store_bind_text(st, param, value);
	if ((rc = store_step(s, st, e)) == 1) {
		fill(out, st);
		*found = 1;
	}
	store_reset(st);
	return rc < 0 ? -1 : 0;
}

/*
 * Run delete query id, binding value to param, in a write transaction
 * of its own.  When a row went, mark table t written and commit; when
 * none did, roll back so the index does not move.  *deleted says which.
 * Returns 0, or -1 with 500 (logged).
 */
int
store_delete_row(struct store *s, enum sql_id id, const char *param,
    const char *value, enum table t, int *deleted, struct perr *e)
{
	struct store_q	*st;

	*deleted = 0;
	if (store_begin(s, e) == -1)
		return -1;
	if ((st = store_stmt(s, id)) == NULL) {
		store_rollback(s);
		return perr_set(e, 500, "internal store error");
	}
	store_bind_text(st, param, value);
	if (store_step(s, st, e) < 0) {
		store_rollback(s);
		return -1;
	}
	if (store_changes(st) == 0) {
		store_rollback(s);
		return 0;
	}
	store_touch_id(s, t, value);
	if (store_commit(s, e) == -1)
		return -1;
	*deleted = 1;
	return 0;
}

static void
meta_fill(void *out, struct store_q *st)
{
	*(char **)out = xstrdup(store_col_text(st, 0));
}

/* Read meta key; *out is a new string or NULL when unset. */
int
store_meta_get(struct store *s, const char *key, char **out,
    struct perr *e)
{
	int	found;

	*out = NULL;
	return store_get_row(s, SQL_META_GET, ":key", key, meta_fill, out,
	    &found, e);
}

/* Write meta key inside the caller's transaction. */
int
store_meta_put(struct store *s, const char *key, const char *value,
    struct perr *e)
{
	struct store_q	*st;

	if ((st = store_stmt(s, SQL_META_PUT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":key", key);
	store_bind_text(st, ":value", value);
	return store_step(s, st, e) < 0 ? -1 : 0;
}
