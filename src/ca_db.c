/*
 * ca_db.c -- the store half of the built-in Connect CA (ca.c holds the
 * configuration logic, signing, the snapshots and the handlers): every
 * query of sql/queries/ca.sql that ca.c needs, on the connection's
 * prepared statements (store.c).
 *
 *   serials      the counter Consul seeds from a Raft index, and blocks
 *                of it reserved per process for leaves;
 *   config       the one CA configuration row;
 *   roots        the active root with its key, every root for the
 *                snapshot, rotation (retire + insert), pruning;
 *   leaves       the leaf records (no keys: the agent leaf cache is in
 *                memory, leafcache.c), revocation and the revoked
 *                serials the snapshot lists.
 *
 * Writes run inside the caller's transaction, except
 * ca_db_serial_take() and ca_db_prune_due(), which make their own.
 * Private keys: ca_root.private_key passes through here as PEM text
 * only (x509.c alone parses it); nothing here logs it.  It is stored
 * sealed (seal.c), as is a PrivateKey in the configuration's Config
 * map: sealed on the way in, opened on the way out, bound to its row.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portcullis.h"
#include "ca.h"
#include "ca_db.h"
#include "seal.h"
#include "seal_db.h"
#include "store.h"
#include "x509.h"

static int
exec_stmt(struct store *st, struct store_q *s, struct perr *e)
{
	int	rc;

	rc = store_step(st, s, e);
	store_reset(s);
	return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- */
/* Serials.                                                            */

/*
 * The next serial of the counter, inside the caller's transaction.
 * Returns 0 with *out set, or -1 (500).
 */
int
ca_db_serial_next(struct store *st, uint64_t *out, struct perr *e)
{
	struct store_q	*s;

	if ((s = store_stmt(st, SQL_CA_SERIAL_NEXT)) == NULL)
		return perr_set(e, 500, "internal store error");
	/* Consul starts its counter at a Raft index; so do we. */
	store_bind_int(s, ":start", (int64_t)store_tx_index(st));
	if (store_step(st, s, e) != 1)
		return -1;
	*out = (uint64_t)store_col_int(s, 0);
	store_reset(s);
	return 0;
}

/*
 * A serial for a leaf, from a block this process reserved in one short
 * transaction (SERIAL_BLOCK at a time), so that issuing a leaf neither
 * signs inside a write transaction nor takes the write lock twice.
 * Serials stay unique across processes; a block a dead worker did not
 * use is skipped, which Consul's counter allows (any increasing value).
 * Call outside a transaction.  Returns 0 with *out set, or -1 (500).
 */
#define LEAF_KEEP_EXPIRED	(24 * 3600)	/* seconds past NotAfter */
#define SERIAL_BLOCK	64

static pthread_mutex_t	serial_mtx = PTHREAD_MUTEX_INITIALIZER;
static uint64_t		serial_lo, serial_hi;	/* [lo, hi] unused */

int
ca_db_serial_take(struct store *st, uint64_t *out, struct perr *e)
{
	struct store_q	*q;
	uint64_t	 last;

	pthread_mutex_lock(&serial_mtx);
	if (serial_lo != 0 && serial_lo <= serial_hi) {
		*out = serial_lo++;
		pthread_mutex_unlock(&serial_mtx);
		return 0;
	}
	pthread_mutex_unlock(&serial_mtx);
	if (store_begin(st, e) == -1)
		return -1;
	if ((q = store_stmt(st, SQL_CA_SERIAL_RESERVE)) == NULL) {
		store_rollback(st);
		return perr_set(e, 500, "internal store error");
	}
	store_bind_int(q, ":start", (int64_t)store_tx_index(st));
	store_bind_int(q, ":n", SERIAL_BLOCK);
	if (store_step(st, q, e) != 1) {
		store_rollback(st);
		return -1;
	}
	last = (uint64_t)store_col_int(q, 0);
	store_reset(q);
	/*
	 * Every SERIAL_BLOCK issuances, drop leaf records that expired
	 * over a day ago (a CRL lists only unexpired leaves, and an
	 * expired cached leaf is replaced on the next call anyway): the
	 * table does not grow forever.
	 */
	if ((q = store_stmt(st, SQL_CA_LEAF_EXPIRE)) == NULL) {
		store_rollback(st);
		return perr_set(e, 500, "internal store error");
	}
	store_bind_int(q, ":before", (int64_t)time(NULL) - LEAF_KEEP_EXPIRED);
	if (store_step(st, q, e) == -1) {
		store_rollback(st);
		return -1;
	}
	store_reset(q);
	if (store_commit(st, e) == -1)
		return -1;
	pthread_mutex_lock(&serial_mtx);
	serial_lo = last - SERIAL_BLOCK + 2;
	serial_hi = last;
	pthread_mutex_unlock(&serial_mtx);
	*out = last - SERIAL_BLOCK + 1;
	return 0;
}

