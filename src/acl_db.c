/*
 * acl_db.c -- the ACL family's store helpers that token resolution
 * (acl.c) needs, kept below it: acl.c calls no handler file.
 *
 * acl_reap() deletes the tokens whose ExpirationTime has passed; acl.c
 * calls it at most once a second per worker, when its snapshot says a
 * token has expired.
 */
#include "config.h"

#include <stdint.h>

#include "portcullis.h"
#include "acl_db.h"
#include "store.h"

/*
 * Delete every token expired at now_ns (Unix ns) in one transaction;
 * when none was, nothing is written and no index moves.  Returns 0, or
 * -1 with 500 (logged).
 */
int
acl_reap(struct store *s, int64_t now_ns, struct perr *e)
{
	struct store_q	*st;
	int64_t		 n;

	if (store_begin(s, e) == -1)
		return -1;
	if ((st = store_stmt(s, SQL_ACL_TOKEN_REAP)) == NULL) {
		store_rollback(s);
		return perr_set(e, 500, "internal store error");
	}
	store_bind_int(st, ":now", now_ns);
	if (store_step(s, st, e) < 0) {
		store_rollback(s);
		return -1;
	}
	if ((n = store_changes(st)) == 0) {
		store_rollback(s);
		return 0;
	}
	store_touch(s, TBL_ACL_TOKENS);
	if (store_commit(s, e) == -1)
		return -1;
	log_info("acl: removed %lld expired token%s", (long long)n,
	    n == 1 ? "" : "s");
	return 0;
}
