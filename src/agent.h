/*
 * agent.h -- Consul's agent endpoints about the node itself:
 * GET /v1/agent/self and GET /v1/agent/members (agent.c).
 */
#ifndef AGENT_H
#define AGENT_H

#include "portcullis.h"

struct req;

/* The Consul release whose agent/status API shapes we answer with. */
#define AGENT_CONSUL_VERSION	"1.22.0"

int	agent_self(struct req *, struct perr *);
int	agent_members(struct req *, struct perr *);

#endif /* AGENT_H */
