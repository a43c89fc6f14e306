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
 * Writes and the modify index: store_begin() sends BEGIN and then
 * increments the 'raft' row of table_index (UPDATE ... RETURNING).  The
 * row lock that UPDATE takes is held until COMMIT or ROLLBACK, so every
 * other writer -- on any connection of any node -- waits at that same
 * statement, and READ COMMITTED gives each of its later statements a
 * snapshot that includes the previous writer's commit.  Writers are
 * thus serialized, and their indexes grow in commit order: a reader who
 * saw index N sees every change with an index <= N.  store_commit()
 * records the index of each table touched (table_index rows), commits,
 * then refreshes the node's shared index page from table_index (it may
 * hold other nodes' commits) and wakes blocking queries.  The writes of
 * a process's threads share transactions, one savepoint and one index
 * each, so that one COMMIT serves several (group commit, at
 * pg_begin()).
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
 * A connection lost outside a transaction is reset at the next
 * store_stmt() and its statements prepared again.
 */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "portcullis.h"
#include "store.h"
#include "store_be.h"

/* pg_advisory_lock key of the migrations: "pcul" */
#define MIGRATE_LOCK	"1885566316"

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
	PGresult	*res;		/* of the last run, until reset */
	int		 row;		/* current row of res */
	int		 nrows;
	char		 id[16];	/* server-side name */
};

struct pg {
	struct store	 base;
	PGconn		*conn;
	int64_t		 changes;	/* rows of the last statement */
	int		 listening;	/* LISTEN again after a reconnect */
	struct pg	*borrow;	/* in a write: the group's connection */
	struct pg_q	 stmts[SQL__MAX];
};

#define PG(x)	((struct pg *)(x))
#define PGQ(x)	((struct pg_q *)(x))

static void	pg_rollback(struct store *);

static void
pg_init(void)
{
}

/* Log the server's message (one line) about what; 500 for the client. */
static int
pgerr(struct pg *s, const PGresult *r, struct perr *e, const char *what)
{
	const char	*m;
	size_t		 n;

	m = r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(s->conn);
	if (m == NULL || *m == '\0')
		m = PQerrorMessage(s->conn);
	n = strcspn(m, "\n");
	log_warnx("store: %s: %.*s", what, (int)n, m);
	return perr_set(e, 500, "internal store error");
}

/*
 * Connect with dsn (libpq conninfo or URI; never logged).  Returns 0
 * and a new store in *out, or -1 (500 "cannot open store", the server's
 * reason logged).
 */
static int
pg_open(const char *dsn, struct store **out, struct perr *e)
{
	struct pg	*s;
	PGresult	*r;

	s = xcalloc(1, sizeof(*s));
	s->base.ops = &store_pg_ops;
	s->conn = PQconnectdb(dsn);
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		log_warnx("store: cannot connect to PostgreSQL: %.*s",
		    s->conn ? (int)strcspn(PQerrorMessage(s->conn), "\n") : 13,
		    s->conn ? PQerrorMessage(s->conn) : "out of memory");
		PQfinish(s->conn);
		free(s);
		return perr_set(e, 500, "cannot open store");
	}
	PQsetClientEncoding(s->conn, "UTF8");
	r = PQexec(s->conn, "SET client_min_messages = warning");
	PQclear(r);
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
	}
	PQfinish(s->conn);
	free(s);
}

