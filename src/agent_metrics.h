/*
 * agent_metrics.h -- GET /v1/agent/metrics (agent_metrics.c).
 */
#ifndef AGENT_METRICS_H
#define AGENT_METRICS_H

#include "portcullis.h"

struct req;

int	agent_metrics(struct req *, struct perr *);

#endif /* AGENT_METRICS_H */
