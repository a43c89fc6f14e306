/*
 * acl_login.h -- login, logout and the OIDC authorization-code flow.
 * Documentation lives in acl_login.c.
 */
#ifndef ACL_LOGIN_H
#define ACL_LOGIN_H

#include "portcullis.h"

struct req;

void	acl_login_init(void);
int	acl_login(struct req *, struct perr *);
int	acl_logout(struct req *, struct perr *);
int	acl_oidc_auth_url(struct req *, struct perr *);
int	acl_oidc_callback(struct req *, struct perr *);

#endif /* ACL_LOGIN_H */
