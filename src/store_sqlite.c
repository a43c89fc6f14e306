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
 * Durability: a commit is acknowledged (store_commit() returns) only
 * once its WAL frames are on disk, unless store { sync = "normal" }.
 * SQLite's synchronous=FULL would fsync the WAL inside every COMMIT,
 * under our write lock: one fsync per write, and every other writer
 * waiting through it.  Instead the connection runs synchronous=NORMAL
 * (SQLite still syncs the WAL before each checkpoint and the database
 * after it, so a checkpoint never loses a synced frame) and the commit
 * path does the WAL's fsync itself, after the write lock is released,
 * as a group commit across every thread of every worker: under the
 * write lock the committer records its index as the shared page's
 * 'committed' (indexes grow in commit order under that lock); after
 * it, unless 'synced' already covers its index, it takes a second
 * fair lock ("<db>.slock"), reads 'committed', fdatasync()s the WAL
 * and raises 'synced' to what it read.  Whoever waited for that lock
 * meanwhile finds itself covered and returns without an fsync: one
 * fsync makes every commit that preceded it durable.  Only then are the
 * new indexes published and blocking queries woken, so no reader is
 * told of an index that a power loss could take back (readers of the
 * database itself may see a commit a moment before it is on disk, as
 * with synchronous=FULL between the write and the sync).  The shared
 * page counts the fsyncs and the durable commits (tests, metrics).
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
struct sq_q {
	struct store_q	 base;
	sqlite3_stmt	*st;
	struct sq	*s;		/* the connection it belongs to */
};

struct sq {
	struct store	 base;
	sqlite3		*db;
	int		 lockfd;
	int		 syncfd;	/* "<db>.slock": the group commit's */
	int		 walfd;		/* "<db>-wal", opened at first sync */
	char		*walpath;
	int		 wal_frames;	/* after this connection's last commit */
	struct sq_q	 stmts[SQL__MAX];
};

#define SQ(x)	((struct sq *)(x))
#define SQQ(x)	((struct sq_q *)(x))

/*
 * SQLite counts every allocation under one global mutex unless told
 * not to; the threads of a worker contended on it.  Only possible
 * before SQLite's first use in the process (store_shared_init()).
 */
static void
sq_init(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int
dberr(struct sq *s, struct perr *e, const char *what)
{
	log_warnx("store: %s: %s", what, sqlite3_errmsg(s->db));
	return perr_set(e, 500, "internal store error");
}

/*
 * Copy the whole WAL back and have the next commit rewind it; the
 * caller holds the write lock, so readers are waited for CKPT_WAIT_MS
 * at most (see sq_checkpoint()).
 */
static void
checkpoint_locked(struct sq *s)
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
	struct sq	*s = arg;

	(void)db;
	(void)name;
	s->wal_frames = frames;
	return SQLITE_OK;
}

static void	sq_close(struct store *);

/*
 * Open (creating if needed) the database at path with WAL, a busy
 * timeout and foreign keys.  Files are created 0600 (the master sets
 * umask 077).  Returns 0 and a new store in *out, or -1 (500).
 */
static int
sq_open(const char *path, struct store **out, struct perr *e)
{
	struct sq	*s;
	char		*lockpath;
	char		*err = NULL;

	s = xcalloc(1, sizeof(*s));
	s->base.ops = &store_sqlite_ops;
	s->lockfd = s->syncfd = s->walfd = -1;
	xasprintf(&s->walpath, "%s-wal", path);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("store: open %s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		sq_close(&s->base);
		return perr_set(e, 500, "cannot open store");
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
	    "PRAGMA journal_size_limit=67108864;",	/* kept on rewind */
	    NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("store: pragmas: %s", err);
		sqlite3_free(err);
		sq_close(&s->base);
		return perr_set(e, 500, "cannot open store");
	}
	sqlite3_wal_hook(s->db, wal_hook, s);
	xasprintf(&lockpath, "%s.wlock", path);
	s->lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lockpath);
	xasprintf(&lockpath, "%s.slock", path);
	s->syncfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lockpath);
	if (s->lockfd == -1 || s->syncfd == -1) {
		log_warn("store: lock file");
		sq_close(&s->base);
		return perr_set(e, 500, "cannot open store");
	}
	*out = &s->base;
	return 0;
}

