/*
 * seal_db.c -- the seal (seal.c) over the store: every sealed column
 * in one table below, walked
 *
 *   at start-up (seal_db_boot(), master, before anything writes): the
 *     seal key must be the store's (meta "seal_key_id") and open every
 *     sealed value, or the start is refused and nothing is written;
 *     plaintext left by an older version is then sealed, in one
 *     transaction (a migration in code: the key is not in SQL);
 *   by `portcullis seal rotate` (seal_db_rotate()): everything
 *     re-sealed under a new key in one transaction;
 *
 * and the families' sealing writes (seal_db_close(), seal_db_json()),
 * which first check, inside their transaction, that the store is
 * still sealed under this process's key: a rotation commits before any
 * later write (store_begin() serialises writers on both backends), so
 * a write never seals under a key the store has left.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "portcullis.h"
#include "conf.h"
#include "seal.h"
#include "seal_db.h"
#include "store.h"

#define META_KEY_ID	"seal_key_id"

/* A sealed column: whole (a PEM key), or JSON with secret fields. */
static const struct column {
	const char		*table;
	const char		*column;
	enum sql_id		 get, put;
	const char *const	*fields;	/* NULL: the whole value */
} columns[] = {
	{ "ca_root", "private_key", SQL_SEAL_CA_ROOT_KEYS,
	    SQL_SEAL_CA_ROOT_KEY_PUT, NULL },
	{ "ca_config", "config", SQL_SEAL_CA_CONFIG, SQL_SEAL_CA_CONFIG_PUT,
	    seal_ca_config_fields },
	{ "acl_auth_method", "config", SQL_SEAL_AUTH_METHODS,
	    SQL_SEAL_AUTH_METHOD_PUT, seal_auth_method_fields },
	{ "meta", "value", SQL_SEAL_META_TOKEN_KEY,
	    SQL_SEAL_META_TOKEN_KEY_PUT, NULL },
};
#define NCOLUMNS	(sizeof(columns) / sizeof(columns[0]))

struct cell {
	const struct column	*c;
	char			*row;
	char			*value;
};

static void
cells_free(struct cell *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].row);
		if (v[i].value != NULL)
			secret_free(v[i].value);
	}
	free(v);
}

