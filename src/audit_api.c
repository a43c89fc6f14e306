/*
 * audit_api.c -- GET /v1/operator/audit?after=&limit= (extension;
 * operator:read, blocking on the audit table's index): pages through
 * the audit log that audit.c writes.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "audit.h"
#include "audit_api.h"
#include "req.h"
#include "store.h"

#define LIST_DEFAULT	100
#define LIST_MAX	1000

/* A query integer in [min, max], or def when absent; -1 when bad. */
static int
query_int(struct req *req, const char *key, long long def, long long min,
    long long max, long long *out)
{
	const char	*v;
	char		*end;

	*out = def;
	if ((v = req_query(req, key)) == NULL || *v == '\0')
		return 0;
	errno = 0;
	*out = strtoll(v, &end, 10);
	if (*end != '\0' || errno != 0 || *out < min || *out > max)
		return -1;
	return 0;
}

/*
 * GET /v1/operator/audit?after=<seq>&limit=<n>
 * Reply: the records after seq (default 0) in chain order, at most
 * limit (default 100, at most 1000); X-Consul-Index is the audit
 * table's.  400 for a malformed after or limit.
 */
int
audit_list(struct req *req, struct perr *e)
{
	struct store_q		*st;
	struct json_object	*a, *o;
	long long		 after, limit;
	int			 rc;

	if (query_int(req, "after", 0, 0, INT64_MAX, &after) == -1)
		return perr_set(e, 400, "Invalid after: want a record "
		    "sequence number >= 0");
	if (query_int(req, "limit", LIST_DEFAULT, 1, LIST_MAX, &limit) == -1)
		return perr_set(e, 400, "Invalid limit: want 1 to %d",
		    LIST_MAX);
	/* The index first: a commit after it wakes us again. */
	req->index = store_index(TBL_AUDIT);
	if ((st = store_stmt(req->store, SQL_AUDIT_LIST)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(st, ":after", after);
	store_bind_int(st, ":limit", limit);
	a = json_object_new_array();
	while ((rc = store_step(req->store, st, e)) == STORE_ROW)
		if ((o = audit_row_json(st)) != NULL)
			json_object_array_add(a, o);
	store_reset(st);
	if (rc < 0) {
		json_object_put(a);
		return -1;
	}
	req->reply = a;
	return 0;
}
