/*
 * test_snap.c -- snapshots patched with what changed (snap.c,
 * intention_db.c, acl.c) equal a full read.  Random writes and deletes
 * of intentions, tokens and now and then a policy go through the named
 * queries in write transactions, as the handlers' do (the tombstone
 * triggers of sql/012-snap-tombstones.sql see the deletes); after each
 * one the snapshot patched from the previous one is compared, field by
 * field and in both orders, with one read whole.  On SQLite, then on
 * PostgreSQL when PORTCULLIS_TEST_PG_DSN is set (its own database).
 */
#include "config.h"

#include <sys/stat.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "portcullis.h"
#include "acl.h"
#include "intention.h"
#include "intention_db.h"
#include "snap.h"
#include "store.h"
#include "tap.h"

#define NDEST	10
#define NSRC	3
#define NTOK	24
#define STEPS	400

#define diag(...)	do { printf("# "); printf(__VA_ARGS__); \
	printf("\n"); } while (0)

static int
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
jeq(struct json_object *a, struct json_object *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(json_object_to_json_string(a),
	    json_object_to_json_string(b)) == 0;
}

static int
ixn_eq(const struct ixn *a, const struct ixn *b)
{
	return streq(a->id, b->id) && streq(a->description, b->description) &&
	    streq(a->source_name, b->source_name) &&
	    streq(a->source_peer, b->source_peer) &&
	    streq(a->dest_name, b->dest_name) &&
	    streq(a->source_type, b->source_type) &&
	    streq(a->action, b->action) &&
	    streq(a->permissions, b->permissions) &&
	    streq(a->meta, b->meta) && streq(a->created_at, b->created_at) &&
	    streq(a->updated_at, b->updated_at) &&
	    a->precedence == b->precedence &&
	    a->create_index == b->create_index &&
	    a->modify_index == b->modify_index;
}

/* Whether two intention snapshots hold the same, in the same orders. */
static int
ixn_snap_eq(const struct ixn_snap *a, const struct ixn_snap *b)
{
	size_t	i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (!ixn_eq(a->v[i], b->v[i]) ||
		    !ixn_eq(a->by_name[i], b->by_name[i]))
			return 0;
	return 1;
}

static int
tok_eq(const struct acl_token *a, const struct acl_token *b)
{
	return streq(a->accessor_id, b->accessor_id) &&
	    streq(a->secret_id, b->secret_id) &&
	    streq(a->description, b->description) &&
	    jeq(a->policies, b->policies) && jeq(a->roles, b->roles) &&
	    jeq(a->svcids, b->svcids) && jeq(a->nodeids, b->nodeids) &&
	    a->local == b->local && streq(a->auth_method, b->auth_method) &&
	    streq(a->expiration_time, b->expiration_time) &&
	    a->expiration_ns == b->expiration_ns &&
	    streq(a->create_time, b->create_time) &&
	    streq(a->hash, b->hash) && a->create_index == b->create_index &&
	    a->modify_index == b->modify_index;
}

static int
acl_snap_eq(const struct acl_snap *a, const struct acl_snap *b)
{
	size_t	i;

	if (a->ntokens != b->ntokens || a->npolicies != b->npolicies ||
	    a->nroles != b->nroles || a->nbuckets != b->nbuckets ||
	    a->next_expiry != b->next_expiry ||
	    a->bootstrapped != b->bootstrapped ||
	    memcmp(a->idx, b->idx, sizeof(a->idx)) != 0 ||
	    memcmp(a->buckets, b->buckets, a->nbuckets *
	    sizeof(*a->buckets)) != 0)
		return 0;
	for (i = 0; i < a->ntokens; i++)
		if (!tok_eq(a->tokens[i], b->tokens[i]) ||
		    acl_snap_token_secret(a, a->tokens[i]->secret_id) !=
		    a->tokens[i])
			return 0;
	for (i = 0; i < a->npolicies; i++)
		if (!streq(a->policies[i].id, b->policies[i].id) ||
		    !streq(a->policies[i].rules, b->policies[i].rules) ||
		    a->policies[i].modify_index != b->policies[i].modify_index)
			return 0;
	return 1;
}

