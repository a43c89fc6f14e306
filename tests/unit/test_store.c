/*
 * test_store.c -- migrations, prepared statements, write transactions
 * and indexes, checkpoints, file modes.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portcullis.h"
#include "store.h"
#include "tap.h"

/*
 * Commits never checkpoint by themselves (store.c); store_checkpoint()
 * copies the WAL back, and once the WAL is past its catch-up size
 * (STORE_CKPT_CATCHUP frames) rewinds it: the next commit starts at
 * its beginning.
 */
static void
test_checkpoints(const char *path, struct store *s)
{
	struct store	*ck, *rd;
	struct perr	 e;
	struct store_q	*st;
	char		 k[32], *v = NULL;
	time_t		 t0;
	int		 i, n, before, after, failed = 0;

	ok(store_open(path, &ck, &e) == 0 && store_open(path, &rd, &e) == 0,
	    "checkpoint and reader connections");
	before = store_checkpoint(ck);
	ok(before >= 0, "a checkpoint pass reports the WAL size (%d)",
	    before);
	/* A reader with a statement open: a passive pass must not wait. */
	st = store_stmt(rd, SQL_INDEX_ALL);
	ok(st != NULL && store_step(rd, st, &e) == 1, "reader mid-query");
	/* ~3 frames a commit: past the catch-up size, below the emergency */
	for (i = 0; i < STORE_CKPT_CATCHUP * 2 / 3 && !failed; i++) {
		snprintf(k, sizeof(k), "key-%d", i);
		failed = store_begin(s, &e) == -1 ||
		    store_meta_put(s, k, "a value of some length, to fill "
		    "pages of the WAL a little faster than a single byte", &e)
		    == -1 || store_commit(s, &e) == -1;
	}
	ok(!failed, "%d commits", i);
	t0 = time(NULL);
	n = store_checkpoint(ck);
	ok(n >= STORE_CKPT_CATCHUP, "commits grew the WAL past the catch-up "
	    "size (%d frames): none checkpointed it", n);
	ok(time(NULL) - t0 <= 2, "a reader holding the WAL does not stall "
	    "the catch-up pass (and the writers behind it)");
	store_reset(st);
	ok(store_checkpoint(ck) >= STORE_CKPT_CATCHUP, "with the reader gone, "
	    "the catch-up pass completes");
	ok(store_begin(s, &e) == 0 && store_meta_put(s, "after", "x",
	    &e) == 0 && store_commit(s, &e) == 0, "one more commit");
	after = store_checkpoint(ck);
	ok(after >= 0 && after < 16, "after the catch-up pass the next "
	    "commit rewound the WAL (%d frames)", after);
	ok(store_meta_get(rd, "after", &v, &e) == 0 && v != NULL &&
	    strcmp(v, "x") == 0, "another connection reads the last commit");
	free(v);
	store_close(rd);
	store_close(ck);
}

int
main(void)
{
	struct store	*s, *s2;
	struct perr	 e;
	struct stat	 sb;
	char		 dir[] = "/tmp/pc-store-XXXXXX", path[256], *v;
	uint64_t	 i1, i2;

	umask(077);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/test.db", dir);
	perr_clear(&e);
	ok(store_open(path, &s, &e) == 0, "open");
	ok(store_migrate(s, &e) == 0, "migrate");
	ok(store_migrate(s, &e) == 0, "migrating twice is a no-op");
	ok(store_prepare_all(s, &e) == 0, "every query in sql/queries "
	    "prepares against the schema");
	ok(store_load_shared(s, &e) == 0, "load indexes");
	i1 = store_index(TBL_RAFT);

	ok(store_begin(s, &e) == 0, "begin");
	ok(store_tx_index(s) == i1 + 1, "transaction gets the next index");
	ok(store_meta_put(s, "k", "v", &e) == 0, "meta put");
	store_touch(s, TBL_INTENTIONS);
	ok(store_commit(s, &e) == 0, "commit");
	is_int(store_index(TBL_RAFT), i1 + 1, "global index moved by one");
	is_int(store_index(TBL_INTENTIONS), i1 + 1, "touched table index");

	ok(store_begin(s, &e) == 0, "begin again");
	ok(store_meta_put(s, "k", "other", &e) == 0, "meta put");
	store_rollback(s);
	ok(store_meta_get(s, "k", &v, &e) == 0 && v && strcmp(v, "v") == 0,
	    "rollback left the old value");
	free(v);
	ok(store_meta_get(s, "missing", &v, &e) == 0 && v == NULL,
	    "missing key is NULL, not an error");

	/* A second connection (another thread or worker) sees commits. */
	ok(store_open(path, &s2, &e) == 0, "second connection");
	ok(store_begin(s2, &e) == 0, "second writer");
	i2 = store_tx_index(s2);
	ok(i2 == i1 + 3 || i2 == i1 + 2, "index keeps growing across "
	    "connections (rollback consumed none)");
	ok(store_commit(s2, &e) == 0, "commit");
	store_close(s2);

	test_checkpoints(path, s);

	ok(stat(path, &sb) == 0 && (sb.st_mode & 077) == 0,
	    "database file is 0600 (mode %o)", sb.st_mode & 0777);
	snprintf(path, sizeof(path), "%s/test.db-wal", dir);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 077) == 0,
	    "WAL file is 0600");
	store_close(s);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		return 1;
	return tap_done();
}
