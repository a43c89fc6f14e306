/*
 * test_ca_db.c -- the CA's store half: serial blocks are unique and
 * increasing, reserving a block purges leaf records that expired
 * more than a day ago while keeping live ones, leaf records keep no
 * private key (the agent leaf cache is in memory: test_leafcache.c),
 * and migrating an older store drops the keys it kept.
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

/* Record one leaf of service in a transaction. */
static int
record(struct store *s, const char *service, uint64_t serial, time_t now)
{
	struct ca_issued	is;
	struct perr		e;

	memset(&is, 0, sizeof(is));
	is.serial = serial;
	is.not_before = now - 60;
	is.not_after = now + 86400;
	if (store_begin(s, &e) == -1)
		return -1;
	is.index = store_tx_index(s);
	if (ca_db_leaf_insert(s, &is, service, "spiffe://t/svc", "root",
	    &e) == -1) {
		store_rollback(s);
		return -1;
	}
	store_touch(s, TBL_CA_LEAVES);
	return store_commit(s, &e);
}

static void
test_record(struct store *s, sqlite3 *db, time_t now)
{
	ok(record(s, "web", 1000, now) == 0 && record(s, "web", 1001, now) ==
	    0, "two leaves of a service are recorded");
	is_int(count(db, "SELECT count(*) FROM ca_leaf WHERE service = 'web' "
	    "AND serial IN (1000, 1001) AND uri = 'spiffe://t/svc' AND "
	    "root_id = 'root'"), 2, "with their serial, URI and root");
	is_int(count(db, "SELECT count(*) FROM pragma_table_info('ca_leaf') "
	    "WHERE name IN ('cert_pem', 'private_key_pem')"), 0,
	    "a leaf record has no column for a chain or a private key");
}

/* Does the file at path contain the bytes of needle? */
static int
file_has(const char *path, const char *needle)
{
	FILE	*f;
	char	*buf;
	size_t	 n, len = strlen(needle), i;
	int	 found = 0;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	buf = malloc(1 << 22);
	n = fread(buf, 1, 1 << 22, f);
	fclose(f);
	for (i = 0; i + len <= n && !found; i++)
		found = memcmp(buf + i, needle, len) == 0;
	free(buf);
	return found;
}

/*
 * A store made before migration 005 (leaf cache in its own table, with
 * the private key) keeps its leaf records through 005 and 006, and no
 * byte of the cached key is left in the database file.
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
		    "VALUES ('web', 8, 'CERT', 'SENTINEL-LEAF-PRIVATE-KEY', "
		    "'SKID', 99, 6);", NULL, NULL, NULL);
	sqlite3_close(db);
	ok(rc == SQLITE_OK && file_has(path, "SENTINEL-LEAF-PRIVATE-KEY") == 1,
	    "a store at version 4 with a cached leaf and its key");
	ok(store_open(path, &s, &e) == 0 && store_migrate(s, &e) == 0,
	    "migrates to the current schema");
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return;
	is_int(count(db, "SELECT count(*) FROM ca_leaf WHERE serial IN (7, 8) "
	    "AND service = 'web'"), 2, "the leaf records are kept");
	is_int(count(db, "SELECT count(*) FROM sqlite_schema WHERE name = "
	    "'ca_leaf_cache'"), 0, "the old cache table is gone");
	is_int(count(db, "SELECT count(*) FROM pragma_table_info('ca_leaf') "
	    "WHERE name IN ('cert_pem', 'private_key_pem', 'signing_key_id', "
	    "'renew_at')"), 0, "and so are the cache's columns");
	sqlite3_close(db);
	store_close(s);		/* the last connection: WAL written back */
	ok(file_has(path, "SENTINEL-LEAF-PRIVATE-KEY") == 0,
	    "no byte of the key is left in the database file");
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

	test_record(s, db, now);
	test_group_commit(path, s, db);
	test_migrate_cache(dir);

	sqlite3_close(db);
	store_close(s);
	snprintf(sql, sizeof(sql), "rm -rf %s", dir);
	if (system(sql) != 0)
		return 1;
	return tap_done();
}