/*
 * Run query id with binds (":name", value or NULL) ..., NULL; a name
 * "#:name" binds the value as an integer, "#:idx" the transaction's
 * index (value ignored).
 */
static int
run(struct store *st, enum sql_id id, ...)
{
	struct store_q	*q;
	struct perr	 e;
	const char	*k, *v;
	va_list		 ap;
	int		 rc;

	perr_clear(&e);
	if ((q = store_stmt(st, id)) == NULL)
		return -1;
	va_start(ap, id);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (strcmp(k, "#:idx") == 0)
			store_bind_int(q, k + 1, (int64_t)store_tx_index(st));
		else if (*k == '#')
			store_bind_int(q, k + 1, strtoll(v, NULL, 10));
		else if (v == NULL)
			store_bind_null(q, k);
		else
			store_bind_text(q, k, v);
	}
	va_end(ap);
	while ((rc = store_step(st, q, &e)) == 1)
		;
	store_reset(q);
	if (rc == -1)
		diag("%s: %s", sql_names[id], e.msg);
	return rc;
}

/*
 * After deleting one of dest's intentions: its entry, when it is still
 * there, moves to this transaction's index (intention_db.c's
 * intention_db_entry_after_delete()).
 */
static int
entry_bump(struct store *st, const char *dest)
{
	struct store_q	*q;
	struct perr	 e;
	char		*meta = NULL;
	int		 rc, found = 0;

	perr_clear(&e);
	if ((q = store_stmt(st, SQL_INTENTION_ENTRY_GET)) == NULL)
		return -1;
	store_bind_text(q, ":dest", dest);
	if ((rc = store_step(st, q, &e)) == 1) {
		found = 1;
		meta = store_col_dup(q, 0);
	}
	store_reset(q);
	if (rc == -1)
		return -1;
	if (found) {
		rc = run(st, SQL_INTENTION_ENTRY_UPSERT, "#:idx", "", ":dest",
		    dest, ":meta", meta, NULL);
	}
	free(meta);
	return rc;
}

