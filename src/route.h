/*
 * route.h -- the routing table's row type: the ACL and flags a route
 * declares.  A type header: acl.c and the families read req->route
 * through it; the table (routes.c) and the matcher (router.c) are the
 * pipeline's, in router.h.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include "req.h"

/*
 * The ACL a route needs.  Enforced by the dispatcher (ACL issue); the
 * table carries it from day one so that every route declares one.
 */
enum acl_need {
	ACL_NEED_UNSET = 0,	/* a route without a declared ACL: a bug */
	ACL_NONE,		/* no ACL at all */
	ACL_BY_HANDLER,		/* depends on the object: handler checks */
	ACL_OPERATOR_READ,
	ACL_OPERATOR_WRITE,
	ACL_ACL_READ,
	ACL_ACL_WRITE,
	ACL_NEED__MAX
};

/*
 * What a blocking route waits on: a set of tables (TBIT(TBL_x) | ...,
 * store.h).  The request is re-run when the highest of their modify
 * indexes passes ?index=.
 */
#define WATCH_NONE	0u

/* Route flags. */
#define R_BODY		0x01	/* request carries a JSON body */
#define R_BLOCKING	0x02	/* supports ?index=&wait= */
#define R_ENTMETA	0x04	/* rejects ns/partition like CE Consul */
#define R_NOMETA	0x08	/* no X-Consul-Index/KnownLeader headers */
#define R_LONGWAIT	0x10	/* blocking default wait 10 min (Consul's leaf) */
#define R_OUTBOUND	0x20	/* calls identity providers: outbound pool */
#define R_AUDITFAIL	0x40	/* a failure is audited too (logins; audit.c) */

typedef int (*handler_fn)(struct req *, struct perr *);

struct route {
	enum method		 method;
	const char		*pattern;	/* "/v1/x/:id", "*rest" */
	handler_fn		 handler;
	enum acl_need		 acl;
	int			 flags;
	unsigned int		 watch;		/* tables, with R_BLOCKING */
};

#endif /* ROUTE_H */
