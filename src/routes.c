/*
 * routes.c -- THE routing table.  One row per endpoint: method,
 * pattern, handler, the ACL it needs, flags, and for blocking routes
 * the table whose index it waits on.  The dispatcher (http.c) does the
 * generic work each row's flags ask for; tests/unit/test_routes.c
 * checks that every row declares an ACL and that no pattern shadows
 * another.
 *
 * ACLs (spec connect.md §8.3): intention reads and writes depend on
 * the intention's source/destination, so the handler checks them
 * (ACL_BY_HANDLER); enforcement arrives with the ACL issue.
 */
#include "config.h"

#include <stddef.h>

#include "portcullis.h"
#include "http.h"
#include "intention.h"
#include "router.h"

#define EM	R_ENTMETA
#define W_IXN	TBIT(TBL_INTENTIONS)

const struct route routes[] = {
/*	 method		pattern					handler			acl		flags			watch */
	{ M_GET,	"/v1/connect/intentions",		intention_list,		ACL_BY_HANDLER,	R_BLOCKING | EM,	W_IXN },
	{ M_POST,	"/v1/connect/intentions",		intention_create,	ACL_BY_HANDLER,	R_BODY | EM,		WATCH_NONE },
	{ M_GET,	"/v1/connect/intentions/exact",		intention_read_exact,	ACL_BY_HANDLER,	R_BLOCKING | EM,	W_IXN },
	{ M_PUT,	"/v1/connect/intentions/exact",		intention_put_exact,	ACL_BY_HANDLER,	R_BODY | EM,		WATCH_NONE },
	{ M_DELETE,	"/v1/connect/intentions/exact",		intention_delete_exact,	ACL_BY_HANDLER,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/connect/intentions/check",		intention_check,	ACL_BY_HANDLER,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/connect/intentions/match",		intention_match,	ACL_BY_HANDLER,	R_BLOCKING | EM,	W_IXN },
	{ M_GET,	"/v1/connect/intentions/:id",		intention_read_id,	ACL_BY_HANDLER,	R_BLOCKING,		W_IXN },
	{ M_PUT,	"/v1/connect/intentions/:id",		intention_update_id,	ACL_BY_HANDLER,	R_BODY | EM,		WATCH_NONE },
	{ M_DELETE,	"/v1/connect/intentions/:id",		intention_delete_id,	ACL_BY_HANDLER,	0,			WATCH_NONE },
};

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