/* One random write or delete in its own transaction. */
static int
step(struct store *st, unsigned int r)
{
	struct perr	 e;
	char		 dest[16], src[16], acc[64], sec[64], desc[32];
	char		 expt[32], expns[32];
	const char	*peer = r & 64 ? "p1" : "";
	int		 op = (int)(r % 16), rc = 0, prec;

	perr_clear(&e);
	snprintf(dest, sizeof(dest), (r >> 8) % NDEST == 0 ? "*" : "d%u",
	    (r >> 8) % NDEST);
	snprintf(src, sizeof(src), (r >> 12) % NSRC == 0 ? "*" : "s%u",
	    (r >> 12) % NSRC);
	snprintf(acc, sizeof(acc), "acce5500-0000-4000-8000-%012u",
	    (r >> 16) % NTOK);
	snprintf(sec, sizeof(sec), "5ec4e700-0000-4000-8000-%012u",
	    (r >> 16) % NTOK);
	snprintf(desc, sizeof(desc), "v%u", r);
	snprintf(expt, sizeof(expt), "2030-01-%02uT00:00:00Z", 1 + r % 28);
	prec = intention_precedence(src, dest);
	if (store_begin(st, &e) == -1)
		return -1;
	if (op < 5) {			/* intention upsert (and its entry) */
		char	p[4];

		snprintf(p, sizeof(p), "%d", prec);
		rc = run(st, SQL_INTENTION_ENTRY_UPSERT, "#:idx", "", ":dest", dest,
		    ":meta", r & 128 ? "{\"k\":\"v\"}" : NULL, NULL);
		if (rc != -1)
			rc = run(st, SQL_INTENTION_UPSERT, ":dest", dest,
			    ":source", src, ":peer", peer, ":action",
			    r & 256 ? "allow" : "deny", ":permissions", NULL,
			    ":description", desc, ":source_type", "consul",
			    "#:precedence", p, ":legacy_id", NULL,
			    ":legacy_meta", NULL, ":created_at", NULL,
			    ":updated_at", NULL, NULL);
		store_touch(st, TBL_INTENTIONS);
	} else if (op < 9) {		/* intention delete, entry after */
		rc = run(st, SQL_INTENTION_DELETE_EXACT, ":dest", dest,
		    ":source", src, ":peer", peer, NULL);
		if (rc != -1)
			rc = run(st, SQL_INTENTION_ENTRY_DELETE_IF_EMPTY,
			    ":dest", dest, NULL);
		if (rc != -1)
			rc = entry_bump(st, dest);
		store_touch(st, TBL_INTENTIONS);
	} else if (op < 13) {		/* token upsert */
		snprintf(expns, sizeof(expns), "19000000000000%05u", r % 28);
		rc = run(st, SQL_ACL_TOKEN_UPSERT, "#:idx", "", "#:local", "0",
		    r & 1024 ? "#:expiration_ns" : ":expiration_ns",
		    r & 1024 ? expns : NULL, ":accessor_id", acc,
		    ":secret_id", sec, ":description", desc, ":policies",
		    r & 128 ? "[\"00000000-0000-0000-0000-000000000001\"]" :
		    NULL, ":roles", NULL, ":service_identities", NULL,
		    ":node_identities", NULL, ":auth_method", "",
		    ":expiration_time", r & 1024 ? expt : NULL,
		    ":create_time", "2026-01-01T00:00:00Z", ":hash", desc,
		    NULL);
		store_touch(st, TBL_ACL_TOKENS);
	} else if (op < 15) {		/* token delete */
		rc = run(st, SQL_ACL_TOKEN_DELETE, ":id", acc, NULL);
		store_touch(st, TBL_ACL_TOKENS);
	} else {			/* a policy: the ACL snapshot is read whole */
		rc = run(st, SQL_ACL_POLICY_UPSERT, "#:idx", "", ":id",
		    "11111111-0000-4000-8000-000000000001", ":name", "p",
		    ":description", desc, ":rules", "service \"x\" { policy = "
		    "\"read\" }", ":datacenters", NULL, ":hash", desc, NULL);
		store_touch(st, TBL_ACL_POLICIES);
	}
	if (rc == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st, &e);
}

/*
 * Move the tombstone horizon past every index, as the reaper does after
 * 10,000 of them (behind the store's back: no query of ours writes it).
 */
