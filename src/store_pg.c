/*
 * store_pg.c -- the PostgreSQL backend of store.h (libpq): one
 * connection per struct store, so one per worker thread, as with
 * SQLite.  The only file that names libpq.
 *
 * Statements: each query of sql/queries/ (the PostgreSQL text where
 * sql/queries/pg/ gives one) is prepared once per connection, on first
 * use, as the server-side statement "q<id>"; its ":name" parameters are
 * renumbered "$1".. at that time and bound by name afterwards into
 * per-statement buffers that grow but are never freed between uses, so
 * a request allocates nothing here beyond what libpq does.  Results
 * come in text format: a column is its text, an integer is parsed from
 * it.  A statement runs at its first store_step(); the rows are then
 * read from the result.
 *
 * Writes and the modify index: a write transaction starts with BEGIN,
 * increments the 'raft' row of table_index (UPDATE) and reads it back
 * with the audit chain's head (audit.c), sent in front of its first
 * statement (pg_begin()).  The row lock that UPDATE takes is held until COMMIT
 * or ROLLBACK, so every other writer -- on any connection of any node
 * -- waits at that same statement, and READ COMMITTED gives each of its
 * later statements a snapshot that includes the previous writer's
 * commit.  Writers are thus serialized, and their indexes grow in
 * commit order: a reader who saw index N sees every change with an
 * index <= N.  store_commit() records the index of each table touched
 * (table_index rows), announces the commit (NOTIFY), commits, makes the
 * commit durable and reads table_index back for the node's shared index
 * page (it may hold other nodes' commits), all in one round trip, then
 * wakes blocking queries.
 *
 * Round trips under the lock: writes whose outcome the handler does not
 * look at (store_defer(): upserts, the audit record) are kept, with
 * copies of their values, and sent in front of the next statement or
 * of tx_commit in the same round trip, as one libpq pipeline
 * (pipeline()), so a handler that reads once and then writes holds the
 * lock for two round trips: the start with its read, the commit.
 *
 * Nothing is parsed or planned per write: every command runs as a
 * prepared statement, the transaction's ends too (each of their
 * commands is prepared on its own, "q<id>_<k>", and they go as one
 * pipeline).  With the ends and the deferred writes sent as simple
 * queries instead, parsing and planning them was 38% of the database
 * server's CPU under a PUT load on 2 cores (perf), and PUT throughput
 * 1.3x lower.
 *
 * Durability without holding the lock through an fsync: the write
 * transaction commits asynchronously (SET LOCAL synchronous_commit =
 * off), which releases its locks once the commit record is in the WAL
 * buffers, and the reply waits for a short synchronous transaction
 * after it on the same connection, whose commit flushes the WAL past
 * ours (pg_commit(); sql/queries/pg/store.sql, tx_commit).  Writers
 * thus share PostgreSQL's group commit instead of taking an fsync each
 * in turn.  The critical section is the round trips between the index
 * bump and the COMMIT: each statement the handler runs in between.
 *
 * Migrations: sql/pg/NNN-*.sql, applied by the first node to start,
 * under pg_advisory_lock(), each in one transaction, counted in
 * portcullis_schema; a binary that knows fewer migrations than the
 * database has seen refuses to start.
 *
 * Errors: the server's message is logged with the query's name; the
 * client gets "internal store error" (500), as from store_sqlite.c.  The
 * DSN may carry a password: it is never logged, and neither is libpq's
 * connection error beyond its message (which names host and user only).
 *
 * Faults (a stopped, restarting or failed-over server, a terminated
 * backend, a partition).  Every round trip has a deadline: the server
 * cancels a statement after STMT_TIMEOUT_MS (statement_timeout, which
 * also bounds lock waits) and we give up on the connection after
 * CLIENT_TIMEOUT_MS without an answer (poll() on the socket: libpq's
 * own calls would wait for the kernel's TCP timeout).  The DSN gets
 * connect_timeout and TCP keepalives unless it sets them.  A failure
 * that says the database cannot be used now (connection lost, refused,
 * timed out, shutting down, read-only after a failover, too many
 * connections) answers 500 "store unavailable: <reason>" -- a fixed
 * reason, never libpq's text or the DSN -- and the connection is
 * dropped.  It is opened again lazily, at the next store_stmt() outside
 * a transaction, after a back-off (RETRY_MIN_MS doubling to
 * RETRY_MAX_MS; within it store_stmt() fails fast), so a node follows
 * the database back, or to the new primary (target_session_attrs),
 * without a restart.  An idle connection the server closed (a
 * terminated backend, a shutdown) is noticed before it is used: its
 * socket is readable.  A transaction cut off before COMMIT was rolled
 * back by the server ("nothing was written"); one cut off at COMMIT may
 * or may not have committed: it answers 500 and says so, never 200.
 */
#include "config.h"

#include <poll.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "portcullis.h"
#include "store.h"
#include "store_be.h"
#include "util.h"

/* Deadlines (top of this file). */
#define STMT_TIMEOUT_MS		10000	/* statement_timeout, server side */
#define CLIENT_TIMEOUT_MS	12000	/* no answer: drop the connection */
#define IDLE_TX_TIMEOUT_MS	30000	/* idle_in_transaction_session_timeout */
#define RETRY_MIN_MS		100	/* reconnect back-off */
#define RETRY_MAX_MS		2000
/* Plans made again once the store's index has doubled (replan()). */
#define REPLAN_MIN_GROWTH	256

/* Connection defaults the DSN may override (libpq keywords). */
static const char *const conn_defaults[][2] = {
	{ "connect_timeout",		"5" },
	{ "keepalives",			"1" },
	{ "keepalives_idle",		"10" },
	{ "keepalives_interval",	"3" },
	{ "keepalives_count",		"3" },
	{ "tcp_user_timeout",		"12000" },
};
#define NDEFAULTS	(sizeof(conn_defaults) / sizeof(conn_defaults[0]))

/* pg_advisory_lock key of the migrations: "pcul" */
#define MIGRATE_LOCK	"1885566316"

/*
 * One command of a statement that holds several (the transaction's
 * ends): prepared on its own, as "q<id>_<k>", its parameters numbered
 * anew and taken by name from the statement's (from[]).
 */
struct pg_part {
	char		 id[24];
	char		*text;
	int		 nparams;
	int		*from;		/* its $j+1 is the statement's from[j] */
};

/* A write kept for the next round trip (pg_defer()): its own values. */
struct pg_deferred {
	const char	*id;		/* the prepared statement */
	int		 nparams;
	char		**vals;		/* copies; NULL for NULL */
	int		 qid;		/* for the log */
};

/* A cached statement: prepared once per connection, reset per use. */
struct pg_q {
	struct store_q	 base;
	struct pg	*s;		/* the connection it belongs to */
	int		 prepared;	/* on the current connection */
	char		*text;		/* the query with $n parameters */
	int		 nparams;
	char		**names;	/* ":name" of $1.. */
	char		**vals;		/* bound values: bufs[i] or NULL */
	char		**bufs;
	size_t		*caps;
	struct pg_part	*parts;		/* several commands: each prepared */
	int		 nparts;
	PGresult	*res;		/* of the last run, until reset */
	int		 row;		/* current row of res */
	int		 nrows;
	char		 id[16];	/* server-side name */
};

