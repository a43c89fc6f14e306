/*
 * store.h -- the store: connections, migrations, prepared statements,
 * write transactions and the modify indexes, whatever the driver.
 *
 * Callers see no driver type.  A query is one of sql/queries/ (enum
 * sql_id); store_stmt() hands out its cached handle (struct store_q,
 * owned by the connection, one per query: no prepare and no
 * allocation per request).  Parameters are bound by name (":name"),
 * columns read by index; values are text, 64-bit integers or NULL.
 * Writes happen between store_begin() and store_commit(), one
 * transaction per write, each carrying the next global modify index;
 * store_commit() adds the transaction's audit record (audit.c) before
 * COMMIT.
 * The backend (store_sqlite.c, or store_pg.c when store_configure()
 * chose PostgreSQL) maps driver errors to struct perr: the client sees
 * "internal store error" (500), the detail is logged.
 */
#ifndef STORE_H
#define STORE_H

#include <semaphore.h>
#include <stdint.h>

#include "portcullis.h"
#include "sqls.h"

/* Tables with their own modify index (names in table_index). */
enum table {
	TBL_RAFT,		/* the global index */
	TBL_INTENTIONS,
	TBL_ACL_TOKENS,
	TBL_ACL_POLICIES,
	TBL_ACL_ROLES,
	TBL_ACL_BINDING_RULES,
	TBL_ACL_AUTH_METHODS,
	TBL_CA_ROOTS,
	TBL_CA_CONFIG,
	TBL_CA_LEAVES,
	TBL_CA_REVOKED,		/* revocations only (authorize, leaf cache) */
	TBL_AUDIT,		/* the audit log (audit.c) */
	TBL__MAX
};

/* A set of tables, for routes that watch several (CA roots + config). */
#define TBIT(t)	(1u << (t))

/*
 * Shared between the master and every worker (MAP_SHARED, created
 * before the first fork): the last committed index of each table, so
 * that hot paths and blocking queries learn of a commit in any worker
 * without touching SQLite.
 */
struct shared {
	volatile uint64_t	idx[TBL__MAX];
	volatile uint64_t	started;	/* master start time */
	volatile int64_t	parked[64];	/* blocking queries per worker slot */
	/* Durable commits (store_sqlite.c, "Durability"); counters only grow. */
	volatile uint64_t	committed;	/* last index written to the WAL */
	volatile uint64_t	synced;		/* last index on disk */
	volatile uint64_t	fsyncs;		/* WAL fsyncs of the group commit */
	volatile uint64_t	durable;	/* commits acknowledged on disk */
	/*
	 * PostgreSQL's writer gate (store_pg.c, "The writer gate"): the
	 * write transactions of this node let into the database at once,
	 * and each worker slot's entries, which the master gives back
	 * when it reaps a worker (store_worker_gone()).
	 */
	sem_t			pg_gate;
	volatile int64_t	pg_gate_held[64 + 1]; /* + the master */
	volatile uint64_t	pg_gate_waited;	/* entries that had to wait */
};

extern struct shared	*store_shared;

struct store;
struct store_q;		/* a cached statement and its cursor */

/*
 * The message prefix of a failure because the database cannot be used
 * now (500; PostgreSQL stopped, failing over, unreachable), followed
 * by a fixed reason (store_pg.c).  Snapshots are served stale then.
 */
#define STORE_UNAVAILABLE	"store unavailable: "

/* store_step() results. */
#define STORE_ROW	1
#define STORE_DONE	0
#define STORE_ERR	(-1)

/*
 * WAL frames past which the checkpointer rewinds the WAL under the
 * write lock (store.c): ~64 MiB.  Each such pass makes writers wait for
 * two fsyncs, which a busy virtual disk can stretch to 100s of ms.
 */
#define STORE_CKPT_CATCHUP	16384

/* The backends (the config's store block). */
enum store_backend {
	STORE_SQLITE,		/* default: <data_dir>/portcullis.db */
	STORE_POSTGRES		/* libpq, the configured DSN */
};

void		 store_configure(enum store_backend, const char *);
void		 store_set_sync(int);
int		 store_sync_full(void);
void		 store_log_durability(void);
enum store_backend store_backend(void);
void		 store_shared_init(void);
void		 store_worker_start(int);
int64_t		 store_worker_gone(int);
int		 store_open(const char *, struct store **, struct perr *)
		    PC_MUSTCHECK;
void		 store_close(struct store *);
int		 store_checkpointer(const char *);
int		 store_checkpoint(struct store *);
int		 store_migrate(struct store *, struct perr *) PC_MUSTCHECK;
int		 store_prepare_all(struct store *, struct perr *) PC_MUSTCHECK;
int		 store_load_shared(struct store *, struct perr *) PC_MUSTCHECK;
uint64_t	 store_index(enum table);
void		 store_watch_start(void);
int		 store_watch_fd(void);
int64_t		 store_watch_timeout(int64_t);
int		 store_watch_run(int, int64_t);
uint64_t	 store_index_max(unsigned int);
uint64_t	 store_index_local(unsigned int);
const char	*store_table_name(enum table);

struct store_q	*store_stmt(struct store *, enum sql_id);
int		 store_step(struct store *, struct store_q *, struct perr *)
		    PC_MUSTCHECK;
void		 store_reset(struct store_q *);
int64_t		 store_changes(const struct store_q *);
int		 store_conflict(const struct store *);
int		 store_defer(struct store *, struct store_q *, struct perr *)
		    PC_MUSTCHECK;
uint64_t	 store_roundtrips(const struct store *);
int		 store_get_row(struct store *, enum sql_id, const char *,
		    const char *, void (*)(void *, struct store_q *), void *,
		    int *, struct perr *) PC_MUSTCHECK;
int		 store_delete_row(struct store *, enum sql_id, const char *,
		    const char *, enum table, int *, struct perr *)
		    PC_MUSTCHECK;
void		 store_bind_text(struct store_q *, const char *, const char *);
void		 store_bind_int(struct store_q *, const char *, int64_t);
void		 store_bind_null(struct store_q *, const char *);
const char	*store_col_text(struct store_q *, int);
char		*store_col_dup(struct store_q *, int);
int64_t		 store_col_int(struct store_q *, int);
int		 store_col_isnull(struct store_q *, int);

int		 store_begin(struct store *, struct perr *) PC_MUSTCHECK;
uint64_t	 store_tx_index(struct store *);
void		 store_touch(struct store *, enum table);
void		 store_touch_id(struct store *, enum table, const char *);
void		 store_audit_ctx(struct store *, const char *, const char *,
		    const char *, const char *);
void		 store_audit_actor(struct store *, const char *);
int		 store_commit(struct store *, struct perr *) PC_MUSTCHECK;
void		 store_rollback(struct store *);

int		 store_meta_get(struct store *, const char *, char **,
		    struct perr *) PC_MUSTCHECK;
int		 store_meta_put(struct store *, const char *, const char *,
		    struct perr *) PC_MUSTCHECK;

#endif /* STORE_H */
