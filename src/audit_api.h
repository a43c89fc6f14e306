/*
 * audit_api.h -- GET /v1/operator/audit (audit_api.c).
 */
#ifndef AUDIT_API_H
#define AUDIT_API_H

#include "portcullis.h"

struct req;

int	audit_list(struct req *, struct perr *) PC_MUSTCHECK;

#endif /* AUDIT_API_H */
