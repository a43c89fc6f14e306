/*
 * store_sqlite.c -- the SQLite backend of store.h: WAL mode, one
 * connection per thread.
 *
 * Writes: store_begin() takes a fair inter-process lock (flock(2) on
 * "<db>.wlock"; the kernel queues waiters, where SQLite's own busy
 * handler sleeps and retries and starves unlucky writers), then BEGIN
 * IMMEDIATE, then bumps the global 'raft' index; every row written in
 * the transaction carries that index.  store_commit() records the
 * index of each table the transaction touched, commits, publishes the
 * new indexes in shared memory and wakes blocking queries in every
 * worker through notify.c.  A process killed at any point leaves either
 * the whole transaction or none of it (SQLite), and the kernel drops
 * its flock.
 *
 * Checkpoints: SQLite's default copies the WAL back into the database
 * inside the commit that crosses 1000 frames, so that commit holds our
 * write lock through the copy and two fsyncs while every writer waits.
 * Measured in-process (issue #3): the store work of one leaf issuance
 * was 75 us without checkpoints and 225-300 us with the default.  So a
 * connection never checkpoints by itself (a WAL hook replaces SQLite's,
 * keeping only an emergency checkpoint under the lock past
 * WAL_EMERGENCY frames), and one thread (store_checkpointer(), started
 * by worker slot 0) checkpoints PASSIVE every CKPT_INTERVAL_MS outside
 * the lock.  Under constant writes a passive pass never copies the
 * frames committed while it ran, and the WAL only rewinds to its start
 * once everything is copied: past CKPT_CATCHUP frames the thread takes
 * the write lock for one short pass over the rest.
 *
 * Errors: SQLite detail is logged; the client gets a generic 500.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "portcullis.h"
#include "store.h"
#include "store_be.h"

#define BUSY_TIMEOUT_MS		10000
#define CKPT_INTERVAL_MS	200
#define CKPT_WAIT_MS		50	/* for readers, holding the write lock */
#define CKPT_CATCHUP		STORE_CKPT_CATCHUP
#define WAL_EMERGENCY		(4 * CKPT_CATCHUP)	/* no checkpointer */

/* A cached statement: prepared once per connection, reset per use. */
struct store_q {
	sqlite3_stmt	*st;
	struct store	*s;		/* the connection it belongs to */
};

struct store {
	sqlite3		*db;
	int		 lockfd;
	int		 in_tx;
	int		 conflict;	/* last step error: a constraint */
	uint64_t	 tx_index;
	int		 touched[TBL__MAX];
	int		 wal_frames;	/* after this connection's last commit */
	struct store_q	 stmts[SQL__MAX];
};

/*
 * SQLite counts every allocation under one global mutex unless told
 * not to; the threads of a worker contended on it.  Only possible
 * before SQLite's first use in the process (store_shared_init()).
 */
void
store_be_init(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int
dberr(struct store *s, struct perr *e, const char *what)
{
	log_warnx("store: %s: %s", what, sqlite3_errmsg(s->db));
	return perr_set(e, 500, "internal store error");
}

/*
 * Copy the whole WAL back and have the next commit rewind it; the
 * caller holds the write lock, so readers are waited for CKPT_WAIT_MS
 * at most (see store_checkpoint()).
 */
static void
checkpoint_locked(struct store *s)
{
	sqlite3_busy_timeout(s->db, CKPT_WAIT_MS);
	sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL,
	    NULL);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
}

/* Replaces SQLite's autocheckpoint: remember the WAL's size only. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store	*s = arg;

	(void)db;
	(void)name;
	s->wal_frames = frames;
	return SQLITE_OK;
}

/*
 * Open (creating if needed) the database at path with WAL, a busy
 * timeout and foreign keys.  Files are created 0600 (the master sets
 * umask 077).  Returns 0 and a new store in *out, or -1 (500).
 */
int
store_open(const char *path, struct store **out, struct perr *e)
{
	struct store	*s;
	char		*lockpath;
	char		*err = NULL;

	store_shared_init();
	s = xcalloc(1, sizeof(*s));
	s->lockfd = -1;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("store: open %s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		store_close(s);
		return perr_set(e, 500, "cannot open store");
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
	    "PRAGMA journal_size_limit=67108864;",	/* kept on rewind */
	    NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("store: pragmas: %s", err);
		sqlite3_free(err);
		store_close(s);
		return perr_set(e, 500, "cannot open store");
	}
	sqlite3_wal_hook(s->db, wal_hook, s);
	xasprintf(&lockpath, "%s.wlock", path);
	s->lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lockpath);
	if (s->lockfd == -1) {
		log_warn("store: lock file");
		store_close(s);
		return perr_set(e, 500, "cannot open store");
	}
	*out = s;
	return 0;
}