/* Every non-NULL value of every sealed column, read into memory. */
static int
cells_read(struct store *st, struct cell **out, size_t *n, struct perr *e)
{
	struct store_q	*q;
	struct cell	*v = NULL;
	size_t		 i, cap = 0;
	int		 rc;

	*out = NULL;
	*n = 0;
	for (i = 0; i < NCOLUMNS; i++) {
		if ((q = store_stmt(st, columns[i].get)) == NULL) {
			cells_free(v, *n);
			*n = 0;
			return perr_set(e, 500, "internal store error");
		}
		while ((rc = store_step(st, q, e)) == 1) {
			if (store_col_text(q, 1) == NULL)
				continue;
			if (*n == cap) {
				cap = cap ? cap * 2 : 16;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[*n].c = &columns[i];
			v[*n].row = store_col_dup(q, 0);
			v[*n].value = store_col_dup(q, 1);
			(*n)++;
		}
		store_reset(q);
		if (rc == -1) {
			cells_free(v, *n);
			*n = 0;
			return -1;
		}
	}
	*out = v;
	return 0;
}

enum walk { W_CHECK, W_SEAL_PLAIN, W_REKEY };

/*
 * One cell under mode: *next is its new text (free()) or NULL when it
 * stays; *plain counts the plaintext secrets met.
 */
static int
cell_walk(const struct cell *x, enum walk mode, char **next, int *plain,
    struct perr *e)
{
	const struct column	*c = x->c;
	char			*p = NULL, *t = NULL;
	size_t			 n;
	int			 changed, rc;

	*next = NULL;
	if (c->fields == NULL) {
		if (!seal_is_sealed(x->value)) {
			(*plain)++;
			if (mode == W_CHECK)
				return 0;
			return seal_close(x->value, strlen(x->value),
			    c->table, x->row, c->column, next, e);
		}
		if (seal_open(x->value, c->table, x->row, c->column, &p, &n,
		    e) == -1)
			return -1;
		rc = 0;
		if (mode == W_REKEY)
			rc = seal_close(p, n, c->table, x->row, c->column,
			    next, e);
		secret_free(p);
		return rc;
	}
	/* JSON: seal what is plain (counted), then every field must open. */
	if (seal_json(x->value, SEAL_CLOSE_PLAIN, c->table, x->row,
	    c->fields, &t, &changed, e) == -1)
		return -1;
	if (changed)
		(*plain)++;
	if (seal_json(t != NULL ? t : x->value, mode == W_REKEY ? SEAL_REKEY :
	    SEAL_CHECK, c->table, x->row, c->fields, next, &changed, e) == -1) {
		free(t);
		return -1;
	}
	if (mode == W_SEAL_PLAIN)
		*next = t;
	else
		free(t);
	return 0;
}

/* Walk every cell; write the new texts when mode writes. */
static int
walk_all(struct store *st, enum walk mode, int *nplain, int *nvalues,
    struct perr *e)
{
	struct store_q	*q;
	struct cell	*v;
	size_t		 i, n;
	char		*next;
	int		 rc = 0;

	*nplain = 0;
	if (cells_read(st, &v, &n, e) == -1)
		return -1;
	*nvalues = (int)n;
	for (i = 0; i < n && rc == 0; i++) {
		if ((rc = cell_walk(&v[i], mode, &next, nplain, e)) == -1 ||
		    next == NULL)
			continue;
		if ((q = store_stmt(st, v[i].c->put)) == NULL)
			rc = perr_set(e, 500, "internal store error");
		else {
			store_bind_text(q, ":id", v[i].row);
			store_bind_text(q, ":v", next);
			rc = store_step(st, q, e) < 0 ? -1 : 0;
			store_reset(q);
		}
		free(next);
	}
	cells_free(v, n);
	return rc;
}

/* 1 when any cell holds a ciphertext, 0 when none, -1 (500). */
static int
any_sealed(struct store *st, struct perr *e)
{
	struct cell	*v;
	size_t		 i, n;
	int		 any = 0;

	if (cells_read(st, &v, &n, e) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (strstr(v[i].value, SEAL_PREFIX) != NULL)
			any = 1;
	cells_free(v, n);
	return any;
}

/* The store's seal key ID check against ours; *sid NULL when unset. */
static int
store_key_check(struct store *st, char **sid, struct perr *e)
{
	if (store_meta_get(st, META_KEY_ID, sid, e) == -1)
		return -1;
	if (*sid != NULL && strcmp(*sid, seal_key_current_id()) != 0)
		return perr_set(e, 500, "the seal key in %s (ID %s) is not "
		    "this store's: the store is sealed under key %s; start "
		    "with that key (on PostgreSQL every node needs the same "
		    "key file content)", seal_key_where(), seal_key_current_id(),
		    *sid);
	return 0;
}

#define META_TOKEN_KEY	"token_hash_key"

/* Hash every SecretID not hashed yet (inside the caller's transaction). */
static int
tokens_hash(struct store *st, int *n, struct perr *e)
{
	struct store_q	*q;
	char		**acc = NULL, **sec = NULL, buf[SEAL_TOKEN_LEN];
	size_t		 i, cnt = 0, cap = 0;
	int		 rc;

	*n = 0;
	if ((q = store_stmt(st, SQL_SEAL_TOKENS)) == NULL)
		return perr_set(e, 500, "internal store error");
	while ((rc = store_step(st, q, e)) == 1) {
		if (seal_token_is_hash(store_col_text(q, 1)))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			acc = xrealloc(acc, cap * sizeof(*acc));
			sec = xrealloc(sec, cap * sizeof(*sec));
		}
		acc[cnt] = store_col_dup(q, 0);
		sec[cnt++] = store_col_dup(q, 1);
	}
	store_reset(q);
	for (i = 0; i < cnt; i++) {
		if (rc != -1) {
			if ((q = store_stmt(st, SQL_SEAL_TOKEN_PUT)) == NULL)
				rc = perr_set(e, 500, "internal store error");
			else {
				store_bind_text(q, ":id", acc[i]);
				store_bind_text(q, ":v",
				    seal_token_stored(sec[i], buf));
				store_bind_int(q, ":idx",
				    (int64_t)store_tx_index(st));
				store_touch(st, TBL_ACL_TOKENS);
				if (store_step(st, q, e) < 0)
					rc = -1;
				store_reset(q);
			}
		}
		free(acc[i]);
		secret_free(sec[i]);
	}
	free(acc);
	free(sec);
	*n = (int)cnt;
	if (cnt > 0)
		store_touch(st, TBL_ACL_TOKENS);
	return rc == -1 ? -1 : 0;
}

/*
 * acl.hash_secrets at start-up: once on, the store keeps only HMACs of
 * SecretIDs, under a random key sealed in meta (token_hash_key; seal
 * rotate re-seals it), and turning it off is refused (the secrets are
 * gone).  Turning it on hashes the existing SecretIDs in one
 * transaction.  Returns 0 or -1 (500).
 */
static int
token_boot(struct store *st, int on, struct perr *e)
{
	struct store_q	*q;
	unsigned char	 key[SEAL_KEY_LEN];
	char		*v = NULL, *p = NULL, *ct = NULL;
	size_t		 n;
	int		 rc = -1, nh, plain = 0, r;

	if (store_meta_get(st, META_TOKEN_KEY, &v, e) == -1)
		return -1;
	if (v != NULL && !on) {
		free(v);
		return perr_set(e, 500, "acl.hash_secrets is off, but this "
		    "store's SecretIDs are hashed (it was on): it cannot be "
		    "turned off; set acl { hash_secrets = true }");
	}
	if (!on)
		return 0;
	if (v == NULL) {
		/* First start with it on: a key (another node may race). */
		if (store_begin(st, e) == -1)
			return -1;
		if (store_meta_get(st, META_TOKEN_KEY, &v, e) == -1)
			goto abort;
		if (v == NULL) {
			seal_key_generate(key);
			p = xmalloc(2 * SEAL_KEY_LEN + 1);
			for (n = 0; n < SEAL_KEY_LEN; n++)
				snprintf(p + 2 * n, 3, "%02x", key[n]);
			gnutls_memset(key, 0, sizeof(key));
			if (seal_close(p, strlen(p), "meta", META_TOKEN_KEY,
			    "value", &ct, e) == -1 ||
			    store_meta_put(st, META_TOKEN_KEY, ct, e) == -1)
				goto abort;
			v = ct;
			ct = NULL;
			secret_free(p);
			p = NULL;
		}
		if (store_commit(st, e) == -1)
			goto out;
	}
	if (seal_open(v, "meta", META_TOKEN_KEY, "value", &p, &n, e) == -1 ||
	    seal_key_parse(p, n, key, e) == -1)
		goto out;
	seal_token_key_set(key);
	gnutls_memset(key, 0, sizeof(key));
	/* SecretIDs still in clear (it was just turned on)? */
	if ((q = store_stmt(st, SQL_SEAL_TOKENS)) == NULL) {
		perr_set(e, 500, "internal store error");
		goto out;
	}
	while ((r = store_step(st, q, e)) == 1)
		if (!seal_token_is_hash(store_col_text(q, 1)))
			plain = 1;
	store_reset(q);
	if (r == -1)
		goto out;
	if (plain) {
		if (store_begin(st, e) == -1)
			goto out;
		if (tokens_hash(st, &nh, e) == -1)
			goto abort;
		if (store_commit(st, e) == -1)
			goto out;
		log_info("acl: hashed %d token SecretID(s) (hash_secrets)", nh);
	}
	rc = 0;
	goto out;
abort:
	store_rollback(st);
out:
	if (p != NULL)
		secret_free(p);
	free(ct);
	free(v);
	return rc;
}

/*
 * Master start-up, after the migrations and before any other write:
 * load the seal key (creating <data_dir>/seal.key for a store that has
 * never been sealed), check that it is the store's and opens every
 * sealed value, then seal whatever is still plaintext.  Returns 0, or
 * -1 (500) with a message for the operator; nothing is written then.
 */
int
seal_db_boot(struct store *st, const struct conf *c, struct perr *e)
{
	char	*sid = NULL;
	int	 missing, nplain, nval, rc = -1;

	if (seal_key_load(c, &missing, e) == -1)
		return -1;
	if (store_meta_get(st, META_KEY_ID, &sid, e) == -1)
		return -1;
	if (missing) {
		if (sid != NULL) {
			perr_set(e, 500, "no seal key: %s does not exist, "
			    "and the store is sealed under key %s; restore "
			    "that key (on PostgreSQL: copy it from another "
			    "node)", seal_key_where(), sid);
			goto out;
		}
		if (!seal_key_is_default()) {
			perr_set(e, 500, "no seal key: %s does not exist",
			    seal_key_where());
			goto out;
		}
	}
	if (missing) {
		if (any_sealed(st, e) != 0) {
			if (e->status == 0)
				perr_set(e, 500, "no seal key: %s does not "
				    "exist, and the store holds sealed values",
				    seal_key_where());
			goto out;
		}
		if (seal_key_create(e) == -1)
			goto out;
		log_info("seal: created seal key %s (ID %s); back it up "
		    "apart from the store", seal_key_file(),
		    seal_key_current_id());
	}
	if (store_key_check(st, &sid, e) == -1 ||
	    walk_all(st, W_CHECK, &nplain, &nval, e) == -1)
		goto out;
	if (sid != NULL && nplain == 0) {
		rc = 0;
		goto out;
	}
	free(sid);
	sid = NULL;
	if (store_begin(st, e) == -1)
		goto out;
	if (store_key_check(st, &sid, e) == -1 ||
	    walk_all(st, W_SEAL_PLAIN, &nplain, &nval, e) == -1 ||
	    store_meta_put(st, META_KEY_ID, seal_key_current_id(), e) == -1) {
		store_rollback(st);
		goto out;
	}
	if (store_commit(st, e) == -1)
		goto out;
	if (nplain > 0)
		log_info("seal: sealed %d plaintext value(s) under key %s",
		    nplain, seal_key_current_id());
	rc = 0;
out:
	free(sid);
	if (rc == 0)
		rc = token_boot(st, c->acl.hash_secrets, e);
	return rc;
}

/*
 * `portcullis seal rotate`: with the current key (which must open
 * everything), make a new key, write it next to the old one
 * (<key file>.new, or <data_dir>/seal.key.new for key_env), re-seal
 * every value under it in one transaction, then (key file) rename the
 * new file over the old.  *where is a new string naming where the new
 * key is (free()).  Returns 0, or -1 (500); on failure the store and
 * the key file are as they were.
 */
int
seal_db_rotate(struct store *st, const struct conf *c, char **where,
    struct perr *e)
{
	unsigned char	 key[SEAL_KEY_LEN];
	char		*sid = NULL, *path = NULL, oldid[SEAL_ID_LEN + 1];
	int		 missing, nplain, nval, rc = -1;

	*where = NULL;
	if (seal_key_load(c, &missing, e) == -1)
		return -1;
	if (missing)
		return perr_set(e, 500, "no seal key: %s does not exist",
		    seal_key_where());
	if (store_key_check(st, &sid, e) == -1 ||
	    walk_all(st, W_CHECK, &nplain, &nval, e) == -1)
		goto out;
	snprintf(oldid, sizeof(oldid), "%s", seal_key_current_id());
	if (seal_key_file() != NULL)
		xasprintf(&path, "%s.new", seal_key_file());
	else
		xasprintf(&path, "%s/seal.key.new", c->data_dir);
	seal_key_generate(key);
	if (seal_key_write(path, key, e) == -1) {
		perr_prefix(e, "(a stale one from a failed rotation may be "
		    "removed) ");
		goto out;
	}
	seal_key_adopt(key);
	gnutls_memset(key, 0, sizeof(key));
	if (store_begin(st, e) == -1)
		goto undo;
	if (walk_all(st, W_REKEY, &nplain, &nval, e) == -1 ||
	    store_meta_put(st, META_KEY_ID, seal_key_current_id(), e) == -1) {
		store_rollback(st);
		goto undo;
	}
	if (store_commit(st, e) == -1)
		goto undo;
	if (seal_key_file() != NULL) {
		if (rename(path, seal_key_file()) == -1) {
			perr_set(e, 500, "re-sealed under key %s, but rename "
			    "%s to %s: %s; do it by hand", seal_key_current_id(),
			    path, seal_key_file(), strerror(errno));
			goto out;
		}
		xasprintf(where, "%d value(s) re-sealed under key %s (was %s); "
		    "the new key replaced %s", nval, seal_key_current_id(),
		    oldid, seal_key_file());
	} else
		xasprintf(where, "%d value(s) re-sealed under key %s (was %s); "
		    "the new key is in %s: put its content in $%s on every "
		    "node, restart them, then delete the file", nval,
		    seal_key_current_id(), oldid, path, c->seal.key_env);
	rc = 0;
	goto out;
undo:
	unlink(path);
out:
	free(path);
	free(sid);
	return rc;
}

/*
 * Inside a write transaction, before sealing: the store must still be
 * sealed under our key; when it moved (a rotation), pick the new key
 * up from the key file.  Returns 0 or -1 (500).
 */
int
seal_db_sync(struct store *st, struct perr *e)
{
	char	*sid = NULL;

	if (store_meta_get(st, META_KEY_ID, &sid, e) == -1)
		return -1;
	if (sid != NULL && !seal_key_reload_id(sid)) {
		perr_set(e, 500, "the store is now sealed under key %s, which "
		    "%s does not hold; install it and retry", sid,
		    seal_key_where());
		free(sid);
		return -1;
	}
	free(sid);
	return 0;
}

/*
 * Seal plain for column of row of table, inside the caller's write
 * transaction (seal_db_sync() first).  *out is new (free()).  Returns 0
 * or -1 (500).
 */
int
seal_db_close(struct store *st, const char *plain, const char *table,
    const char *row, const char *column, char **out, struct perr *e)
{
	*out = NULL;
	if (seal_db_sync(st, e) == -1)
		return -1;
	return seal_close(plain, strlen(plain), table, row, column, out, e);
}

/*
 * Seal the secret fields of the JSON object text json of row of table,
 * inside the caller's write transaction.  *out is the text to store
 * (new, free()): json itself (copied) when it has no secret field.
 * Returns 0 or -1 (500).
 */
int
seal_db_json(struct store *st, const char *json, const char *table,
    const char *row, const char *const *fields, char **out,
    struct perr *e)
{
	int	changed;

	*out = NULL;
	if (seal_db_sync(st, e) == -1 ||
	    seal_json(json, SEAL_CLOSE, table, row, fields, out, &changed,
	    e) == -1)
		return -1;
	if (!changed)
		*out = xstrdup(json);
	return 0;
}

/*
 * Open the secret fields of a stored JSON text (a read).  *out is the
 * plaintext JSON (new, free()), json copied when nothing is sealed.
 * Returns 0 or -1 (500: a field that does not open, or not sealed).
 */
int
seal_db_json_open(const char *json, const char *table, const char *row,
    const char *const *fields, char **out, struct perr *e)
{
	int	changed;

	if (seal_json(json, SEAL_OPEN, table, row, fields, out, &changed,
	    e) == -1)
		return -1;
	if (!changed)
		*out = xstrdup(json);
	return 0;
}