struct pg {
	struct store	 base;
	PGconn		*conn;		/* NULL once dropped (a fault) */
	char		*dsn;		/* secret: never logged */
	int64_t		 changes;	/* rows of the last statement */
	int		 listening;	/* LISTEN again after a reconnect */
	int		 limit_ms;	/* client deadline; 0: none */
	int		 timedout;	/* the last round trip ran out */
	int		 at_commit;	/* the round trip was a COMMIT */
	int		 committed;	/* ... and its COMMIT succeeded */
	const char	*why;		/* no connection: the reason */
	int64_t		 retry_at;	/* next reconnect attempt */
	int64_t		 backoff;
	struct pg_deferred *pending;	/* deferred writes (pg_defer()) */
	size_t		 npending, cappending;
	uint64_t	 rt_begin;	/* roundtrips at pg_begin() */
	int		 gated;		/* holds an entry of the writer gate */
	const char	*failed;	/* the command of a pipeline that failed */
	int		 begin_pending;	/* tx_begin goes with the next round trip */
	int		 begin_failed;	/* ... and failed when forced (begin_err) */
	uint64_t	 planned_at;	/* store index when plans were last made */
	struct perr	 begin_err;
	struct pg_q	 stmts[SQL__MAX];
};

#define PG(x)	((struct pg *)(x))
#define PGQ(x)	((struct pg_q *)(x))

static void	pg_rollback(struct store *);
static int	pg_step(struct store *, struct store_q *, struct perr *);
static void	pg_reset(struct store_q *);
static void	pending_clear(struct pg *);

static const char	lost[] = "the connection to the database was lost";

static void
pg_init(void)
{
}

/*
 * Why the database cannot be used now, after r (NULL: the connection's
 * last error) failed: a fixed phrase for the client, or NULL when the
 * failure is the statement's own (a constraint, a bug).
 */
static const char *
unavailable(struct pg *s, const PGresult *r)
{
	const char	*state;

	if (s->timedout)
		return "the database did not answer in time";
	if (s->conn == NULL)
		return s->why != NULL ? s->why : "no connection to the database";
	if (PQstatus(s->conn) != CONNECTION_OK)
		return lost;
	state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (state == NULL)
		return r == NULL ? lost : NULL;
	if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	    strcmp(state, "57P02") == 0)
		return lost;
	if (strcmp(state, "57P03") == 0)
		return "the database is starting up or shutting down";
	if (strcmp(state, "57014") == 0)
		return "the database did not answer in time";
	if (strcmp(state, "53300") == 0)
		return "the database has too many connections";
	if (strcmp(state, "25006") == 0)
		return "the database is read-only (a standby?)";
	return NULL;
}

/*
 * Drop the connection after a fault.  The next use outside a
 * transaction connects again at once; only a failed attempt backs off.
 */
static void
drop(struct pg *s)
{
	size_t	id;

	PQfinish(s->conn);
	s->conn = NULL;
	s->timedout = 0;
	for (id = 0; id < SQL__MAX; id++) {
		s->stmts[id].prepared = 0;
		PQclear(s->stmts[id].res);
		s->stmts[id].res = NULL;
	}
}

/*
 * Log the server's message (one line) about what; 500 for the client:
 * "store unavailable: <why>" when the database cannot be used now (the
 * connection is dropped), else "internal store error".
 */
static int
pgerr(struct pg *s, const PGresult *r, struct perr *e, const char *what)
{
	const char	*m, *why;
	size_t		 n;

	if (s->conn == NULL)		/* the drop was logged */
		return perr_set(e, 500, STORE_UNAVAILABLE "%s%s",
		    unavailable(s, r), s->base.in_tx ? "; nothing was written" :
		    "");
	m = r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(s->conn);
	if (m == NULL || *m == '\0')
		m = PQerrorMessage(s->conn);
	if (s->timedout)
		m = "no answer within the deadline";
	n = strcspn(m, "\n");
	log_warnx("store: %s: %.*s", what, (int)n, m);
	if ((why = unavailable(s, r)) == NULL)
		return perr_set(e, 500, "internal store error");
	perr_set(e, 500, STORE_UNAVAILABLE "%s%s", why, s->at_commit ?
	    "; the write may or may not have been committed" :
	    s->base.in_tx ? "; nothing was written" : "");
	if (s->timedout) {
		/* A hung server: do not wait on it again at once. */
		s->backoff = s->backoff ? s->backoff : RETRY_MIN_MS;
		s->retry_at = mono_ms() + s->backoff;
	}
	s->why = why;
	if (s->conn != NULL)
		drop(s);
	return -1;
}

/*
 * Wait, at most until deadline (0: none), until PQgetResult() will not
 * block.  0, or -1 when the deadline passed or poll() failed
 * (s->timedout; the connection is in an unknown state: drop it).  A
 * lost connection returns 0: PQgetResult() says so.
 */
static int
readable(struct pg *s, int64_t deadline)
{
	struct pollfd	 pfd;
	int64_t		 left;
	int		 n;

	while (PQisBusy(s->conn)) {
		pfd.fd = PQsocket(s->conn);
		pfd.events = POLLIN;
		left = deadline ? deadline - mono_ms() : -1;
		if (deadline && left <= 0) {
			s->timedout = 1;
			return -1;
		}
		n = poll(&pfd, 1, (int)left);
		if (n == -1 && errno != EINTR) {
			/* PQgetResult() would wait unbounded. */
			s->timedout = 1;
			return -1;
		}
		if (n == 1 && PQconsumeInput(s->conn) == 0)
			break;
	}
	return 0;
}

/*
 * Wait for the answer to what was just sent (sent: the PQsend*()
 * result), at most s->limit_ms; like PQexec(), returns the last result
 * (an error one if any), or NULL when nothing could be sent or the
 * deadline passed (s->timedout; the connection is dropped: it is in an
 * unknown state).  s->committed tells whether one of the commands was
 * a COMMIT that succeeded.  Free the result with PQclear().
 */
static PGresult *
await(struct pg *s, int sent)
{
	PGresult	*r, *last = NULL;
	int64_t		 deadline;

	s->timedout = 0;
	s->committed = 0;
	if (!sent)
		return NULL;
	s->base.roundtrips++;
	deadline = s->limit_ms > 0 ? mono_ms() + s->limit_ms : 0;
	for (;;) {
		if (readable(s, deadline) == -1) {
			PQclear(last);
			return NULL;
		}
		if ((r = PQgetResult(s->conn)) == NULL)
			break;
		if (PQresultStatus(r) == PGRES_COMMAND_OK &&
		    strcmp(PQcmdStatus(r), "COMMIT") == 0)
			s->committed = 1;
		if (last != NULL && PQresultStatus(last) ==
		    PGRES_FATAL_ERROR) {
			PQclear(r);	/* keep the first error */
			continue;
		}
		PQclear(last);
		last = r;
		if (PQstatus(s->conn) != CONNECTION_OK)
			break;
	}
	return last;
}

/* A command of a pipeline: a prepared statement and its values. */
struct pg_cmd {
	const char		*id;
	int			 nparams;
	const char *const	*vals;
	const char		*name;	/* for the log */
};

