/*
 * test_ca_db.c -- the CA's store half: serial blocks are unique and
 * increasing, reserving a block purges leaf records that expired
 * more than a day ago while keeping live ones, and a service's cached
 * agent leaf is its newest record with a key, the only one keeping it.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "portcullis.h"
#include "ca.h"
#include "ca_db.h"
#include "store.h"
#include "tap.h"

static int
count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;
	int		 n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Record one leaf of service in a transaction; key NULL: not cached. */
static int
record(struct store *s, const char *service, uint64_t serial,
    const char *key, time_t now)
{
	struct ca_issued	is;
	struct perr		e;

	memset(&is, 0, sizeof(is));
	is.serial = serial;
	is.not_before = now - 60;
	is.not_after = now + 86400;
	is.cert_pem = "-----BEGIN CERTIFICATE-----\n";
	if (store_begin(s, &e) == -1)
		return -1;
	is.index = store_tx_index(s);
	if (ca_db_leaf_insert(s, &is, service, "spiffe://t/svc", "root",
	    key, "skid", now + 3600, &e) == -1) {
		store_rollback(s);
		return -1;
	}
	store_touch(s, TBL_CA_LEAVES);
	return store_commit(s, &e);
}

/* The serial of service's cached leaf (query ca_leaf_cache_get), or 0. */
static uint64_t
cached(struct store *s, const char *service)
{
	sqlite3_stmt	*st;
	struct perr	 e;
	uint64_t	 serial = 0;

	if ((st = store_stmt(s, SQL_CA_LEAF_CACHE_GET)) == NULL)
		return 0;
	store_bind_text(st, ":service", service);
	if (store_step(s, st, &e) == 1)
		serial = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return serial;
}

static void
test_cache(struct store *s, sqlite3 *db, time_t now)
{
	ok(record(s, "web", 1000, "KEY-1", now) == 0 &&
	    cached(s, "web") == 1000, "an agent leaf is the service's "
	    "cached leaf");
	ok(record(s, "web", 1001, "KEY-2", now) == 0 &&
	    cached(s, "web") == 1001, "a newer agent leaf replaces it");
	is_int(count(db, "SELECT count(*) FROM ca_leaf WHERE serial = 1000 "
	    "AND private_key_pem IS NULL AND cert_pem IS NULL"), 1,
	    "the older record forgets its private key and chain");
	ok(record(s, "web", 1002, NULL, now) == 0 && cached(s, "web") == 1001,
	    "a signed CSR's record (no key) is not the cached leaf");
	ok(record(s, "api", 1003, "KEY-3", now) == 0 &&
	    cached(s, "api") == 1003 && cached(s, "web") == 1001,
	    "services do not see each other's leaves");
	ok(cached(s, "nobody") == 0, "no record: no cached leaf");
	is_int(count(db, "SELECT count(*) FROM ca_leaf WHERE "
	    "private_key_pem IS NOT NULL"), 2, "one key kept per service");
}

/*
 * A store made before migration 005 (leaf cache in its own table) keeps
 * its cached leaf: the row's chain and key move into the leaf record.
 */
