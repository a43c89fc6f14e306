/*
 * acl_auth_method.h -- the ACL auth method API and the store access
 * that binding rules and login share.  Documentation lives in
 * acl_auth_method.c.
 */
#ifndef ACL_AUTH_METHOD_H
#define ACL_AUTH_METHOD_H

#include <stdint.h>

#include "portcullis.h"

struct authmethod;
struct conf;
struct req;

/* One auth method row (sql/004-auth-methods.sql); strings in the arena. */
struct am_row {
	const char	*name;
	const char	*type;
	const char	*display_name;
	const char	*description;
	int64_t		 max_token_ttl;		/* ns; 0: none */
	const char	*token_locality;	/* "", "local", "global" */
	const char	*config;		/* JSON text, or NULL */
	uint64_t	 create_index;
	uint64_t	 modify_index;
};

void	acl_auth_method_net(const struct conf *);
int	acl_auth_method_get(struct req *, const char *, struct am_row **,
	    struct perr *) PC_MUSTCHECK;
int	acl_auth_method_load(struct req *, const struct am_row *, int,
	    struct authmethod **, struct perr *) PC_MUSTCHECK;

/* Handlers. */
int	acl_auth_method_create(struct req *, struct perr *);
int	acl_auth_method_read(struct req *, struct perr *);
int	acl_auth_method_update(struct req *, struct perr *);
int	acl_auth_method_delete(struct req *, struct perr *);
int	acl_auth_method_list(struct req *, struct perr *);
int	acl_auth_method_missing(struct req *, struct perr *);

#endif /* ACL_AUTH_METHOD_H */