/*
 * Send the n commands c as one pipeline, one round trip: a Bind and
 * Execute each, one Sync at the end, so that the server stops at the
 * first error and skips the rest up to the Sync, COMMIT included (as
 * a simple query with several commands would), while each command
 * runs its prepared plan: nothing is parsed or planned per write.
 * Returns like await(): the first error, else command main's result,
 * or NULL (nothing sent, the deadline passed, the connection lost);
 * command also's result (-1: none) goes to *also when it succeeded.
 * Sets s->committed, and s->failed to the name of the command that
 * failed.
 */
static PGresult *
pipeline(struct pg *s, const struct pg_cmd *c, int n, int main, int also,
    PGresult **also_r)
{
	PGresult	*r, *keep = NULL;
	int64_t		 deadline;
	int		 i, ok = 1, st, ended = 0;

	s->timedout = 0;
	s->committed = 0;
	s->failed = NULL;
	if (PQenterPipelineMode(s->conn) == 0)
		return NULL;
	for (i = 0; i < n && ok; i++)
		ok = PQsendQueryPrepared(s->conn, c[i].id, c[i].nparams,
		    c[i].vals, NULL, NULL, 0);
	if (!ok || PQpipelineSync(s->conn) == 0)
		return NULL;	/* in an unknown state: dropped */
	s->base.roundtrips++;
	deadline = s->limit_ms > 0 ? mono_ms() + s->limit_ms : 0;
	/* Command i's results, then a NULL; after the n-th, the Sync. */
	for (;;) {
		if (readable(s, deadline) == -1) {
			PQclear(keep);
			return NULL;
		}
		if ((r = PQgetResult(s->conn)) == NULL) {
			if (++ended > n || PQstatus(s->conn) != CONNECTION_OK)
				break;
			continue;
		}
		st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (st == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r),
		    "COMMIT") == 0)
			s->committed = 1;
		if (st == PGRES_FATAL_ERROR && s->failed == NULL)
			s->failed = c[ended < n ? ended : n - 1].name;
		if (st == PGRES_TUPLES_OK && ended == also && *also_r == NULL) {
			*also_r = r;
			continue;
		}
		if (st == PGRES_PIPELINE_ABORTED || (keep != NULL &&
		    PQresultStatus(keep) == PGRES_FATAL_ERROR) ||
		    (st != PGRES_FATAL_ERROR && ended != main)) {
			PQclear(r);
			continue;
		}
		PQclear(keep);
		keep = r;
	}
	if (PQexitPipelineMode(s->conn) == 0 && keep != NULL &&
	    PQresultStatus(keep) != PGRES_FATAL_ERROR) {
		/* Results left unread: the connection cannot be trusted. */
		PQclear(keep);
		return NULL;
	}
	return keep;
}

/* The highest index this node knows of (1 before the shared state). */
static uint64_t
known_index(void)
{
	return store_shared != NULL ? store_index_max(~0u) : 1;
}

/* PQexec() with the deadline (await()). */
static PGresult *
pq_exec(struct pg *s, const char *sql)
{
	if (s->conn == NULL)
		return NULL;
	return await(s, PQsendQuery(s->conn, sql));
}

/*
 * Connect s with its DSN plus conn_defaults the DSN does not set, and
 * set the session's deadlines.  Returns 0, or -1 (the reason logged,
 * s->conn NULL).
 */
static int
pg_connect(struct pg *s)
{
	PQconninfoOption	*opts, *o;
	const char		*keys[64], *vals[64];
	char			*err = NULL, sql[256];
	PGresult		*r;
	size_t			 n = 0, i;
	int			 st;

	if ((opts = PQconninfoParse(s->dsn, &err)) == NULL) {
		/* err may quote the DSN: not logged. */
		PQfreemem(err);
		log_warnx("store: the PostgreSQL dsn does not parse");
		return -1;
	}
	for (o = opts; o->keyword != NULL && n < 64 - NDEFAULTS - 1; o++)
		if (o->val != NULL) {
			keys[n] = o->keyword;
			vals[n++] = o->val;
		}
	for (i = 0; i < NDEFAULTS; i++) {
		for (o = opts; o->keyword != NULL; o++)
			if (strcmp(o->keyword, conn_defaults[i][0]) == 0)
				break;
		if (o->keyword != NULL && o->val == NULL) {
			keys[n] = conn_defaults[i][0];
			vals[n++] = conn_defaults[i][1];
		}
	}
	keys[n] = vals[n] = NULL;
	s->conn = PQconnectdbParams(keys, vals, 0);
	PQconninfoFree(opts);
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		log_warnx("store: cannot connect to PostgreSQL: %.*s",
		    s->conn ? (int)strcspn(PQerrorMessage(s->conn), "\n") : 13,
		    s->conn ? PQerrorMessage(s->conn) : "out of memory");
		PQfinish(s->conn);
		s->conn = NULL;
		return -1;
	}
	PQsetClientEncoding(s->conn, "UTF8");
	/*
	 * Generic plans for every prepared statement: ours are keyed
	 * lookups and writes, and left to choose (plan_cache_mode auto)
	 * the server went on planning some of them for each execution once
	 * the tables had grown (perf under PUTs that update existing
	 * intentions: GetCachedPlan 15% of all CPU, the planner 11%; PUT
	 * 1,350-1,450/s, and 1,920-2,020/s with generic plans).
	 */
	snprintf(sql, sizeof(sql), "SET client_min_messages = warning; "
	    "SET statement_timeout = %d; "
	    "SET idle_in_transaction_session_timeout = %d; "
	    "SET plan_cache_mode = force_generic_plan",
	    STMT_TIMEOUT_MS, IDLE_TX_TIMEOUT_MS);
	s->limit_ms = CLIENT_TIMEOUT_MS;
	r = pq_exec(s, sql);
	st = PQresultStatus(r);
	PQclear(r);
	if (st != PGRES_COMMAND_OK) {
		log_warnx("store: cannot set up the PostgreSQL session");
		PQfinish(s->conn);
		s->conn = NULL;
		return -1;
	}
	s->planned_at = known_index();
	return 0;
}

/*
 * Make the session's plans again when the store has at least doubled
 * since they were made (and grown by REPLAN_MIN_GROWTH).  A generic
 * plan is made once per connection and kept until the server
 * invalidates it (an ANALYZE of a table it reads, a schema change):
 * one made while a table was a page or two seq-scans it, and goes on
 * doing so as the table grows faster than autovacuum analyzes it
 * (every autovacuum_naptime, 1 min by default, and only past its
 * thresholds).  Seen with pg.sh: 52 intentions analyzed, then 64
 * writers adding ~2,000/s -- intention_put_read's five counts scanned
 * the whole table, 20,000 rows read per write, and PUT fell from 886/s
 * to 448/s to 336/s over three 5 s runs (2,260/s after an ANALYZE).
 * Planned again, the statements see the table's current size (the
 * planner scales the last statistics by its pages now), so the index
 * wins.  The index stands in for the tables' size: every row added
 * moves it.  Doubling keeps it to a few dozen re-plans over a
 * connection's life; DISCARD PLANS keeps the prepared statements (no
 * re-prepare) and costs one round trip outside any transaction.
 */