/* Run sql (no parameters, maybe several statements); 0 or -1 (logged). */
static int
pg_exec(struct pg *s, const char *sql, const char *what, struct perr *e)
{
	PGresult	*r;
	int		 st;

	r = PQexec(s->conn, sql);
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

	if (pg_exec(s, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")",
	    "migration lock", e) == -1)
		return -1;
	if (pg_exec(s, "CREATE TABLE IF NOT EXISTS portcullis_schema ("
	    "id INTEGER PRIMARY KEY CHECK (id = 1), "
	    "version INTEGER NOT NULL);"
	    "INSERT INTO portcullis_schema VALUES (1, 0) "
	    "ON CONFLICT (id) DO NOTHING", "schema version", e) == -1)
		goto out;
	r = PQexec(s->conn, "SELECT version FROM portcullis_schema");
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
	r = PQexec(s->conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")");
	PQclear(r);
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

/* After a lost connection: reconnect; every statement prepares again. */
static int
reconnect(struct pg *s)
{
	size_t	id;

	PQreset(s->conn);
	if (PQstatus(s->conn) != CONNECTION_OK)
		return -1;
	PQsetClientEncoding(s->conn, "UTF8");
	if (s->listening)
		PQclear(PQexec(s->conn, "LISTEN " STORE_PG_CHANNEL));
	for (id = 0; id < SQL__MAX; id++) {
		s->stmts[id].prepared = 0;
		PQclear(s->stmts[id].res);
		s->stmts[id].res = NULL;
	}
	log_info("store: reconnected to PostgreSQL");
	return 0;
}

static struct store_q *
pg_stmt(struct store *bs, enum sql_id id)
{
	struct pg	*s = PG(bs)->borrow ? PG(bs)->borrow : PG(bs);
	struct pg_q	*q = &s->stmts[id];
	struct perr	 e;
	PGresult	*r;
	int		 i;

	if (PQstatus(s->conn) != CONNECTION_OK && !bs->in_tx &&
	    reconnect(s) == -1) {
		pgerr(s, NULL, &e, "reconnect");
		return NULL;
	}
	if (q->text == NULL) {
		q->base.ops = &store_pg_ops;
		q->s = s;
		snprintf(q->id, sizeof(q->id), "q%zu", (size_t)id);
		translate(q, sqls_pg[id]);
	}
	if (!q->prepared) {
		r = PQprepare(s->conn, q->id, q->text, q->nparams, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			pgerr(s, r, &e, sql_names[id]);
			PQclear(r);
			return NULL;
		}
		PQclear(r);
		q->prepared = 1;
	}
	PQclear(q->res);
	q->res = NULL;
	for (i = 0; i < q->nparams; i++)
		q->vals[i] = NULL;
	return &q->base;
}

static int
pg_step(struct store *bs, struct store_q *bq, struct perr *e)
{
	struct pg_q	*q = PGQ(bq);
	struct pg	*s = q->s;
	const char	*state;
	int		 st;

	if (q->res == NULL) {
		q->res = PQexecPrepared(s->conn, q->id, q->nparams,
		    (const char *const *)q->vals, NULL, NULL, 0);
		st = PQresultStatus(q->res);
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			state = PQresultErrorField(q->res, PG_DIAG_SQLSTATE);
			bs->conflict = state != NULL && strncmp(state, "23",
			    2) == 0;
			pgerr(s, q->res, e, sql_names[q - s->stmts]);
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
 * Group commit (top of this file, "Writes"): the write transactions of
 * the threads of one process share one PostgreSQL transaction, opened
 * on the connection of the thread that found none open (the owner).
 * Each request joins it in turn -- one at a time: 'busy' -- inside a
 * SAVEPOINT of its own, takes its own index, runs its statements on
 * the owner's connection (store_stmt() hands out that connection's
 * statements while 'borrow' is set) and records its tables' indexes;
 * its savepoint stays, and the next part's nests in it.  A request
 * whose statements fail rolls back to its savepoint: only its part
 * goes.  When it is done and others
 * wait to join, it hands the transaction on and sleeps until the group
 * ends; the last one (nobody waiting, or GROUP_MAX parts) sends every
 * part's NOTIFY and the COMMIT, and wakes them all with the result.  So
 * one commit (one WAL flush, one turn of PostgreSQL's NOTIFY lock) is
 * shared by several writes, each acknowledged only after it.  The
 * 'raft' row stays locked by the group's transaction until its COMMIT,
 * so other processes and nodes still wait for it, and the indexes of
 * its parts, taken in turn, become visible together: a reader who saw
 * index N still sees every change <= N.  The owner's thread waits for
 * the group's end even when its own part failed: its connection is the
 * group's.
 */
#define GROUP_MAX	32	/* parts per transaction */

/* A part sleeping until its group ends. */
struct waiter {
	int	done;
	int	rc;		/* 0 committed, -1 failed */
};

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct pg	*w;		/* the owner's connection; NULL: none */
	int		 busy;		/* a part is running on w */
	int		 ending;	/* the COMMIT or ROLLBACK is under way */
	int		 waiting;	/* threads waiting to join */
	int		 parts;		/* parts released so far */
	struct waiter	*waiters[GROUP_MAX + 1]; /* its parts, sleeping */
	int		 nwaiters;
	char		*notify;	/* every part's NOTIFY, in order */
	size_t		 notify_len;
} group = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/*
 * Append "NOTIFY <channel>, '<index> <table>,<table>..'; " for bs's part
 * to the group's announcements: PostgreSQL delivers them at COMMIT, in
 * order, to every node's watch connection (store.c), which raises its
 * shared indexes from them without a query.  Table names are [a-z-]
 * only: nothing to quote.  Called with group.mu held.
 */
static void
notify_add(struct store *bs)
{
	char	 buf[512];
	size_t	 t, n;
	int	 first = 1;

	n = (size_t)snprintf(buf, sizeof(buf), "NOTIFY " STORE_PG_CHANNEL
	    ", '%llu ", (unsigned long long)bs->tx_index);
	for (t = 1; t < TBL__MAX && n < sizeof(buf); t++) {
		if (!bs->touched[t])
			continue;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
		    first ? "" : ",", store_table_name((enum table)t));
		first = 0;
	}
	if (n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "'; ");
	if (n >= sizeof(buf))
		fatalx("store: NOTIFY payload too long");
	group.notify = xrealloc(group.notify, group.notify_len + n + 1);
	memcpy(group.notify + group.notify_len, buf, n + 1);
	group.notify_len += n;
}

/*
 * End the group's transaction on w: every part's NOTIFY and COMMIT in
 * one round trip when a part was released, else ROLLBACK.  Called with
 * group.mu held and 'ending' set; drops the lock during the round trip.
 * Returns 0 or -1 (logged).
 */
static int
group_end(void)
{
	struct pg	*w = group.w;
	PGresult	*r;
	struct perr	 e;
	char		*notes, *sql;
	int		 rc = 0, parts = group.parts;

	notes = group.notify;
	group.notify = NULL;
	group.notify_len = 0;
	pthread_mutex_unlock(&group.mu);
	if (PQstatus(w->conn) != CONNECTION_OK)
		rc = parts > 0 ? -1 : 0;
	else if (parts == 0)
		PQclear(PQexec(w->conn, "ROLLBACK"));
	else {
		/* The announcements and the COMMIT in one round trip. */
		xasprintf(&sql, "%sCOMMIT", notes != NULL ? notes : "");
		r = PQexec(w->conn, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK ||
		    strcmp(PQcmdStatus(r), "COMMIT") != 0) {
			pgerr(w, r, &e, "commit");
			rc = -1;
		}
		PQclear(r);
		free(sql);
	}
	free(notes);
	pthread_mutex_lock(&group.mu);
	return rc;
}

/*
 * bs's part is over (released when ok, else rolled back to its
 * savepoint).  Hand the transaction on when others wait to join, or
 * end it; then, when bs's part was released or bs owns the connection,
 * wait for the group's end.  Returns 0 when bs's part committed, -1
 * when its transaction failed (or bs's part was not released).
 */
static int
group_leave(struct store *bs, int ok)
{
	struct pg	*s = PG(bs);
	struct waiter	 me = { 0, -1 };
	int		 i;

	pthread_mutex_lock(&group.mu);
	if (ok) {
		group.parts++;
		notify_add(bs);
	}
	group.busy = 0;
	if (group.waiting > 0 && group.parts < GROUP_MAX) {
		pthread_cond_broadcast(&group.cv);
		if (ok || group.w == s) {
			group.waiters[group.nwaiters++] = &me;
			while (!me.done)
				pthread_cond_wait(&group.cv, &group.mu);
		}
	} else {
		group.ending = 1;
		me.rc = group_end();
		for (i = 0; i < group.nwaiters; i++) {
			group.waiters[i]->rc = me.rc;
			group.waiters[i]->done = 1;
		}
		group.nwaiters = 0;
		group.w = NULL;
		group.ending = 0;
		group.parts = 0;
		pthread_cond_broadcast(&group.cv);
	}
	pthread_mutex_unlock(&group.mu);
	s->borrow = NULL;
	bs->in_tx = 0;
	return ok ? me.rc : -1;
}

/*
 * Start a write: join the process's group transaction (opening it,
 * BEGIN, on this connection when none is open), in a savepoint of its
 * own, and take the next global index, whose row lock makes every
 * other process's writer wait until the group commits.  Every early
 * exit after this must call store_rollback().
 */
static int
pg_begin(struct store *bs, struct perr *e)
{
	struct pg	*s = PG(bs);
	struct store_q	*st;
	PGresult	*r;
	char		*sql;
	int		 rc;

	if (bs->in_tx)
		fatalx("store: nested transaction");
	/* A lost connection is reset by pg_stmt(), outside any group. */
	if ((st = pg_stmt(bs, SQL_INDEX_BUMP)) == NULL)
		return perr_set(e, 500, "internal store error");
	pthread_mutex_lock(&group.mu);
	group.waiting++;
	while (group.busy || group.ending)
		pthread_cond_wait(&group.cv, &group.mu);
	group.waiting--;
	group.busy = 1;
	if (group.w == NULL) {
		pthread_mutex_unlock(&group.mu);
		rc = pg_exec(s, "BEGIN", "begin", e);
		pthread_mutex_lock(&group.mu);
		if (rc == -1) {
			/* No transaction: let the next writer open one. */
			group.busy = 0;
			pthread_cond_broadcast(&group.cv);
			pthread_mutex_unlock(&group.mu);
			return -1;
		}
		group.w = s;
		group.parts = 0;
	}
	s->borrow = group.w;
	pthread_mutex_unlock(&group.mu);
	bs->in_tx = 1;
	memset(bs->touched, 0, sizeof(bs->touched));
	/* The savepoint and the index in one round trip. */
	xasprintf(&sql, "SAVEPOINT part; %s", sqls_pg[SQL_INDEX_BUMP]);
	r = PQexec(s->borrow->conn, sql);
	free(sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		pgerr(s->borrow, r, e, "index_bump");
		PQclear(r);
		pg_rollback(bs);
		return perr_set(e, 500, "internal store error");
	}
	bs->tx_index = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

/*
 * Record the touched tables' indexes, leave the part (its savepoint
 * stays) and wait for the group's COMMIT (above); then refresh the shared index
 * page from table_index and wake blocking queries.  A part that an
 * earlier error aborted is rolled back: that is a failure (500), as is
 * a failed COMMIT (every part of the group gets it).
 */
static int
pg_commit(struct store *bs, struct perr *e)
{
	struct store_q	*st;
	struct perr	 e2;
	size_t		 t;

	for (t = 1; t < TBL__MAX; t++) {
		if (!bs->touched[t])
			continue;
		if ((st = pg_stmt(bs, SQL_INDEX_TOUCH)) == NULL)
			goto fail;
		pg_bind_text(st, ":name", store_table_name((enum table)t));
		pg_bind_int(st, ":idx", (int64_t)bs->tx_index);
		if (pg_step(bs, st, e) != 0)
			goto fail;
	}
	/*
	 * Before commit: the request's last statement inside its own part
	 * (an audit record, say) goes here, on s->borrow's connection.  The
	 * part's savepoint is left to the COMMIT: the next part's nests in
	 * it, and a rollback to the newest "part" undoes only the newest
	 * part (GROUP_MAX stays below PostgreSQL's 64 cached subxids).
	 */
	if (group_leave(bs, 1) == -1)
		return perr_set(e, 500, "internal store error");
	perr_clear(&e2);
	if (store_load_shared(bs, &e2) == -1)
		log_warnx("store: cannot refresh the indexes: %s", e2.msg);
	store_publish(bs->touched, bs->tx_index);
	return 0;
fail:
	pg_rollback(bs);
	return perr_set(e, 500, "internal store error");
}

/* Abandon the open write (its part of the group), if any. */
static void
pg_rollback(struct store *bs)
{
	struct pg	*s = PG(bs);

	if (!bs->in_tx)
		return;
	if (PQstatus(s->borrow->conn) == CONNECTION_OK)
		PQclear(PQexec(s->borrow->conn, "ROLLBACK TO SAVEPOINT part; "
		    "RELEASE SAVEPOINT part"));
	group_leave(bs, 0);
}

/*
 * Cross-node wake-ups: every write transaction NOTIFYs its index and
 * tables with its COMMIT (notify_add()); PostgreSQL delivers that at
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
	.listen = pg_listen,
	.listen_fd = pg_listen_fd,
	.notified = pg_notified,
};