/* ---------------------------------------------------------------- */
/* The active root and the configuration.                              */

/* Release what ca_db_active_get() filled in (a holds a secret). */
void
ca_db_active_clear(struct ca_db_active *a)
{
	free(a->id);
	free(a->cert);
	if (a->key != NULL)
		secret_free(a->key);
	free(a->state);
	free(a->inter);
	memset(a, 0, sizeof(*a));
}

/*
 * Read the active root row into *a (release with ca_db_active_clear(),
 * also after a failure); *found 0 before bootstrap.  Returns 0 or -1
 * (500).
 */
int
ca_db_active_get(struct store *st, struct ca_db_active *a, int *found,
    struct perr *e)
{
	struct store_q	*s;
	const char	*sealed;
	size_t		 n;
	int		 rc;

	memset(a, 0, sizeof(*a));
	*found = 0;
	if ((s = store_stmt(st, SQL_CA_ROOT_ACTIVE_KEY)) == NULL)
		return perr_set(e, 500, "internal store error");
	if ((rc = store_step(st, s, e)) == 1) {
		a->id = store_col_dup(s, 0);
		a->cert = store_col_dup(s, 1);
		a->state = store_col_dup(s, 3);
		a->inter = store_col_dup(s, 4);
		sealed = store_col_text(s, 2);
		if (seal_open(sealed != NULL ? sealed : "", "ca_root", a->id,
		    "private_key", &a->key, &n, e) == -1) {
			log_warnx("ca: %s", e->msg);
			rc = -1;
		} else
			*found = 1;
	}
	store_reset(s);
	return rc < 0 ? -1 : 0;
}

/* Release what ca_db_config_get() filled in. */
void
ca_db_config_clear(struct ca_db_config *c)
{
	free(c->provider);
	free(c->config);
	memset(c, 0, sizeof(*c));
}

static void
config_fill(void *out, struct store_q *s)
{
	struct ca_db_config	*c = out;

	c->provider = store_col_dup(s, 0);
	c->config = store_col_dup(s, 1);
	c->force = (int)store_col_int(s, 2);
	c->create_index = (uint64_t)store_col_int(s, 3);
	c->modify_index = (uint64_t)store_col_int(s, 4);
}

/*
 * Read the CA configuration row into *c (release with
 * ca_db_config_clear(), also after a failure); *found 0 before
 * bootstrap.  Returns 0 or -1 (500).
 */
int
ca_db_config_get(struct store *st, struct ca_db_config *c, int *found,
    struct perr *e)
{
	char	*open;

	memset(c, 0, sizeof(*c));
	if (store_get_row(st, SQL_CA_CONFIG_GET, NULL, NULL, config_fill, c,
	    found, e) == -1)
		return -1;
	if (*found && c->config != NULL) {
		if (seal_db_json_open(c->config, "ca_config", "1",
		    seal_ca_config_fields, &open, e) == -1) {
			log_warnx("ca: %s", e->msg);
			return -1;
		}
		free(c->config);
		c->config = open;
	}
	return 0;
}

/*
 * Store the configuration (provider, the Config map as JSON text,
 * ForceWithoutCrossSigning) at the transaction's index.  Returns 0 or
 * -1 (500).
 */
int
ca_db_config_put(struct store *st, const char *provider, const char *config,
    int force, struct perr *e)
{
	struct store_q	*s;
	char		*sealed;
	int		 rc;

	if (seal_db_json(st, config, "ca_config", "1", seal_ca_config_fields,
	    &sealed, e) == -1)
		return -1;
	if ((s = store_stmt(st, SQL_CA_CONFIG_PUT)) == NULL) {
		free(sealed);
		return perr_set(e, 500, "internal store error");
	}
	store_bind_text(s, ":provider", provider);
	store_bind_text(s, ":config", sealed);
	store_bind_int(s, ":force", force);
	store_bind_int(s, ":idx", (int64_t)store_tx_index(st));
	store_touch_id(st, TBL_CA_CONFIG, provider);
	rc = exec_stmt(st, s, e);
	free(sealed);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Roots.                                                              */

/* Free n roots as ca_db_roots() made them, and the array.  NULL is fine. */
void
ca_db_roots_free(struct ca_root *roots, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(roots[i].id);
		free(roots[i].name);
		free(roots[i].signing_key_id);
		free(roots[i].etd);
		free(roots[i].root_cert);
		free(roots[i].inter);
		free(roots[i].key_type);
	}
	free(roots);
}

