/*
 * status.h -- GET /v1/status/leader, /v1/status/peers (Consul's) and
 * GET /v1/status/store, the load balancers' store check (an extension)
 * (status.c).
 */
#ifndef STATUS_H
#define STATUS_H

#include "portcullis.h"

struct req;

int	status_leader(struct req *, struct perr *);
int	status_peers(struct req *, struct perr *);
int	status_store(struct req *, struct perr *);

#endif /* STATUS_H */
