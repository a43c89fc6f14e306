/*
 * acl.c -- ACL enforcement seam (see acl.h).
 *
 * XXX #4: this is the interface the handlers already call; token
 * resolution, the per-worker authorizer cache and the route-level
 * checks are built by the ACL issue.  With ACLs disabled (the only
 * configuration this file serves correctly today) every check passes,
 * exactly as in Consul with ACLs off.  With ACLs enabled and no token
 * resolution yet, every check fails closed.
 */
#include "config.h"

#include <string.h>

#include "portcullis.h"
#include "acl.h"
#include "conf.h"
#include "http.h"
#include "intention.h"
#include "worker.h"

/* Resolve the request's token.  Nothing to resolve while ACLs are off. */
int
acl_resolve(struct req *req, struct perr *e)
{
	(void)req;
	(void)e;
	return 0;
}

/* 0 when allowed, else -1 with Consul's 403 text. */
int
acl_require(struct req *req, enum acl_resource res, enum acl_access acc,
    const char *name, struct perr *e)
{
	if (!req->worker->conf->acl.enabled)
		return 0;
	return acl_denied(e, "", res, acc, name);
}

/* 1 when allowed (for filtering lists). */
int
acl_allowed(struct req *req, enum acl_resource res, enum acl_access acc,
    const char *name)
{
	struct perr	e;

	return acl_require(req, res, acc, name, &e) == 0;
}

/* The intention default when nothing matches (spec connect §6.6). */
int
acl_intention_default_allow(struct req *req)
{
	return intention_default_allow(req->worker->conf);
}