void
store_close(struct store *s)
{
	size_t	i;

	if (s == NULL)
		return;
	for (i = 0; i < SQL__MAX; i++)
		sqlite3_finalize(s->stmts[i].st);
	sqlite3_close(s->db);
	if (s->lockfd != -1)
		close(s->lockfd);
	free(s);
}

/*
 * Apply the migrations (sql/NNN-*.sql, compiled in) that the database
 * has not seen, each in one transaction, recording the count in
 * PRAGMA user_version.  Master only, before workers start.
 */
int
store_migrate(struct store *s, struct perr *e)
{
	sqlite3_stmt	*st;
	char		*err = NULL, pragma[64];
	int		 have, i;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return dberr(s, e, "user_version");
	have = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	for (i = have; sql_migrations[i] != NULL; i++) {
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d;",
		    i + 1);
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK)
			return dberr(s, e, "migration begin");
		if (sqlite3_exec(s->db, sql_migrations[i], NULL, NULL, &err) !=
		    SQLITE_OK ||
		    sqlite3_exec(s->db, pragma, NULL, NULL, &err) != SQLITE_OK ||
		    sqlite3_exec(s->db, "COMMIT", NULL, NULL, &err) !=
		    SQLITE_OK) {
			log_warnx("store: migration %s: %s",
			    sql_migration_names[i], err ? err : "?");
			sqlite3_free(err);
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return perr_set(e, 500, "migration %s failed",
			    sql_migration_names[i]);
		}
		log_info("store: applied migration %s",
		    sql_migration_names[i]);
	}
	return 0;
}

/*
 * The cached statement for id, reset and with bindings cleared, or
 * NULL when it cannot be prepared (logged).  Owned by the store; valid
 * until store_close().
 */