static int
horizon_past(const char *name, const char *path)
{
	sqlite3	*db;
	char	 cmd[1200];
	int	 rc;

	if (strcmp(name, "sqlite") != 0) {
		snprintf(cmd, sizeof(cmd), "psql -X -q -d '%s' -c 'UPDATE "
		    "snap_tombstone_horizon SET idx = 1000000000' >/dev/null",
		    path);
		return system(cmd) == 0 ? 0 : -1;
	}
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db, "UPDATE snap_tombstone_horizon SET idx = "
	    "1000000000", NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static void
test_backend(const char *name, const char *path)
{
	struct store	*st;
	struct perr	 e;
	struct ixn_snap	*icur = NULL, *ifull;
	struct acl_snap	*acur = NULL, *afull;
	struct snap	*h, *f = NULL;
	size_t		 i, ibad = 0, abad = 0, iinc = 0, ainc = 0, fails = 0;
	unsigned int	 r;

	perr_clear(&e);
	memset((void *)store_shared->idx, 0, sizeof(store_shared->idx));
	ok(store_open(path, &st, &e) == 0 && store_migrate(st, &e) == 0 &&
	    store_prepare_all(st, &e) == 0 && store_load_shared(st, &e) == 0,
	    "%s: store opened and migrated (%s)", name, e.msg);
	srandom(16);
	for (i = 0; i < STEPS; i++) {
		r = (unsigned int)random();
		if (step(st, r) == -1)
			fails++;
		/* Patched from the previous one, and read whole. */
		if (intention_db_snap_load(st, NULL, 0, icur ? &icur->hdr :
		    NULL, &h, &e) == -1)
			break;
		h->refs = 1;
		h->index = store_index(TBL_INTENTIONS);
		iinc += h->incremental;
		ixn_snap_put(icur);
		icur = (struct ixn_snap *)h;
		if (intention_db_snap_load(st, NULL, 0, NULL, &h, &e) == -1)
			break;
		h->refs = 1;
		ifull = (struct ixn_snap *)h;
		if (!ixn_snap_eq(icur, ifull)) {
			if (ibad++ == 0)
				diag("%s: intentions differ after step %zu "
				    "(op %u): %zu vs %zu", name, i, r % 16,
				    icur->n, ifull->n);
		}
		ixn_snap_put(ifull);

		if (acl_snap_build(st, acur, &afull, &e) == -1)
			break;
		ainc += afull->hdr.incremental;
		acl_snap_put(acur);
		acur = afull;
		if (acl_snap_build(st, NULL, &afull, &e) == -1)
			break;
		if (!acl_snap_eq(acur, afull)) {
			if (abad++ == 0)
				diag("%s: tokens differ after step %zu (op "
				    "%u): %zu vs %zu", name, i, r % 16,
				    acur->ntokens, afull->ntokens);
		}
		acl_snap_put(afull);
	}
	is_int((long)i, STEPS, "%s: every step ran (%s)", name, e.msg);
	is_int((long)fails, 0, "%s: every write committed", name);
	is_int((long)ibad, 0, "%s: the patched intention snapshot equals a "
	    "full read after each of %d random writes and deletes", name,
	    STEPS);
	is_int((long)abad, 0, "%s: the patched ACL snapshot equals a full "
	    "read after each step", name);
	ok(iinc > STEPS / 2 && ainc > STEPS / 2, "%s: most rebuilds were "
	    "patches (intentions %zu, ACL %zu of %d)", name, iinc, ainc,
	    STEPS);
	ok(icur != NULL && icur->n > 10 && acur != NULL && acur->ntokens > 5,
	    "%s: the tables were not empty (%zu intentions, %zu tokens)",
	    name, icur ? icur->n : 0, acur ? acur->ntokens : 0);

	/* Older than the horizon: its tombstones may be gone, read whole. */
	ok(horizon_past(name, path) == 0 && step(st, 3) == 0 &&
	    step(st, 10) == 0 && step(st, 14) == 0, "%s: horizon moved, "
	    "then writes", name);
	ok(icur != NULL && intention_db_snap_load(st, NULL, 0, &icur->hdr, &h,
	    &e) == 0, "%s: a snapshot behind the horizon rebuilds", name);
	h->refs = 1;
	ok(!h->incremental && intention_db_snap_load(st, NULL, 0, NULL, &f,
	    &e) == 0 && ixn_snap_eq((struct ixn_snap *)h,
	    (struct ixn_snap *)f), "%s: ... whole, not patched", name);
	snap_put(h);
	snap_put(f);
	ok(acl_snap_build(st, acur, &afull, &e) == 0 &&
	    !afull->hdr.incremental, "%s: the ACL one too", name);
	acl_snap_put(afull);
	ixn_snap_put(icur);
	acl_snap_put(acur);
	store_close(st);
}

int
main(void)
{
	char		 dir[] = "/tmp/pc-snap-XXXXXX", path[256], cmd[1200];
	const char	*dsn;

	umask(077);
	store_shared_init();
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/test.db", dir);
	test_backend("sqlite", path);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;

	if ((dsn = getenv("PORTCULLIS_TEST_PG_DSN")) == NULL || *dsn == '\0') {
		printf("ok %d - # SKIP postgres: PORTCULLIS_TEST_PG_DSN unset\n",
		    ++tap_n);
		return tap_done();
	}
	/* A database of its own: test_store moves pc_unit's schema. */
	snprintf(cmd, sizeof(cmd), "psql -X -q -d '%s' -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF "
	    "EXISTS pc_snap' -c 'CREATE DATABASE pc_snap' >/dev/null", dsn);
	if (system(cmd) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s dbname=pc_snap", dsn);
	store_configure(STORE_POSTGRES, path);
	test_backend("postgres", path);
	return tap_done();
}
