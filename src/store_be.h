/*
 * store_be.h -- between the generic store (store.c) and its backends
 * (store_sqlite.c, store_pg.c).  Nothing else includes this.
 *
 * A backend fills one const struct store_ops; its connection and
 * statement types begin with struct store and struct store_q, which
 * carry the ops, so store.c dispatches each call with one indirect
 * call and no allocation.  One process uses the backend
 * store_configure() chose (unit tests may open both).
 */
#ifndef STORE_BE_H
#define STORE_BE_H

#include <stdint.h>

#include "store.h"

struct store_ops {
	const char	*name;		/* "sqlite", "postgres" */
	void		 (*init)(void);	/* process-wide, before first use */
	int		 (*open)(const char *, struct store **, struct perr *);
	void		 (*close)(struct store *);
	int		 (*migrate)(struct store *, struct perr *);
	int		 (*checkpointer)(const char *);
	int		 (*checkpoint)(struct store *);
	struct store_q	*(*stmt)(struct store *, enum sql_id);
	int		 (*step)(struct store *, struct store_q *,
			    struct perr *);
	void		 (*reset)(struct store_q *);
	int64_t		 (*changes)(const struct store_q *);
	void		 (*bind_text)(struct store_q *, const char *,
			    const char *);
	void		 (*bind_int)(struct store_q *, const char *, int64_t);
	const char	*(*col_text)(struct store_q *, int);
	int64_t		 (*col_int)(struct store_q *, int);
	int		 (*col_isnull)(struct store_q *, int);
	int		 (*begin)(struct store *, struct perr *);
	int		 (*commit)(struct store *, struct perr *);
	void		 (*rollback)(struct store *);
	/* store_defer(); NULL: the statement runs at once. */
	int		 (*defer)(struct store *, struct store_q *,
			    struct perr *);
	/*
	 * The open transaction's index, when the backend may not have
	 * asked for it yet (its start is sent with the first statement);
	 * NULL: tx_index is set by begin.
	 */
	uint64_t	 (*tx_index)(struct store *);
	/* Cross-node notifications; NULL when the backend has none. */
	int		 (*listen)(struct store *, struct perr *);
	int		 (*listen_fd)(struct store *);
	int		 (*notified)(struct store *, uint64_t *);
};

/* The first member of every backend's connection. */
struct store {
	const struct store_ops	*ops;
	int			 in_tx;
	int			 conflict;	/* last step error: a constraint */
	uint64_t		 tx_index;	/* of the open write transaction */
	int			 touched[TBL__MAX];
	uint64_t		 roundtrips;	/* to the server, ever (PostgreSQL) */

	/*
	 * The audit chain's head as the backend read it under the write
	 * lock with the transaction's first round trip (head_known 1;
	 * store_pg.c), so that audit_record() need not ask again.
	 */
	int			 head_known;
	int64_t			 head_seq, head_anchor;
	char			 head_hash[65];

	/* The audit record of the open transaction (audit.c). */
	int			 audit_on;	/* a request's context is set */
	char			 audit_actor[64]; /* its AccessorID, or "" */
	const char		*audit_source;	/* borrowed from the request */
	const char		*audit_method;
	const char		*audit_route;
	int			 audit_kind;	/* enum table named, -1: none */
	char			 audit_obj[256]; /* its ID or name */
	const char		*audit_outcome;	/* NULL: "ok" */
	char			*audit_line;	/* JSON line, for after COMMIT */
};

/* The first member of every backend's cached statement. */
struct store_q {
	const struct store_ops	*ops;
};

/*
 * Write transactions of one node let into PostgreSQL at once (store_pg.c,
 * "The writer gate"); the rest wait in the node, on a semaphore.
 */
#define STORE_PG_WRITERS	2

/* This worker's slot (store_worker_start()), for the gate's give-back. */
extern int	store_slot;

/* The NOTIFY channel of every commit (store_pg.c). */
#define STORE_PG_CHANNEL	"portcullis"

extern const struct store_ops	store_sqlite_ops;
extern const struct store_ops	store_pg_ops;

/*
 * Generic: after a commit, raise the shared index of every table
 * touched[t] marks (and the global one) to idx, and wake every
 * blocking query.
 */
void	store_publish(const int *, uint64_t);

/*
 * Generic: apply another commit's announcement "<index> <table>,..."
 * to the shared indexes.  Returns its index (0 when malformed).
 */
uint64_t store_notified(const char *);

/* Generic: raise the shared index of the table named to an index. */
void	store_shared_index(const char *, uint64_t);

#endif /* STORE_BE_H */