static void
replan(struct pg *s)
{
	uint64_t	 now = known_index();
	PGresult	*r;

	if (now / 2 < s->planned_at || now - s->planned_at < REPLAN_MIN_GROWTH)
		return;
	s->planned_at = now;	/* once, even when it fails */
	r = pq_exec(s, "DISCARD PLANS");
	if (s->conn != NULL && PQresultStatus(r) != PGRES_COMMAND_OK)
		log_warnx("store: DISCARD PLANS failed");
	PQclear(r);
}

/*
 * Connect with dsn (libpq conninfo or URI; never logged).  Returns 0
 * and a new store in *out, or -1 (500 "store unavailable: cannot open
 * store: ...", the server's reason logged).
 */
static int
pg_open(const char *dsn, struct store **out, struct perr *e)
{
	struct pg	*s;

	s = xcalloc(1, sizeof(*s));
	s->base.ops = &store_pg_ops;
	s->dsn = xstrdup(dsn);
	if (pg_connect(s) == -1) {
		free(s->dsn);
		free(s);
		return perr_set(e, 500, STORE_UNAVAILABLE "cannot open store: "
		    "cannot connect to the database");
	}
	*out = &s->base;
	return 0;
}

static void
pg_close(struct store *bs)
{
	struct pg	*s = PG(bs);
	struct pg_q	*q;
	int		 i;
	size_t		 id;

	for (id = 0; id < SQL__MAX; id++) {
		q = &s->stmts[id];
		PQclear(q->res);
		for (i = 0; i < q->nparams; i++) {
			free(q->names[i]);
			free(q->bufs[i]);
		}
		free(q->names);
		free(q->vals);
		free(q->bufs);
		free(q->caps);
		free(q->text);
		for (i = 0; i < q->nparts; i++) {
			free(q->parts[i].text);
			free(q->parts[i].from);
		}
		free(q->parts);
	}
	PQfinish(s->conn);
	free(s->dsn);
	pending_clear(s);
	free(s->pending);
	free(s);
}

/* Run sql (no parameters, maybe several statements); 0 or -1 (logged). */
static int
pg_exec(struct pg *s, const char *sql, const char *what, struct perr *e)
{
	PGresult	*r;
	int		 st;

	r = pq_exec(s, sql);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pgerr(s, r, e, what);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

/*
 * Apply the migrations of sql/pg/ that the database has not seen, under
 * an advisory lock so that nodes starting together run each once.
 * Refuses (500, with the reason) a database whose schema is newer than
 * this binary.
 */
static int
pg_migrate(struct store *bs, struct perr *e)
{
	struct pg	*s = PG(bs);
	PGresult	*r;
	char		 sql[128];
	int		 have, known, i, rc = -1;

	/* Migrations and the lock wait are as long as they take. */
	s->limit_ms = 0;
	if (pg_exec(s, "SET statement_timeout = 0", "migration", e) == -1 ||
	    pg_exec(s, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")",
	    "migration lock", e) == -1)
		return -1;
	if (pg_exec(s, "CREATE TABLE IF NOT EXISTS portcullis_schema ("
	    "id INTEGER PRIMARY KEY CHECK (id = 1), "
	    "version INTEGER NOT NULL);"
	    "INSERT INTO portcullis_schema VALUES (1, 0) "
	    "ON CONFLICT (id) DO NOTHING", "schema version", e) == -1)
		goto out;
	r = pq_exec(s, "SELECT version FROM portcullis_schema");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		pgerr(s, r, e, "schema version");
		PQclear(r);
		goto out;
	}
	have = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	for (known = 0; sql_pg_migrations[known] != NULL; known++)
		;
	if (have > known) {
		perr_set(e, 500, "the store's schema is at version %d but "
		    "this binary knows %d migrations: run a newer portcullis",
		    have, known);
		goto out;
	}
	for (i = have; i < known; i++) {
		snprintf(sql, sizeof(sql), "UPDATE portcullis_schema "
		    "SET version = %d", i + 1);
		if (pg_exec(s, "BEGIN", "migration begin", e) == -1)
			goto out;
		if (pg_exec(s, sql_pg_migrations[i], sql_pg_migration_names[i],
		    e) == -1 || pg_exec(s, sql, "schema version", e) == -1 ||
		    pg_exec(s, "COMMIT", "migration commit", e) == -1) {
			pg_exec(s, "ROLLBACK", "migration rollback", e);
			perr_set(e, 500, "migration %s failed",
			    sql_pg_migration_names[i]);
			goto out;
		}
		log_info("store: applied migration pg/%s",
		    sql_pg_migration_names[i]);
	}
	rc = 0;
out:
	r = pq_exec(s, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")");
	PQclear(r);
	snprintf(sql, sizeof(sql), "SET statement_timeout = %d",
	    STMT_TIMEOUT_MS);
	r = pq_exec(s, sql);
	PQclear(r);
	s->limit_ms = CLIENT_TIMEOUT_MS;
	return rc;
}

/* Index of parameter name (":x") in q, adding it when add; or -1. */
static int
param_index(struct pg_q *q, const char *name, size_t len, int add)
{
	int	i;

	for (i = 0; i < q->nparams; i++)
		if (strncmp(q->names[i], name, len) == 0 &&
		    q->names[i][len] == '\0')
			return i;
	if (!add)
		return -1;
	q->names = xrealloc(q->names, (q->nparams + 1) * sizeof(char *));
	q->names[q->nparams] = xstrndup(name, len);
	return q->nparams++;
}

/*
 * Build q->text from sql: every ":name" outside quotes becomes "$n",
 * one n per distinct name ("::" casts stay).  Once per statement.
 */
