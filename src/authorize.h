/*
 * authorize.h -- POST /v1/agent/connect/authorize.
 */
#ifndef AUTHORIZE_H
#define AUTHORIZE_H

#include "portcullis.h"

struct req;

int	authorize(struct req *, struct perr *);

#endif /* AUTHORIZE_H */
