/*
 * acl_binding_rule.h -- the ACL binding rule API and the binder that
 * login runs.  Documentation lives in acl_binding_rule.c.
 */
#ifndef ACL_BINDING_RULE_H
#define ACL_BINDING_RULE_H

#include "portcullis.h"

struct am_row;
struct authmethod;
struct authmethod_identity;
struct json_object;
struct req;

/* What a login's identity is bound to; arrays owned, NULL when none. */
struct acl_bindings {
	struct json_object	*svcids;	/* [{"ServiceName"}] */
	struct json_object	*nodeids;	/* [{"NodeName", "Datacenter"}] */
	struct json_object	*roles;		/* role IDs */
	struct json_object	*policies;	/* policy IDs */
};

int	acl_binding_rule_bind(struct req *, const struct am_row *,
	    const struct authmethod *, const struct authmethod_identity *,
	    struct acl_bindings *, struct perr *) PC_MUSTCHECK;
int	acl_bindings_empty(const struct acl_bindings *);
void	acl_bindings_clear(struct acl_bindings *);

/* Handlers. */
int	acl_binding_rule_create(struct req *, struct perr *);
int	acl_binding_rule_read(struct req *, struct perr *);
int	acl_binding_rule_update(struct req *, struct perr *);
int	acl_binding_rule_delete(struct req *, struct perr *);
int	acl_binding_rule_list(struct req *, struct perr *);
int	acl_binding_rule_missing(struct req *, struct perr *);

#endif /* ACL_BINDING_RULE_H */