static void
translate(struct pg_q *q, const char *sql)
{
	char		*out, *o;
	const char	*p, *n;
	char		 quote;
	int		 i;

	o = out = xmalloc(strlen(sql) * 2 + 1);
	for (p = sql; *p != '\0'; ) {
		if (*p == '\'' || *p == '"') {
			quote = *p;
			*o++ = *p++;
			while (*p != '\0' && *p != quote)
				*o++ = *p++;
			if (*p != '\0')
				*o++ = *p++;
			continue;
		}
		if (p[0] == ':' && p[1] == ':') {
			*o++ = *p++;
			*o++ = *p++;
			continue;
		}
		if (p[0] == ':' && (isalpha((unsigned char)p[1]) ||
		    p[1] == '_')) {
			for (n = p + 1; isalnum((unsigned char)*n) ||
			    *n == '_'; n++)
				;
			i = param_index(q, p, (size_t)(n - p), 1);
			o += sprintf(o, "$%d", i + 1);
			p = n;
			continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
	q->text = out;
	q->vals = xcalloc(q->nparams ? q->nparams : 1, sizeof(char *));
	q->bufs = xcalloc(q->nparams ? q->nparams : 1, sizeof(char *));
	q->caps = xcalloc(q->nparams ? q->nparams : 1, sizeof(size_t));
}

/*
 * Split sql, a statement of several commands (the transaction's ends),
 * into q's parts, each translated on its own, its parameters mapped to
 * q's by name (translate(q, sql) came first).  Once per statement.
 */
static void
split(struct pg_q *q, const char *sql, size_t id)
{
	struct pg_part	*part;
	struct pg_q	 t;
	const char	*p, *start;
	char		*cmd, quote;
	int		 j;

	for (start = p = sql; ; p++) {
		if (*p == '\'' || *p == '"') {
			for (quote = *p++; *p != '\0' && *p != quote; p++)
				;
			if (*p == '\0')
				break;
			continue;
		}
		if (*p != ';' && *p != '\0')
			continue;
		cmd = xstrndup(start, (size_t)(p - start));
		if (cmd[strspn(cmd, " \t\n")] != '\0') {
			memset(&t, 0, sizeof(t));
			translate(&t, cmd);
			q->parts = xrealloc(q->parts, (size_t)(q->nparts + 1) *
			    sizeof(*q->parts));
			part = &q->parts[q->nparts];
			memset(part, 0, sizeof(*part));
			snprintf(part->id, sizeof(part->id), "q%zu_%d", id,
			    q->nparts++);
			part->text = t.text;
			part->nparams = t.nparams;
			part->from = xcalloc(t.nparams ? t.nparams : 1,
			    sizeof(int));
			for (j = 0; j < t.nparams; j++) {
				part->from[j] = param_index(q, t.names[j],
				    strlen(t.names[j]), 0);
				free(t.names[j]);
			}
			free(t.names);
			free(t.vals);
			free(t.bufs);
			free(t.caps);
		}
		free(cmd);
		if (*p == '\0')
			break;
		start = p + 1;
	}
}

/*
 * Whether s can run a statement now (outside a transaction): a
 * connection the server closed while it was idle is dropped first (its
 * socket turned readable: a terminated backend, a shutdown), a dropped
 * one is opened again once its back-off has passed.  Every statement
 * prepares again on a new connection.  Returns 0, or -1 (s->conn NULL).
 */
static int
usable(struct pg *s)
{
	struct pollfd	 pfd;
	PGresult	*r;
	int64_t		 now;

	if (s->conn != NULL) {
		pfd.fd = PQsocket(s->conn);
		pfd.events = POLLIN;
		if (PQstatus(s->conn) == CONNECTION_OK &&
		    (poll(&pfd, 1, 0) != 1 || (PQconsumeInput(s->conn) != 0 &&
		    PQstatus(s->conn) == CONNECTION_OK))) {
			replan(s);	/* may drop a connection that fails */
			if (s->conn != NULL)
				return 0;
		} else {
			log_warnx("store: the PostgreSQL connection was "
			    "closed");
			drop(s);
		}
	}
	now = mono_ms();
	if (now < s->retry_at)
		return -1;
	if (pg_connect(s) == -1) {
		s->why = "cannot connect to the database";
		s->backoff = s->backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS :
		    s->backoff < RETRY_MIN_MS ? RETRY_MIN_MS : s->backoff * 2;
		s->retry_at = mono_ms() + s->backoff;
		return -1;
	}
	s->backoff = 0;
	s->why = NULL;
	if (s->listening) {
		r = pq_exec(s, "SET application_name = 'portcullis watch'; "
		    "LISTEN " STORE_PG_CHANNEL);
		PQclear(r);
	}
	log_info("store: reconnected to PostgreSQL");
	return 0;
}

/* Prepare text as the server-side statement id.  0 or -1 (logged). */
static int
prepare1(struct pg *s, const char *id, const char *text, int nparams,
    const char *what, struct perr *e)
{
	PGresult	*r;

	r = await(s, PQsendPrepare(s->conn, id, text, nparams, NULL));
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pgerr(s, r, e, what);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

/*
 * Prepare q on its connection, once per connection (a statement of
 * several commands: each part).  0 or -1 (logged).
 */
static int
prepare(struct pg *s, struct pg_q *q, struct perr *e)
{
	const char	*what = sql_names[q - s->stmts];
	int		 k;

	if (q->prepared)
		return 0;
	/* Dropped since store_stmt() (by a failed prepare): once more. */
	if (s->conn == NULL && (s->base.in_tx || usable(s) == -1))
		return pgerr(s, NULL, e, what);
	if (q->nparts == 0 && prepare1(s, q->id, q->text, q->nparams, what,
	    e) == -1)
		return -1;
	for (k = 0; k < q->nparts; k++)
		if (prepare1(s, q->parts[k].id, q->parts[k].text,
		    q->parts[k].nparams, what, e) == -1)
			return -1;
	q->prepared = 1;
	return 0;
}

/*
 * The statement, reset.  NULL only when it does not prepare on a
 * working connection (a bug, logged): when the database cannot be used
 * now, store_step() says so ("store unavailable").
 */
static struct store_q *
pg_stmt(struct store *bs, enum sql_id id)
{
	struct pg	*s = PG(bs);
	struct pg_q	*q = &s->stmts[id];
	struct perr	 e;
	int		 i;

	if (q->text == NULL) {
		q->base.ops = &store_pg_ops;
		q->s = s;
		snprintf(q->id, sizeof(q->id), "q%zu", (size_t)id);
		translate(q, sqls_pg[id]);
		/*
		 * The transaction's ends hold several commands each (one
		 * round trip; sql/queries/pg/store.sql), which a prepared
		 * statement cannot: each is prepared on its own, and they
		 * go as one pipeline (pipeline()).
		 */
		if (id == SQL_TX_BEGIN || id == SQL_TX_COMMIT)
			split(q, sqls_pg[id], id);
	}
	PQclear(q->res);
	q->res = NULL;
	for (i = 0; i < q->nparams; i++)
		q->vals[i] = NULL;
	if ((bs->in_tx ? s->conn != NULL : usable(s) == 0) &&
	    prepare(s, q, &e) == -1 && s->conn != NULL)
		return NULL;
	return &q->base;
}

/*
 * Whether the open transaction's start failed when the index was asked
 * for (pg_tx_index()): then every later statement, and the COMMIT, fail
 * with that error in *e.
 */
static int
start_failed(struct pg *s, struct perr *e)
{
	if (!s->base.in_tx || !s->begin_failed)
		return 0;
	*e = s->begin_err;
	return 1;
}

/* Forget the deferred writes (sent, or abandoned with the transaction). */
static void
pending_clear(struct pg *s)
{
	struct pg_deferred	*d;
	size_t			 k;
	int			 i;

	for (k = 0; k < s->npending; k++) {
		d = &s->pending[k];
		for (i = 0; i < d->nparams; i++)
			free(d->vals[i]);
		free(d->vals);
	}
	s->npending = 0;
}

/*
 * store_defer(): keep write q of the open transaction, with copies of
 * its values, to send with the next round trip, in front of the next
 * statement in the same pipeline (pipeline(): the first error stops
 * the rest, COMMIT included).  Without a connection it runs at once
 * (and fails as pg_step() says).
 */
static int
pg_defer(struct store *bs, struct store_q *bq, struct perr *e)
{
	struct pg		*s = PG(bs);
	struct pg_q		*q = PGQ(bq);
	struct pg_deferred	*d;
	int			 rc, i;

	if (start_failed(s, e)) {
		pg_reset(bq);
		return -1;
	}
	if (s->conn == NULL || q->nparts > 0) {
		rc = pg_step(bs, bq, e);
		pg_reset(bq);
		return rc < 0 ? -1 : 0;
	}
	if (prepare(s, q, e) == -1) {
		pg_reset(bq);
		return -1;
	}
	if (s->npending == s->cappending) {
		s->cappending = s->cappending ? s->cappending * 2 : 8;
		s->pending = xrealloc(s->pending, s->cappending *
		    sizeof(*s->pending));
	}
	d = &s->pending[s->npending++];
	d->id = q->id;
	d->qid = (int)(q - s->stmts);
	d->nparams = q->nparams;
	d->vals = xcalloc(q->nparams ? q->nparams : 1, sizeof(char *));
	for (i = 0; i < q->nparams; i++)
		d->vals[i] = q->vals[i] != NULL ? xstrdup(q->vals[i]) : NULL;
	pg_reset(bq);
	return 0;
}

/* The index and the audit chain's head, from tx_begin's last command. */
static void
begun(struct pg *s, const PGresult *r)
{
	struct store	*bs = &s->base;

	bs->tx_index = (uint64_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	if (!PQgetisnull(r, 0, 1)) {
		bs->head_known = 1;
		bs->head_seq = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		snprintf(bs->head_hash, sizeof(bs->head_hash), "%s",
		    PQgetvalue(r, 0, 2));
		bs->head_anchor = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	}
}

/* Append the commands of q (its parts, or itself) to c at *k. */
static void
add_cmds(struct pg *s, struct pg_q *q, struct pg_cmd *c, size_t *k,
    const char **vals, size_t *nvals)
{
	const char	*name = sql_names[q - s->stmts];
	int		 p, j;

	if (q->nparts == 0) {
		c[*k].id = q->id;
		c[*k].nparams = q->nparams;
		c[*k].vals = (const char *const *)q->vals;
		c[(*k)++].name = name;
		return;
	}
	for (p = 0; p < q->nparts; p++) {
		c[*k].id = q->parts[p].id;
		c[*k].nparams = q->parts[p].nparams;
		c[*k].vals = vals + *nvals;
		c[(*k)++].name = name;
		for (j = 0; j < q->parts[p].nparams; j++)
			vals[(*nvals)++] = q->vals[q->parts[p].from[j]];
	}
}

/*
 * Prepare again, on a new connection, what send_all() is to send:
 * tx_begin, the deferred writes' statements, q.  0 or -1 (logged).
 */
static int
prepare_all(struct pg *s, struct pg_q *q, struct perr *e)
{
	size_t	k;

	if (prepare(s, &s->stmts[SQL_TX_BEGIN], e) == -1)
		return -1;
	for (k = 0; k < s->npending; k++)
		if (prepare(s, &s->stmts[s->pending[k].qid], e) == -1)
			return -1;
	return q != NULL ? prepare(s, q, e) : 0;
}

/*
 * One round trip, one pipeline: the transaction's start when it has
 * not been sent yet (pg_begin() leaves it for the first statement, so
 * that the index's row lock is not held across a client turn of its
 * own), the deferred writes, then q (each part of q when it has
 * several; NULL: none).  The result as await() gives it: q's, or the
 * start's when q is NULL.  A start that finds the connection lost
 * (a backend terminated while idle, its FATAL not yet read) left
 * nothing behind: it goes once more on a new connection.
 */
static PGresult *
send_all(struct pg *s, struct pg_q *q, struct perr *e)
{
	struct pg_q	*b = &s->stmts[SQL_TX_BEGIN];
	struct pg_cmd	*c;
	const char	**vals;
	PGresult	*r, *br;
	size_t		 k, n, nvals = 0;
	int		 p, with_begin, nb, tries;

	with_begin = s->begin_pending;
	s->begin_pending = 0;
	nb = with_begin ? b->nparts : 0;
	n = (size_t)nb + s->npending + (q == NULL ? 0 : q->nparts ?
	    (size_t)q->nparts : 1);
	c = xcalloc(n, sizeof(*c));
	for (p = 0; p < nb; p++)
		nvals += (size_t)b->parts[p].nparams;
	for (p = 0; q != NULL && p < q->nparts; p++)
		nvals += (size_t)q->parts[p].nparams;
	vals = xcalloc(nvals ? nvals : 1, sizeof(char *));
	for (tries = 0; ; tries++) {
		k = nvals = 0;
		if (with_begin)
			add_cmds(s, b, c, &k, vals, &nvals);
		for (; k < (size_t)nb + s->npending; k++) {
			c[k].id = s->pending[k - nb].id;
			c[k].nparams = s->pending[k - nb].nparams;
			c[k].vals = (const char *const *)s->pending[k - nb].vals;
			c[k].name = sql_names[s->pending[k - nb].qid];
		}
		if (q != NULL)
			add_cmds(s, q, c, &k, vals, &nvals);
		br = NULL;
		r = pipeline(s, c, (int)n, q != NULL ? (int)n - 1 : nb - 1,
		    q != NULL ? nb - 1 : -1, &br);
		if (with_begin && br != NULL)
			begun(s, br);
		if (q == NULL && with_begin && PQresultStatus(r) ==
		    PGRES_TUPLES_OK)
			begun(s, r);
		PQclear(br);
		if (!with_begin || tries > 0 || s->timedout ||
		    (PQresultStatus(r) == PGRES_TUPLES_OK ||
		    PQresultStatus(r) == PGRES_COMMAND_OK) ||
		    unavailable(s, r) != lost)
			break;
		log_warnx("store: the PostgreSQL connection was lost before "
		    "the transaction began; once more on a new one");
		PQclear(r);
		drop(s);
		if (usable(s) == -1 || prepare_all(s, q, e) == -1) {
			r = NULL;
			break;
		}
	}
	pending_clear(s);
	free(vals);
	free(c);
	return r;
}

/*
 * Send the transaction's start now, if pg_begin() left it for later
 * (store_tx_index(), a COMMIT with nothing before it).  0 or -1.
 */
static int
begin_now(struct pg *s, struct perr *e)
{
	PGresult	*r;

	if (!s->begin_pending)
		return 0;
	if (s->conn == NULL)
		return pgerr(s, NULL, e, sql_names[SQL_TX_BEGIN]);
	r = send_all(s, NULL, e);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (s->conn != NULL || e->status == 0)
			pgerr(s, r, e, s->failed != NULL ? s->failed :
			    sql_names[SQL_TX_BEGIN]);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

static int
pg_step(struct store *bs, struct store_q *bq, struct perr *e)
{
	struct pg_q	*q = PGQ(bq);
	struct pg	*s = q->s;
	const char	*state;
	int		 st;

	if (q->res == NULL) {
		bs->conflict = 0;
		s->failed = NULL;
		if (prepare(s, q, e) == -1) {
			pending_clear(s);
			return STORE_ERR;
		}
		if (start_failed(s, e))
			return STORE_ERR;
		if (q->nparts == 0 && s->npending == 0 && !s->begin_pending)
			q->res = await(s, PQsendQueryPrepared(s->conn, q->id,
			    q->nparams, (const char *const *)q->vals, NULL,
			    NULL, 0));
		else
			q->res = send_all(s, q, e);
		if (q->res == NULL && s->conn == NULL && e->status) {
			pending_clear(s);
			return STORE_ERR;	/* no new connection: said */
		}
		st = PQresultStatus(q->res);
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			state = PQresultErrorField(q->res, PG_DIAG_SQLSTATE);
			bs->conflict = state != NULL && strncmp(state, "23",
			    2) == 0;
			pgerr(s, q->res, e, s->failed != NULL ? s->failed :
			    sql_names[q - s->stmts]);
			PQclear(q->res);
			q->res = NULL;
			return STORE_ERR;
		}
		q->nrows = PQntuples(q->res);
		q->row = -1;
		s->changes = strtoll(PQcmdTuples(q->res), NULL, 10);
	}
	if (++q->row < q->nrows)
		return STORE_ROW;
	/* Like sqlite3_step(): the next step runs the statement again. */
	PQclear(q->res);
	q->res = NULL;
	return STORE_DONE;
}

static void
pg_reset(struct store_q *bq)
{
	struct pg_q	*q = PGQ(bq);

	PQclear(q->res);
	q->res = NULL;
}

static int64_t
pg_changes(const struct store_q *bq)
{
	return ((const struct pg_q *)bq)->s->changes;
}

static int
param(struct pg_q *q, const char *name)
{
	int	i;

	if ((i = param_index(q, name, strlen(name), 0)) == -1)
		fatalx("store: no parameter %s in %s", name,
		    sql_names[q - q->s->stmts]);
	return i;
}

/* Copy v into parameter i's buffer, growing it when needed. */
static void
bind(struct pg_q *q, int i, const char *v, size_t len)
{
	if (q->caps[i] < len + 1) {
		q->caps[i] = len + 1 < 32 ? 32 : len + 1;
		q->bufs[i] = xrealloc(q->bufs[i], q->caps[i]);
	}
	memcpy(q->bufs[i], v, len);
	q->bufs[i][len] = '\0';
	q->vals[i] = q->bufs[i];
}

static void
pg_bind_text(struct store_q *bq, const char *name, const char *v)
{
	struct pg_q	*q = PGQ(bq);
	int		 i = param(q, name);

	if (v == NULL)
		q->vals[i] = NULL;
	else
		bind(q, i, v, strlen(v));
}

static void
pg_bind_int(struct store_q *bq, const char *name, int64_t v)
{
	struct pg_q	*q = PGQ(bq);
	char		 buf[24];
	int		 n;

	n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
	bind(q, param(q, name), buf, (size_t)n);
}

static const char *
pg_col_text(struct store_q *bq, int col)
{
	struct pg_q	*q = PGQ(bq);

	if (q->res == NULL || q->row < 0 || q->row >= q->nrows ||
	    col >= PQnfields(q->res) || PQgetisnull(q->res, q->row, col))
		return NULL;
	return PQgetvalue(q->res, q->row, col);
}

static int64_t
pg_col_int(struct store_q *bq, int col)
{
	const char	*v = pg_col_text(bq, col);

	return v == NULL ? 0 : strtoll(v, NULL, 10);
}

static int
pg_col_isnull(struct store_q *bq, int col)
{
	return pg_col_text(bq, col) == NULL;
}

/*
 * The writer gate.  Every write transaction holds the 'raft' row lock
 * from its first round trip to its COMMIT; when many wait for it, each
 * hand-over wakes one of a crowd of backends and the lock's queue costs
 * more than the work (measured with pgbench on 2 cores, the tx_begin ..
 * tx_commit pattern: ~1,000 commits/s with 64 clients, ~1,250 with 8,
 * ~1,950 with 2).  So a node lets STORE_PG_WRITERS of its write
 * transactions into the database at once and queues the others on a
 * process-shared semaphore (struct shared), whose hand-over is a futex
 * wake.  It only orders writers: correctness stays with the row lock,
 * so a writer that waited STMT_TIMEOUT_MS goes on without an entry
 * rather than fail, and one killed while holding an entry gives it back
 * through the master (store_worker_gone()).
 */
static void
gate_enter(struct pg *s)
{
	struct timespec	 ts;
	volatile int64_t *held = &store_shared->pg_gate_held[store_slot];
	int		 rc;

	__atomic_add_fetch(held, 1, __ATOMIC_SEQ_CST);
	if (sem_trywait(&store_shared->pg_gate) == 0) {
		s->gated = 1;
		return;
	}
	__atomic_add_fetch(&store_shared->pg_gate_waited, 1, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += STMT_TIMEOUT_MS / 1000;
	while ((rc = sem_clockwait(&store_shared->pg_gate, CLOCK_MONOTONIC,
	    &ts)) == -1 && errno == EINTR)
		;
	if (rc == 0) {
		s->gated = 1;
		return;
	}
	__atomic_sub_fetch(held, 1, __ATOMIC_SEQ_CST);
	log_warnx("store: waited %d ms for the writer gate; going on "
	    "without it", STMT_TIMEOUT_MS);
}

static void
gate_leave(struct pg *s)
{
	if (!s->gated)
		return;
	s->gated = 0;
	sem_post(&store_shared->pg_gate);
	__atomic_sub_fetch(&store_shared->pg_gate_held[store_slot], 1,
	    __ATOMIC_SEQ_CST);
}

/*
 * Start a write transaction (tx_begin): BEGIN, an asynchronous commit
 * for it (pg_commit() makes it durable), the next global index, whose
 * row lock makes every other writer wait until this one commits (top
 * of this file).  Nothing is sent yet: the start goes in front of the
 * transaction's first statement, in its round trip (send_all()), or
 * when the index is asked for first (pg_tx_index()).  Every early exit
 * after this must call store_rollback().
 */
static int
pg_begin(struct store *bs, struct perr *e)
{
	struct pg	*s = PG(bs);
	struct store_q	*st;

	if (bs->in_tx)
		fatalx("store: nested transaction");
	memset(bs->touched, 0, sizeof(bs->touched));
	pending_clear(s);
	s->rt_begin = bs->roundtrips;
	s->begin_failed = 0;
	gate_enter(s);
	/* Connects again first when the connection was lost (usable()). */
	st = pg_stmt(bs, SQL_TX_BEGIN);
	bs->in_tx = 1;
	if (st == NULL || s->conn == NULL || !PGQ(st)->prepared) {
		if (e->status == 0)
			pgerr(s, NULL, e, sql_names[SQL_TX_BEGIN]);
		pg_rollback(bs);
		return -1;
	}
	s->begin_pending = 1;
	return 0;
}

/*
 * store_tx_index(): the index, asked for before any statement was
 * sent; the start goes now, and a failure is the next statement's.
 */
static uint64_t
pg_tx_index(struct store *bs)
{
	struct pg	*s = PG(bs);

	if (s->begin_pending && !s->begin_failed) {
		perr_clear(&s->begin_err);
		if (begin_now(s, &s->begin_err) == -1)
			s->begin_failed = 1;
	}
	return bs->tx_index;
}

/* *p = max(*p, v), shared between processes. */
static void
raise_shared(volatile uint64_t *p, uint64_t v)
{
	uint64_t	cur = __atomic_load_n(p, __ATOMIC_ACQUIRE);

	while (cur < v && !__atomic_compare_exchange_n(p, &cur, v, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

/*
 * Commit, in one round trip (tx_commit): record the touched tables'
 * indexes, announce "<index> <table>,<table>.." to every node's watch
 * connection (store.c raises its shared indexes from it without a
 * query), COMMIT, flush, and read table_index into the shared index
 * page; the deferred writes go first.  Then wake blocking queries.
 * Table names are [a-z-] only.
 *
 * Durability: the COMMIT is asynchronous (tx_begin), so the locks that
 * order writers are not held through the WAL flush; the flush follows
 * in the same round trip, outside them, and only once it returned is
 * the commit acknowledged (0).  WAL is flushed in order and indexes are
 * given in commit order, so a crash before the flush loses this commit
 * and every later one together, never one without those before it.
 * Others may see the commit, and wake on it, a moment before it is on
 * disk.  The shared page counts the flushes (fsyncs) and durable
 * commits, and 'synced' covers the index.
 *
 * Failures: a transaction that an earlier error aborted commits as a
 * rollback (500); a COMMIT or a flush cut off leaves the outcome on
 * disk unknown: 500, "may or may not have been committed", never 0.
 */
static int
pg_commit(struct store *bs, struct perr *e)
{
	struct pg	*s = PG(bs);
	struct store_q	*st;
	struct perr	 e2;
	char		 names[512];
	size_t		 t, n = 0;
	int		 committed, rc = 0;

	names[0] = '\0';
	for (t = 1; t < TBL__MAX && n < sizeof(names); t++)
		if (bs->touched[t])
			n += (size_t)snprintf(names + n, sizeof(names) - n,
			    "%s%s", n ? "," : "", store_table_name(
			    (enum table)t));
	if (start_failed(s, e) || begin_now(s, e) == -1 ||
	    (st = pg_stmt(bs, SQL_TX_COMMIT)) == NULL)
		goto fail;
	pg_bind_text(st, ":names", names);
	pg_bind_int(st, ":idx", (int64_t)bs->tx_index);
	s->at_commit = 1;	/* a fault now leaves the outcome unknown */
	if (pg_step(bs, st, e) != STORE_ROW)
		rc = -1;
	committed = s->committed;
	s->at_commit = 0;
	gate_leave(s);
	/* The indexes, read after the COMMIT (tx_commit's last rows). */
	if (rc == 0)
		do
			store_shared_index(pg_col_text(st, 1),
			    (uint64_t)pg_col_int(st, 2));
		while (pg_step(bs, st, e) == STORE_ROW);
	pg_reset(st);
	if (!committed)
		goto fail;
	if (rc == -1 && strchr(e->msg, ';') == NULL)
		perr_set(e, 500, "internal store error; the write may or may "
		    "not have been committed");
	bs->in_tx = 0;
	log_debug("store: transaction %llu: %llu round trips to COMMIT",
	    (unsigned long long)bs->tx_index,
	    (unsigned long long)(bs->roundtrips - s->rt_begin));
	raise_shared(&store_shared->committed, bs->tx_index);
	if (rc == 0) {
		__atomic_add_fetch(&store_shared->fsyncs, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&store_shared->durable, 1,
		    __ATOMIC_RELAXED);
		raise_shared(&store_shared->synced, bs->tx_index);
	}
	/*
	 * Visible either way: wake whoever waits on it.  The indexes came
	 * with the flush; without it, ask (other nodes' commits).
	 */
	perr_clear(&e2);
	if (rc == -1 && (s->conn == NULL || store_load_shared(bs,
	    &e2) == -1) && e2.status)
		log_warnx("store: cannot refresh the indexes: %s", e2.msg);
	store_publish(bs->touched, bs->tx_index);
	return rc;
fail:
	pg_rollback(bs);
	return e->status ? -1 : perr_set(e, 500, "internal store error");
}

/* Abandon the open write transaction, if any. */
static void
pg_rollback(struct store *bs)
{
	struct pg	*s = PG(bs);
	PGresult	*r;

	pending_clear(s);
	gate_leave(s);
	s->begin_failed = 0;
	if (!bs->in_tx)
		return;
	bs->in_tx = 0;
	if (s->begin_pending) {		/* nothing was sent */
		s->begin_pending = 0;
		return;
	}
	if (PQstatus(s->conn) != CONNECTION_OK)
		return;
	r = pq_exec(s, "ROLLBACK");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		drop(s);	/* in an unknown state */
	PQclear(r);
}

/*
 * Cross-node wake-ups: every write transaction NOTIFYs its index and
 * tables with its COMMIT (notify_sql()); PostgreSQL delivers that at
 * COMMIT, in commit order, to every session that LISTENs -- one per
 * node, the master's watch connection (store.c).
 */
static int
pg_listen(struct store *bs, struct perr *e)
{
	struct pg	*s = PG(bs);

	/* Named for operators (pg_stat_activity), and for the tests. */
	if (pg_exec(s, "SET application_name = 'portcullis watch'; "
	    "LISTEN " STORE_PG_CHANNEL, "listen", e) == -1)
		return -1;
	s->listening = 1;
	return 0;
}

/* The socket to poll for notifications, or -1 when disconnected. */
static int
pg_listen_fd(struct store *bs)
{
	struct pg	*s = PG(bs);

	return PQstatus(s->conn) == CONNECTION_OK ? PQsocket(s->conn) : -1;
}

/*
 * Read what the server sent, without blocking, and apply each
 * notification (store_notified()).  Returns the number received, their
 * highest index in *max (raised only), or -1 when the connection is
 * lost.
 */
static int
pg_notified(struct store *bs, uint64_t *max)
{
	struct pg	*s = PG(bs);
	PGnotify	*n;
	uint64_t	 v;
	int		 c = 0;

	if (PQstatus(s->conn) != CONNECTION_OK ||
	    PQconsumeInput(s->conn) == 0 ||
	    PQstatus(s->conn) != CONNECTION_OK)
		return -1;
	while ((n = PQnotifies(s->conn)) != NULL) {
		v = store_notified(n->extra != NULL ? n->extra : "");
		if (v > *max)
			*max = v;
		c++;
		PQfreemem(n);
	}
	return c;
}

/* PostgreSQL maintains itself (autovacuum): nothing to start. */
static int
pg_checkpointer(const char *dsn)
{
	(void)dsn;
	return 0;
}

static int
pg_checkpoint(struct store *bs)
{
	(void)bs;
	return 0;
}

const struct store_ops store_pg_ops = {
	.name = "postgres",
	.init = pg_init,
	.open = pg_open,
	.close = pg_close,
	.migrate = pg_migrate,
	.checkpointer = pg_checkpointer,
	.checkpoint = pg_checkpoint,
	.stmt = pg_stmt,
	.step = pg_step,
	.reset = pg_reset,
	.changes = pg_changes,
	.bind_text = pg_bind_text,
	.bind_int = pg_bind_int,
	.col_text = pg_col_text,
	.col_int = pg_col_int,
	.col_isnull = pg_col_isnull,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.defer = pg_defer,
	.tx_index = pg_tx_index,
	.listen = pg_listen,
	.listen_fd = pg_listen_fd,
	.notified = pg_notified,
};
