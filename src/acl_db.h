/*
 * acl_db.h -- the ACL family's store helpers: below acl.c (token
 * resolution) and the ACL handlers, above store.h only.
 */
#ifndef ACL_DB_H
#define ACL_DB_H

#include <stdint.h>

#include "portcullis.h"

struct store;

int	acl_reap(struct store *, int64_t, struct perr *) PC_MUSTCHECK;

#endif /* ACL_DB_H */