/*
 * Every root, sorted by ID, without private keys, into a new array
 * *roots of *n (release with ca_db_roots_free()).  Returns 0, or -1
 * (500) with *roots NULL and *n 0.
 */
int
ca_db_roots(struct store *st, struct ca_root **roots, size_t *n,
    struct perr *e)
{
	struct ca_root	*x;
	struct store_q	*q;
	size_t		 cap = 4;
	int		 rc;

	*roots = NULL;
	*n = 0;
	if ((q = store_stmt(st, SQL_CA_ROOT_ALL)) == NULL)
		return perr_set(e, 500, "internal store error");
	*roots = xcalloc(cap, sizeof(**roots));
	while ((rc = store_step(st, q, e)) == 1) {
		if (*n == cap) {
			cap *= 2;
			*roots = xrealloc(*roots, cap * sizeof(**roots));
		}
		x = &(*roots)[(*n)++];
		memset(x, 0, sizeof(*x));
		x->id = store_col_dup(q, 0);
		x->name = store_col_dup(q, 1);
		x->serial = (uint64_t)store_col_int(q, 2);
		x->signing_key_id = store_col_dup(q, 3);
		x->etd = store_col_dup(q, 4);
		x->not_before = (time_t)store_col_int(q, 5);
		x->not_after = (time_t)store_col_int(q, 6);
		x->root_cert = store_col_dup(q, 7);
		x->inter = store_col_dup(q, 8);
		x->active = (int)store_col_int(q, 9);
		x->key_type = store_col_dup(q, 10);
		x->key_bits = (int)store_col_int(q, 11);
		x->rotated_out_at = (time_t)store_col_int(q, 12);
		x->create_index = (uint64_t)store_col_int(q, 13);
		x->modify_index = (uint64_t)store_col_int(q, 14);
	}
	store_reset(q);
	if (rc == -1) {
		ca_db_roots_free(*roots, *n);
		*roots = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/*
 * Mark the active root inactive, rotated out at now.  Returns 0 or -1
 * (500).
 */
int
ca_db_root_retire(struct store *st, time_t now, struct perr *e)
{
	struct store_q	*s;

	if ((s = store_stmt(st, SQL_CA_ROOT_RETIRE)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(s, ":now", (int64_t)now);
	return exec_stmt(st, s, e);
}

/*
 * Insert the root described by info as the active one: name, external
 * trust domain etd, PEM cert, intermediates inter (JSON array text or
 * NULL), its private key PEM and the provider state key, at the
 * transaction's index.  Returns 0 or -1 (500).
 */
int
ca_db_root_insert(struct store *st, const struct x509_info *info,
    const char *name, const char *etd, const char *cert, const char *inter,
    const char *key, const char *state, struct perr *e)
{
	struct store_q	*s;
	char		*sealed;
	int		 rc;

	if (seal_db_close(st, key, "ca_root", info->id, "private_key", &sealed,
	    e) == -1)
		return -1;
	if ((s = store_stmt(st, SQL_CA_ROOT_INSERT)) == NULL) {
		free(sealed);
		return perr_set(e, 500, "internal store error");
	}
	store_bind_text(s, ":id", info->id);
	store_bind_text(s, ":name", name);
	store_bind_int(s, ":serial", (int64_t)info->serial);
	store_bind_text(s, ":skid", info->subject_key_id);
	store_bind_text(s, ":etd", etd);
	store_bind_int(s, ":nb", (int64_t)info->not_before);
	store_bind_int(s, ":na", (int64_t)info->not_after);
	store_bind_text(s, ":cert", cert);
	store_bind_text(s, ":inter", inter);
	store_bind_text(s, ":ktype", info->key_type);
	store_bind_int(s, ":kbits", info->key_bits);
	store_bind_text(s, ":key", sealed);
	store_bind_text(s, ":state", state);
	store_bind_int(s, ":idx", (int64_t)store_tx_index(st));
	rc = exec_stmt(st, s, e);
	free(sealed);
	return rc;
}

/*
 * Drop inactive roots rotated out more than keep seconds before now;
 * *changed says whether any went.  Returns 0 or -1 (500).
 */
int
ca_db_prune(struct store *st, int64_t keep, time_t now, int *changed,
    struct perr *e)
{
	struct store_q	*s;

	if ((s = store_stmt(st, SQL_CA_ROOT_PRUNE)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(s, ":keep", keep);
	store_bind_int(s, ":now", (int64_t)now);
	if (exec_stmt(st, s, e) == -1)
		return -1;
	*changed = store_changes(s) > 0;
	return 0;
}

/*
 * Give every root the transaction's ModifyIndex (roots are a set).
 * Returns 0 or -1 (500).
 */
int
ca_db_roots_touch(struct store *st, struct perr *e)
{
	struct store_q	*s;

	if ((s = store_stmt(st, SQL_CA_ROOT_TOUCH_ALL)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(s, ":idx", (int64_t)store_tx_index(st));
	store_touch(st, TBL_CA_ROOTS);
	return exec_stmt(st, s, e);
}

/*
 * Prune rotated-out roots whose time has come (any worker may): in a
 * transaction of its own, committed only when a root went.  Failures
 * are logged, not returned: the next reader tries again.
 */
void
ca_db_prune_due(struct store *st, int64_t keep)
{
	struct perr	e;
	int		changed = 0;

	perr_clear(&e);
	if (store_begin(st, &e) == -1)
		return;
	if (ca_db_prune(st, keep, time(NULL), &changed, &e) == -1 ||
	    (changed && ca_db_roots_touch(st, &e) == -1)) {
		store_rollback(st);
		log_warnx("ca: prune: %s", e.msg);
		return;
	}
	if (!changed) {
		store_rollback(st);
		return;
	}
	if (store_commit(st, &e) == -1)
		log_warnx("ca: prune: %s", e.msg);
}

/* ---------------------------------------------------------------- */
/* Leaves.                                                             */

/*
 * Record the leaf is (serial, validity, the write's index) issued for
 * service with SPIFFE ID uri by the root root_id, inside the caller's
 * transaction.  Returns 0 or -1 (500).
 */
int
ca_db_leaf_insert(struct store *st, const struct ca_issued *is,
    const char *service, const char *uri, const char *root_id,
    struct perr *e)
{
	struct store_q	*q;

	if ((q = store_stmt(st, SQL_CA_LEAF_INSERT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(q, ":serial", (int64_t)is->serial);
	store_bind_text(q, ":service", service);
	store_bind_text(q, ":uri", uri);
	store_bind_int(q, ":nb", (int64_t)is->not_before);
	store_bind_int(q, ":na", (int64_t)is->not_after);
	store_bind_text(q, ":root", root_id);
	store_bind_int(q, ":idx", (int64_t)is->index);
	return exec_stmt(st, q, e);
}

/*
 * Group commit of leaf records.  Every issuance is one write, and the
 * write lock is handed from writer to writer through the kernel: under
 * load most of a worker's context switches were threads queued on it
 * (perf sched, issue #3), each then committing its own few pages.  So
 * the threads of a process queue their records here; one of them, the
 * committer, records everything queued in one transaction (one lock
 * hand-off, one index, the shared pages written once) while the others
 * wait for the outcome, and records queued meanwhile go in the next
 * batch.  Alone, a thread commits its own record at once.  A failed
 * batch fails every record in it (500); none is half-written.
 */
static pthread_mutex_t		 rec_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 rec_cv = PTHREAD_COND_INITIALIZER;
static struct ca_leaf_rec	*rec_queue;
static int			 rec_committing;

static int
rec_cmp(const void *a, const void *b)
{
	const struct ca_leaf_rec	*x = *(const struct ca_leaf_rec *const *)a;
	const struct ca_leaf_rec	*y = *(const struct ca_leaf_rec *const *)b;

	return x->is->serial < y->is->serial ? -1 :
	    x->is->serial > y->is->serial;
}

/*
 * Record batch in one transaction on st, in serial order (appends to
 * the table's last page).  Sets rc and err of every record; the caller
 * marks them done.
 */
static void
rec_commit(struct store *st, struct ca_leaf_rec *batch)
{
	struct ca_leaf_rec	**v, *r;
	struct perr		  e;
	size_t			  n = 0, i;
	int			  rc = -1;

	perr_clear(&e);
	for (r = batch; r != NULL; r = r->next)
		n++;
	v = xcalloc(n, sizeof(*v));
	for (i = 0, r = batch; r != NULL; r = r->next)
		v[i++] = r;
	qsort(v, n, sizeof(*v), rec_cmp);
	if (store_begin(st, &e) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		v[i]->is->index = store_tx_index(st);
		if (ca_db_leaf_insert(st, v[i]->is, v[i]->service, v[i]->uri,
		    v[i]->root_id, &e) == -1) {
			store_rollback(st);
			goto out;
		}
	}
	store_touch(st, TBL_CA_LEAVES);
	rc = store_commit(st, &e);
out:
	for (i = 0; i < n; i++) {
		v[i]->rc = rc;
		v[i]->err = e;
	}
	free(v);
}

/*
 * Record the issued leaf r (see ca_db_leaf_insert() for its fields)
 * through the group commit above; st is the calling thread's
 * connection, used if it becomes the committer.  Call outside a
 * transaction.  Sets r->is->index; returns 0, or -1 with e set (500).
 */
int
ca_db_leaf_record(struct store *st, struct ca_leaf_rec *r, struct perr *e)
{
	struct ca_leaf_rec	*batch, *b;

	r->done = 0;
	pthread_mutex_lock(&rec_mtx);
	r->next = rec_queue;
	rec_queue = r;
	while (!r->done) {
		if (rec_committing) {
			pthread_cond_wait(&rec_cv, &rec_mtx);
			continue;
		}
		rec_committing = 1;
		batch = rec_queue;
		rec_queue = NULL;
		pthread_mutex_unlock(&rec_mtx);
		rec_commit(st, batch);
		pthread_mutex_lock(&rec_mtx);
		for (b = batch; b != NULL; b = b->next)
			b->done = 1;
		rec_committing = 0;
		pthread_cond_broadcast(&rec_cv);
	}
	pthread_mutex_unlock(&rec_mtx);
	if (r->rc == -1) {
		*e = r->err;
		return -1;
	}
	return 0;
}

/*
 * Step q to its end, collecting column 0 (a serial) and, when when is
 * not NULL, column 1 (a time) into new arrays of *n entries.
 */
static int
serials_collect(struct store *st, struct store_q *q, uint64_t **serial,
    time_t **when, size_t *n, struct perr *e)
{
	size_t	cap = 16;
	int	rc;

	*serial = xcalloc(cap, sizeof(**serial));
	if (when != NULL)
		*when = xcalloc(cap, sizeof(**when));
	while ((rc = store_step(st, q, e)) == 1) {
		if (*n == cap) {
			cap *= 2;
			*serial = xrealloc(*serial, cap * sizeof(**serial));
			if (when != NULL)
				*when = xrealloc(*when, cap * sizeof(**when));
		}
		if (when != NULL)
			(*when)[*n] = (time_t)store_col_int(q, 1);
		(*serial)[(*n)++] = (uint64_t)store_col_int(q, 0);
	}
	store_reset(q);
	return rc == -1 ? -1 : 0;
}

/*
 * The serials of the leaves revoked and not expired at now, sorted,
 * with when each was revoked: new arrays *serial and *when of *n
 * entries (the caller frees both, also after a failure).  Returns 0 or
 * -1 (500).
 */
int
ca_db_revoked(struct store *st, time_t now, uint64_t **serial,
    time_t **when, size_t *n, struct perr *e)
{
	struct store_q	*q;

	*serial = NULL;
	*when = NULL;
	*n = 0;
	if ((q = store_stmt(st, SQL_CA_LEAF_REVOKED)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(q, ":now", (int64_t)now);
	return serials_collect(st, q, serial, when, n, e);
}

/*
 * Revoke the leaf with this serial at now (a no-op if it already is);
 * *found 0 when we never issued it.  Returns 0 or -1 (500).
 */
int
ca_db_leaf_revoke(struct store *st, uint64_t serial, time_t now,
    int *found, struct perr *e)
{
	struct store_q	*q;
	int		 rc;

	*found = 0;
	if ((q = store_stmt(st, SQL_CA_LEAF_GET)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(q, ":serial", (int64_t)serial);
	rc = store_step(st, q, e);
	store_reset(q);
	if (rc <= 0)
		return rc;
	*found = 1;
	if ((q = store_stmt(st, SQL_CA_LEAF_REVOKE)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(q, ":serial", (int64_t)serial);
	store_bind_int(q, ":now", (int64_t)now);
	return exec_stmt(st, q, e);
}

/*
 * Revoke every unexpired, unrevoked leaf of service at now; the
 * serials revoked go into a new array *serial of *n entries (the
 * caller frees it, also after a failure).  Returns 0 or -1 (500).
 */
int
ca_db_leaf_revoke_service(struct store *st, const char *service,
    time_t now, uint64_t **serial, size_t *n, struct perr *e)
{
	struct store_q	*q;

	*serial = NULL;
	*n = 0;
	if ((q = store_stmt(st, SQL_CA_LEAF_REVOKE_SERVICE)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(q, ":service", service);
	store_bind_int(q, ":now", (int64_t)now);
	return serials_collect(st, q, serial, NULL, n, e);
}