static void
test_migrate_cache(const char *dir)
{
	struct store	*s;
	struct perr	 e;
	sqlite3		*db;
	char		 path[256];
	int		 i, rc = SQLITE_OK;

	snprintf(path, sizeof(path), "%s/old.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return;
	for (i = 0; i < 4 && rc == SQLITE_OK; i++)
		rc = sqlite3_exec(db, sql_migrations[i], NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA user_version=4;"
		    "INSERT INTO ca_leaf (serial, service, uri, not_before, "
		    "not_after, root_id, create_index) VALUES "
		    "(7, 'web', 'u', 1, 2, 'r', 5), (8, 'web', 'u', 1, 2, 'r', 6);"
		    "INSERT INTO ca_leaf_cache (service, serial, cert_pem, "
		    "private_key_pem, signing_key_id, renew_at, modify_index) "
		    "VALUES ('web', 8, 'CERT', 'KEY', 'SKID', 99, 6);",
		    NULL, NULL, NULL);
	ok(rc == SQLITE_OK, "a store at version 4 with a cached leaf");
	ok(store_open(path, &s, &e) == 0 && store_migrate(s, &e) == 0,
	    "migrates to the current schema");
	is_int(count(db, "SELECT count(*) FROM ca_leaf WHERE serial = 8 AND "
	    "cert_pem = 'CERT' AND private_key_pem = 'KEY' AND "
	    "signing_key_id = 'SKID' AND renew_at = 99"), 1,
	    "the cached leaf's chain, key, SigningKeyID and renewal moved");
	is_int(count(db, "SELECT count(*) FROM ca_leaf WHERE serial = 7 AND "
	    "private_key_pem IS NULL"), 1, "the older record has no key");
	is_int(count(db, "SELECT count(*) FROM sqlite_schema WHERE name = "
	    "'ca_leaf_cache'"), 0, "the old table is gone");
	ok(cached(s, "web") == 8, "and serves as the cached leaf");
	store_close(s);
	sqlite3_close(db);
}

/* Group commit: threads with their own connections record leaves. */
#define GC_THREADS	4
#define GC_EACH		50

struct gc_arg {
	const char		*path;
	int			 t;
	int			 failed;
	struct ca_issued	 is[GC_EACH];
};

static void *
gc_thread(void *p)
{
	struct gc_arg		*a = p;
	struct ca_leaf_rec	 r;
	struct store		*s;
	struct perr		 e;
	char			 svc[32];
	time_t			 now = time(NULL);
	int			 i;

	if (store_open(a->path, &s, &e) == -1) {
		a->failed = GC_EACH;
		return NULL;
	}
	for (i = 0; i < GC_EACH; i++) {
		memset(&a->is[i], 0, sizeof(a->is[i]));
		a->is[i].serial = 100000 + (uint64_t)(a->t * GC_EACH + i);
		a->is[i].not_before = now - 60;
		a->is[i].not_after = now + 86400;
		a->is[i].cert_pem = "CERT";
		snprintf(svc, sizeof(svc), "gc-%d", a->t);
		memset(&r, 0, sizeof(r));
		r.is = &a->is[i];
		r.service = svc;
		r.uri = "spiffe://t/svc";
		r.root_id = "root";
		r.key = "KEY";
		r.skid = "skid";
		r.renew = now + 3600;
		if (ca_db_leaf_record(s, &r, &e) == -1 || a->is[i].index == 0)
			a->failed++;
	}
	store_close(s);
	return NULL;
}

static void
test_group_commit(const char *path, struct store *s, sqlite3 *db)
{
	struct gc_arg		 a[GC_THREADS];
	struct ca_leaf_rec	 r;
	struct ca_issued	 dup;
	struct perr		 e;
	pthread_t		 th[GC_THREADS];
	uint64_t		 idx[GC_THREADS * GC_EACH];
	size_t			 n = 0, i, j, distinct = 0;
	int			 t, failed = 0;

	for (t = 0; t < GC_THREADS; t++) {
		a[t].path = path;
		a[t].t = t;
		a[t].failed = 0;
		pthread_create(&th[t], NULL, gc_thread, &a[t]);
	}
	for (t = 0; t < GC_THREADS; t++) {
		pthread_join(th[t], NULL);
		failed += a[t].failed;
		for (i = 0; i < GC_EACH; i++)
			idx[n++] = a[t].is[i].index;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < i && idx[j] != idx[i]; j++)
			;
		distinct += j == i;
	}
	ok(failed == 0, "%d threads x %d leaves recorded through the group "
	    "commit, each with an index (%zu writes)", GC_THREADS, GC_EACH,
	    distinct);
	is_int(count(db, "SELECT count(*) FROM ca_leaf WHERE serial >= 100000"
	    " AND serial < 100200"), GC_THREADS * GC_EACH, "every record is "
	    "in the store");
	is_int(count(db, "SELECT count(*) FROM ca_leaf WHERE service LIKE "
	    "'gc-%' AND private_key_pem IS NOT NULL"), GC_THREADS,
	    "one cached leaf per service, the newest");

	memset(&dup, 0, sizeof(dup));
	dup.serial = 100000;		/* taken above */
	dup.cert_pem = "CERT";
	memset(&r, 0, sizeof(r));
	r.is = &dup;
	r.service = "dup";
	r.uri = "u";
	r.root_id = "root";
	ok(ca_db_leaf_record(s, &r, &e) == -1 && e.status == 500,
	    "a record the store refuses fails with 500");
	is_int(count(db, "SELECT count(*) FROM ca_leaf WHERE service = 'dup'"),
	    0, "and leaves nothing behind");
}

int
main(void)
{
	struct store	*s;
	struct perr	 e;
	sqlite3		*db;
	char		 dir[] = "/tmp/pc-cadb-XXXXXX", path[256], sql[512];
	uint64_t	 a, b, c;
	time_t		 now = time(NULL);
	int		 i, increasing = 1;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/test.db", dir);
	perr_clear(&e);
	if (store_open(path, &s, &e) == -1 || store_migrate(s, &e) == -1)
		return printf("Bail out! %s\n", e.msg), 1;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return 1;
	snprintf(sql, sizeof(sql), "INSERT INTO ca_leaf (serial, service, uri,"
	    " not_before, not_after, root_id, create_index) VALUES "
	    "(1, 'old', 'u', %lld, %lld, 'r', 1), "
	    "(2, 'live', 'u', %lld, %lld, 'r', 1), "
	    "(3, 'recent', 'u', %lld, %lld, 'r', 1)",
	    (long long)(now - 10 * 86400), (long long)(now - 2 * 86400),
	    (long long)now, (long long)(now + 86400),
	    (long long)(now - 2 * 3600), (long long)(now - 3600));
	ok(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK,
	    "seed leaf records");

	ok(ca_db_serial_take(s, &a, &e) == 0, "take a serial (reserves)");
	is_int(count(db, "SELECT count(*) FROM ca_leaf WHERE serial = 1"), 0,
	    "a leaf expired two days ago is purged");
	is_int(count(db, "SELECT count(*) FROM ca_leaf WHERE serial = 2"), 1,
	    "a live leaf is kept");
	is_int(count(db, "SELECT count(*) FROM ca_leaf WHERE serial = 3"), 1,
	    "a leaf expired an hour ago is kept (a day's grace)");

	/* The rest of the block, then a new block: all unique, growing. */
	b = a;
	for (i = 0; i < 100; i++) {
		if (ca_db_serial_take(s, &c, &e) == -1 || c <= b)
			increasing = 0;
		b = c;
	}
	ok(increasing, "101 serials across two blocks strictly increase "
	    "(%llu..%llu)", (unsigned long long)a, (unsigned long long)b);

	test_cache(s, db, now);
	test_group_commit(path, s, db);
	test_migrate_cache(dir);

	sqlite3_close(db);
	store_close(s);
	snprintf(sql, sizeof(sql), "rm -rf %s", dir);
	if (system(sql) != 0)
		return 1;
	return tap_done();
}
