/*
 * test_ca_db.c -- the CA's store half: serial blocks are unique and
 * increasing, and reserving a block purges leaf records that expired
 * more than a day ago while keeping live ones.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "portcullis.h"
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

	sqlite3_close(db);
	store_close(s);
	snprintf(sql, sizeof(sql), "rm -rf %s", dir);
	if (system(sql) != 0)
		return 1;
	return tap_done();
}