struct store_q *
store_stmt(struct store *s, enum sql_id id)
{
	struct store_q	*q = &s->stmts[id];

	if (q->st == NULL) {
		if (sqlite3_prepare_v3(s->db, sqls[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &q->st, NULL) != SQLITE_OK) {
			log_warnx("store: prepare %s: %s", sql_names[id],
			    sqlite3_errmsg(s->db));
			q->st = NULL;
			return NULL;
		}
		q->s = s;
		return q;
	}
	sqlite3_reset(q->st);
	sqlite3_clear_bindings(q->st);
	return q;
}

/*
 * Step: STORE_ROW (1) for a row, STORE_DONE (0) when done, STORE_ERR
 * (-1) on error (500, logged; the statement is reset, and
 * store_conflict() says whether a constraint refused the write).
 */
int
store_step(struct store *s, struct store_q *q, struct perr *e)
{
	int	rc;

	switch ((rc = sqlite3_step(q->st))) {
	case SQLITE_ROW:
		return STORE_ROW;
	case SQLITE_DONE:
		return STORE_DONE;
	default:
		s->conflict = (rc & 0xff) == SQLITE_CONSTRAINT;
		dberr(s, e, sqlite3_sql(q->st));
		sqlite3_reset(q->st);
		return STORE_ERR;
	}
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

/* End q's cursor early (rows unread); bindings stay until store_stmt(). */
void
store_reset(struct store_q *q)
{
	sqlite3_reset(q->st);
}

/* Rows changed by q, the last write statement its connection ran. */
int64_t
store_changes(const struct store_q *q)
{
	return sqlite3_changes64(q->s->db);
}

static int
param(struct store_q *q, const char *name)
{
	int	i;

	if ((i = sqlite3_bind_parameter_index(q->st, name)) == 0)
		fatalx("store: no parameter %s in %s", name,
		    sqlite3_sql(q->st));
	return i;
}

/* Bind text v (copied; NULL binds SQL NULL) to parameter name. */
void
store_bind_text(struct store_q *q, const char *name, const char *v)
{
	int	i = param(q, name);

	if (v == NULL)
		sqlite3_bind_null(q->st, i);
	else
		sqlite3_bind_text(q->st, i, v, -1, SQLITE_TRANSIENT);
}

void
store_bind_int(struct store_q *q, const char *name, int64_t v)
{
	sqlite3_bind_int64(q->st, param(q, name), v);
}

void
store_bind_null(struct store_q *q, const char *name)
{
	sqlite3_bind_null(q->st, param(q, name));
}

/* Column text, or NULL for SQL NULL.  Valid until the next step. */
const char *
store_col_text(struct store_q *q, int col)
{
	return (const char *)sqlite3_column_text(q->st, col);
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
	return sqlite3_column_int64(q->st, col);
}

/* Whether the column is SQL NULL. */
int
store_col_isnull(struct store_q *q, int col)
{
	return sqlite3_column_type(q->st, col) == SQLITE_NULL;
}

/*
 * Start a write transaction: fair lock, BEGIN IMMEDIATE, next global
 * index.  Every early exit after this must call store_rollback().
 */
int
store_begin(struct store *s, struct perr *e)
{
	struct store_q	*st;

	if (s->in_tx)
		fatalx("store: nested transaction");
	while (flock(s->lockfd, LOCK_EX) == -1)
		if (errno != EINTR) {
			log_warn("store: flock");
			return perr_set(e, 500, "internal store error");
		}
	if ((st = store_stmt(s, SQL_TX_BEGIN)) == NULL ||
	    store_step(s, st, e) != 0) {
		flock(s->lockfd, LOCK_UN);
		return perr_set(e, 500, "internal store error");
	}
	s->in_tx = 1;
	memset(s->touched, 0, sizeof(s->touched));
	if ((st = store_stmt(s, SQL_INDEX_BUMP)) == NULL ||
	    store_step(s, st, e) != 1) {
		store_rollback(s);
		return perr_set(e, 500, "internal store error");
	}
	s->tx_index = (uint64_t)store_col_int(st, 0);
	store_reset(st);
	return 0;
}

/* The modify index of the open write transaction. */
uint64_t
store_tx_index(const struct store *s)
{
	return s->tx_index;
}

/* Mark table t as written by the open transaction. */
void
store_touch(struct store *s, enum table t)
{
	s->touched[t] = 1;
}

/*
 * Commit the open transaction, publish the new indexes and wake every
 * blocking query.  On failure the transaction is rolled back (500).
 */
int
store_commit(struct store *s, struct perr *e)
{
	struct store_q	*st;
	size_t		 t;

	for (t = 1; t < TBL__MAX; t++) {
		if (!s->touched[t])
			continue;
		if ((st = store_stmt(s, SQL_INDEX_TOUCH)) == NULL)
			goto fail;
		store_bind_text(st, ":name", store_table_name((enum table)t));
		store_bind_int(st, ":idx", (int64_t)s->tx_index);
		if (store_step(s, st, e) != 0)
			goto fail;
	}
	if ((st = store_stmt(s, SQL_TX_COMMIT)) == NULL ||
	    store_step(s, st, e) != 0)
		goto fail;
	s->in_tx = 0;
	if (s->wal_frames > WAL_EMERGENCY) {
		/* No checkpointer kept up: do it under the lock, once. */
		log_warnx("store: WAL at %d frames; checkpointing inline",
		    s->wal_frames);
		checkpoint_locked(s);
		s->wal_frames = 0;
	}
	flock(s->lockfd, LOCK_UN);
	store_publish(s->touched, s->tx_index);
	return 0;
fail:
	store_rollback(s);
	return perr_set(e, 500, "internal store error");
}

/* Abandon the open write transaction, if any. */
void
store_rollback(struct store *s)
{
	struct store_q	*st;

	if (!s->in_tx)
		return;
	if ((st = store_stmt(s, SQL_TX_ROLLBACK)) != NULL) {
		sqlite3_step(st->st);
		sqlite3_reset(st->st);
	}
	s->in_tx = 0;
	flock(s->lockfd, LOCK_UN);
}

/*
 * One checkpoint pass: PASSIVE (never waits for readers or writers).
 * Passive passes copy everything, but the WAL rewinds to its start only
 * when a commit begins while no reader reads from it, and under load
 * some short read transaction always does.  So once the WAL has grown
 * past CKPT_CATCHUP frames, one RESTART pass under the write lock:
 * nothing is committed while it copies the rest, and it waits (busy
 * handler) until no reader uses the WAL, for CKPT_WAIT_MS at most
 * since writers wait meanwhile; the next commit rewinds it.  A reader
 * that outlasts the wait only postpones the rewind to a later pass.
 * Returns the WAL's size in frames as the passive pass found it, or -1
 * if another checkpoint was running (SQLITE_BUSY) or it failed.
 */
int
store_checkpoint(struct store *s)
{
	int	log = 0, done = 0;

	if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &log, &done) != SQLITE_OK)
		return -1;
	if (log < CKPT_CATCHUP)
		return log;
	while (flock(s->lockfd, LOCK_EX) == -1)
		if (errno != EINTR)
			return log;
	checkpoint_locked(s);
	flock(s->lockfd, LOCK_UN);
	return log;
}

static void *
checkpointer(void *arg)
{
	struct store	*s = arg;
	struct timespec	 ts = { 0, CKPT_INTERVAL_MS * 1000000L };

	for (;;) {
		nanosleep(&ts, NULL);
		store_checkpoint(s);
	}
	return NULL;
}

/*
 * Start the checkpoint thread on a connection of its own to path (see
 * the top of this file).  It runs until the process exits; a checkpoint
 * cut short by exit is harmless (SQLite).  Returns 0 or -1 (logged).
 */
int
store_checkpointer(const char *path)
{
	struct store	*s;
	struct perr	 e;
	pthread_t	 t;

	if (store_open(path, &s, &e) == -1)
		return -1;
	if (pthread_create(&t, NULL, checkpointer, s) != 0) {
		log_warnx("store: cannot start the checkpointer");
		store_close(s);
		return -1;
	}
	pthread_detach(t);
	return 0;
}

