/*
 * acl.h -- ACL enforcement as handlers see it.  The dispatcher calls
 * acl_resolve() once per request (token precedence, resolution,
 * per-worker cache) and checks the route's declared ACL; handlers whose
 * answer depends on the object call acl_require() / acl_allowed().
 */
#ifndef ACL_H
#define ACL_H

#include "portcullis.h"
#include "acl_rules.h"

struct req;

int	acl_resolve(struct req *, struct perr *) PC_MUSTCHECK;
int	acl_require(struct req *, enum acl_resource, enum acl_access,
	    const char *, struct perr *) PC_MUSTCHECK;
int	acl_allowed(struct req *, enum acl_resource, enum acl_access,
	    const char *);
int	acl_intention_default_allow(struct req *);

#endif /* ACL_H */