static void
sq_close(struct store *bs)
{
	struct sq	*s = SQ(bs);
	size_t		 i;

	for (i = 0; i < SQL__MAX; i++)
		sqlite3_finalize(s->stmts[i].st);
	sqlite3_close(s->db);
	if (s->lockfd != -1)
		close(s->lockfd);
	if (s->syncfd != -1)
		close(s->syncfd);
	if (s->walfd != -1)
		close(s->walfd);
	free(s->walpath);
	free(s);
}

/*
 * Apply the migrations (sql/NNN-*.sql, compiled in) that the database
 * has not seen, each in one transaction, recording the count in
 * PRAGMA user_version.  Master only, before workers start.  A database
 * that has seen more migrations than this binary knows is refused.
 */
static int
sq_migrate(struct store *bs, struct perr *e)
{
	struct sq	*s = SQ(bs);
	sqlite3_stmt	*st;
	char		*err = NULL, pragma[64];
	int		 have, i, known;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return dberr(s, e, "user_version");
	have = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	for (known = 0; sql_migrations[known] != NULL; known++)
		;
	if (have > known)
		return perr_set(e, 500, "the store's schema is at version %d "
		    "but this binary knows %d migrations: run a newer "
		    "portcullis", have, known);
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
static struct store_q *
sq_stmt(struct store *bs, enum sql_id id)
{
	struct sq	*s = SQ(bs);
	struct sq_q	*q = &s->stmts[id];

	if (q->st == NULL) {
		if (sqlite3_prepare_v3(s->db, sqls[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &q->st, NULL) != SQLITE_OK) {
			log_warnx("store: prepare %s: %s", sql_names[id],
			    sqlite3_errmsg(s->db));
			q->st = NULL;
			return NULL;
		}
		q->base.ops = &store_sqlite_ops;
		q->s = s;
		return &q->base;
	}
	sqlite3_reset(q->st);
	sqlite3_clear_bindings(q->st);
	return &q->base;
}

/*
 * Step: STORE_ROW (1) for a row, STORE_DONE (0) when done, STORE_ERR
 * (-1) on error (500, logged; the statement is reset, and
 * store_conflict() says whether a constraint refused the write).
 */
static int
sq_step(struct store *bs, struct store_q *bq, struct perr *e)
{
	struct sq_q	*q = SQQ(bq);
	int		 rc;

	switch ((rc = sqlite3_step(q->st))) {
	case SQLITE_ROW:
		return STORE_ROW;
	case SQLITE_DONE:
		return STORE_DONE;
	default:
		bs->conflict = (rc & 0xff) == SQLITE_CONSTRAINT;
		dberr(SQ(bs), e, sqlite3_sql(q->st));
		sqlite3_reset(q->st);
		return STORE_ERR;
	}
}

static void
sq_reset(struct store_q *q)
{
	sqlite3_reset(SQQ(q)->st);
}

static int64_t
sq_changes(const struct store_q *q)
{
	return sqlite3_changes64(((const struct sq_q *)q)->s->db);
}

static int
param(struct sq_q *q, const char *name)
{
	int	i;

	if ((i = sqlite3_bind_parameter_index(q->st, name)) == 0)
		fatalx("store: no parameter %s in %s", name,
		    sqlite3_sql(q->st));
	return i;
}

static void
sq_bind_text(struct store_q *bq, const char *name, const char *v)
{
	struct sq_q	*q = SQQ(bq);
	int		 i = param(q, name);

	if (v == NULL)
		sqlite3_bind_null(q->st, i);
	else
		sqlite3_bind_text(q->st, i, v, -1, SQLITE_TRANSIENT);
}

static void
sq_bind_int(struct store_q *bq, const char *name, int64_t v)
{
	struct sq_q	*q = SQQ(bq);

	sqlite3_bind_int64(q->st, param(q, name), v);
}

static const char *
sq_col_text(struct store_q *q, int col)
{
	return (const char *)sqlite3_column_text(SQQ(q)->st, col);
}

static int64_t
sq_col_int(struct store_q *q, int col)
{
	return sqlite3_column_int64(SQQ(q)->st, col);
}

static int
sq_col_isnull(struct store_q *q, int col)
{
	return sqlite3_column_type(SQQ(q)->st, col) == SQLITE_NULL;
}

static void	sq_rollback(struct store *);

static void
raise_to(volatile uint64_t *p, uint64_t v)
{
	uint64_t	cur;

	cur = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	while (cur < v && !__atomic_compare_exchange_n(p, &cur, v, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

/*
 * Open the WAL for fsync, once per connection, after its first commit
 * (so the file exists), and sync its directory once so that the file's
 * name is as durable as its frames.  While this connection is open
 * SQLite never deletes the WAL, so the descriptor stays the live file.
 */
static int
wal_open(struct sq *s)
{
	char	*dir, *slash;
	int	 fd;

	if (s->walfd != -1)
		return 0;
	if ((s->walfd = open(s->walpath, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((slash = strrchr(s->walpath, '/')) == NULL)
		dir = xstrdup(".");
	else
		dir = xstrndup(s->walpath, slash == s->walpath ? 1 :
		    (size_t)(slash - s->walpath));
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(fd);
		close(fd);
	}
	free(dir);
	return 0;
}

/*
 * The group commit (top of this file): return once the commit at idx
 * is on disk, by an fsync of our own or one that another committer
 * made after idx was written.  Returns 0, or -1 (500, logged) when the
 * WAL cannot be synced: the write is committed but not confirmed.
 */
static int
sq_durable(struct sq *s, uint64_t idx, struct perr *e)
{
	uint64_t	target;
	int		rc = 0;

	if (__atomic_load_n(&store_shared->synced, __ATOMIC_ACQUIRE) < idx) {
		while (flock(s->syncfd, LOCK_EX) == -1)
			if (errno != EINTR) {
				log_warn("store: flock (sync)");
				return perr_set(e, 500, "internal store error");
			}
		if (__atomic_load_n(&store_shared->synced, __ATOMIC_ACQUIRE) <
		    idx) {
			target = __atomic_load_n(&store_shared->committed,
			    __ATOMIC_ACQUIRE);
			if (wal_open(s) == -1 || fdatasync(s->walfd) == -1) {
				log_warn("store: fsync %s", s->walpath);
				rc = perr_set(e, 500, "internal store error");
			} else {
				__atomic_add_fetch(&store_shared->fsyncs, 1,
				    __ATOMIC_RELAXED);
				raise_to(&store_shared->synced, target);
			}
		}
		flock(s->syncfd, LOCK_UN);
	}
	if (rc == 0)
		__atomic_add_fetch(&store_shared->durable, 1,
		    __ATOMIC_RELAXED);
	return rc;
}

/*
 * Start a write transaction: fair lock, BEGIN IMMEDIATE, next global
 * index.  Every early exit after this must call store_rollback().
 */
static int
sq_begin(struct store *bs, struct perr *e)
{
	struct sq	*s = SQ(bs);
	struct store_q	*st;

	if (bs->in_tx)
		fatalx("store: nested transaction");
	while (flock(s->lockfd, LOCK_EX) == -1)
		if (errno != EINTR) {
			log_warn("store: flock");
			return perr_set(e, 500, "internal store error");
		}
	if ((st = sq_stmt(bs, SQL_TX_BEGIN)) == NULL ||
	    sq_step(bs, st, e) != 0) {
		flock(s->lockfd, LOCK_UN);
		return perr_set(e, 500, "internal store error");
	}
	bs->in_tx = 1;
	memset(bs->touched, 0, sizeof(bs->touched));
	if ((st = sq_stmt(bs, SQL_INDEX_BUMP)) == NULL ||
	    sq_step(bs, st, e) != 1) {
		sq_rollback(bs);
		return perr_set(e, 500, "internal store error");
	}
	bs->tx_index = (uint64_t)sq_col_int(st, 0);
	sq_reset(st);
	return 0;
}

/*
 * Commit the open transaction, publish the new indexes and wake every
 * blocking query.  On failure the transaction is rolled back (500).
 */
static int
sq_commit(struct store *bs, struct perr *e)
{
	struct sq	*s = SQ(bs);
	struct store_q	*st;
	size_t		 t;

	for (t = 1; t < TBL__MAX; t++) {
		if (!bs->touched[t])
			continue;
		if ((st = sq_stmt(bs, SQL_INDEX_TOUCH)) == NULL)
			goto fail;
		sq_bind_text(st, ":name", store_table_name((enum table)t));
		sq_bind_int(st, ":idx", (int64_t)bs->tx_index);
		if (sq_step(bs, st, e) != 0)
			goto fail;
	}
	/*
	 * Before commit: the last statement of the write may go here (it
	 * runs inside the transaction, under the write lock).
	 */
	if ((st = sq_stmt(bs, SQL_TX_COMMIT)) == NULL ||
	    sq_step(bs, st, e) != 0)
		goto fail;
	bs->in_tx = 0;
	__atomic_store_n(&store_shared->committed, bs->tx_index,
	    __ATOMIC_RELEASE);
	if (s->wal_frames > WAL_EMERGENCY) {
		/* No checkpointer kept up: do it under the lock, once. */
		log_warnx("store: WAL at %d frames; checkpointing inline",
		    s->wal_frames);
		checkpoint_locked(s);
		s->wal_frames = 0;
	}
	flock(s->lockfd, LOCK_UN);
	/* Committed: a failure now cannot undo it, only not confirm it. */
	if (store_sync_full() && sq_durable(s, bs->tx_index, e) == -1)
		return -1;
	store_publish(bs->touched, bs->tx_index);
	return 0;
fail:
	sq_rollback(bs);
	return perr_set(e, 500, "internal store error");
}

/* Abandon the open write transaction, if any. */
static void
sq_rollback(struct store *bs)
{
	struct sq	*s = SQ(bs);
	struct store_q	*st;

	if (!bs->in_tx)
		return;
	if ((st = sq_stmt(bs, SQL_TX_ROLLBACK)) != NULL) {
		sqlite3_step(SQQ(st)->st);
		sqlite3_reset(SQQ(st)->st);
	}
	bs->in_tx = 0;
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
static int
sq_checkpoint(struct store *bs)
{
	struct sq	*s = SQ(bs);
	int		 log = 0, done = 0;

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
		sq_checkpoint(s);
	}
	return NULL;
}

/*
 * Start the checkpoint thread on a connection of its own to path (see
 * the top of this file).  It runs until the process exits; a checkpoint
 * cut short by exit is harmless (SQLite).  Returns 0 or -1 (logged).
 */
static int
sq_checkpointer(const char *path)
{
	struct store	*s;
	struct perr	 e;
	pthread_t	 t;

	if (sq_open(path, &s, &e) == -1)
		return -1;
	if (pthread_create(&t, NULL, checkpointer, s) != 0) {
		log_warnx("store: cannot start the checkpointer");
		sq_close(s);
		return -1;
	}
	pthread_detach(t);
	return 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.init = sq_init,
	.open = sq_open,
	.close = sq_close,
	.migrate = sq_migrate,
	.checkpointer = sq_checkpointer,
	.checkpoint = sq_checkpoint,
	.stmt = sq_stmt,
	.step = sq_step,
	.reset = sq_reset,
	.changes = sq_changes,
	.bind_text = sq_bind_text,
	.bind_int = sq_bind_int,
	.col_text = sq_col_text,
	.col_int = sq_col_int,
	.col_isnull = sq_col_isnull,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
};
