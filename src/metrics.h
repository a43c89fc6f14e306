/*
 * metrics.h -- the node's counters and timers (metrics.c), in memory
 * shared by the master and every worker; GET /v1/agent/metrics
 * (agent_metrics.c) reads them.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "portcullis.h"

/*
 * The fixed set of metrics: counters, then timers, then later ones of
 * either kind at the end; the names, kinds and help texts are in
 * metrics.c's table (metric_defs[]), which every reader goes by.
 */
enum metric {
	MET_AUTHORIZE_ALLOWED,		/* counters */
	MET_AUTHORIZE_DENIED,
	MET_LEAF_CACHE_HIT,
	MET_LEAF_CACHE_MISS,
	MET_LEAF_SIGNED,
	MET_LEAF_SIGN_FAILED,
	MET_LOGIN_FAILED,
	MET_LOGIN_REFUSED,
	MET_STORE_COMMIT_FAILED,
	MET_SNAPSHOT_REBUILD,
	MET_WORKER_RESTART,
	MET_ACL_RESOLVE_TOKEN,		/* timers */
	MET_HTTP_REQUEST,
	MET_LEAF_SIGN,
	MET_STORE_COMMIT,
	MET_SNAPSHOT_INCREMENTAL,	/* counter */
	MET_BLOCKING_RERUN_UNCHANGED,	/* counter (kinds: metric_defs[]) */
	MET__MAX
};

enum metric_kind {
	MK_COUNTER,
	MK_TIMER
};

/* Latency buckets (upper bounds, microseconds); +Inf is the count. */
#define METRICS_NBUCKETS	16
/* Status codes counted per route; anything else is "other" (the last). */
#define METRICS_NSTATUS		13
/* Routes with their own slots; the last slot is "no route" (404s). */
#define METRICS_MAX_ROUTES	255

struct metric_def {
	const char	*name;		/* Consul's dotted name, or ours */
	enum metric_kind kind;
	const char	*help;
};

/* One timer, all values in microseconds; min is UINT64_MAX while empty. */
struct metric_timer {
	uint64_t	count;
	uint64_t	sum_us;
	uint64_t	sumsq;		/* a double's bits: sum of ms^2 (Stddev) */
	uint64_t	min_us;
	uint64_t	max_us;
	uint64_t	bucket[METRICS_NBUCKETS];	/* not cumulative */
};

struct metric_route {
	uint64_t		status[METRICS_NSTATUS];
	struct metric_timer	t;
};

/* Every metric of the node, folded over the processes (metrics_read()). */
struct metrics_view {
	uint64_t		counter[MET__MAX];
	struct metric_timer	timer[MET__MAX];
	struct metric_route	route[METRICS_MAX_ROUTES + 1];
	size_t			nroutes;	/* route[nroutes]: no route */
	int64_t			uptime_ms;
};

extern const struct metric_def	metric_defs[MET__MAX];
extern const int		metrics_status_codes[METRICS_NSTATUS];
extern const uint64_t		metrics_bucket_us[METRICS_NBUCKETS];

void	 metrics_init(int, int, size_t);
void	 metrics_route_name(size_t, const char *, const char *);
const char *metrics_route_method(size_t);
const char *metrics_route_pattern(size_t);
void	 metrics_worker_start(int);
int	 metrics_enabled(void);

int64_t	 metrics_now(void);
void	 metrics_inc(enum metric);
void	 metrics_time(enum metric, int64_t);
int	 metrics_result(enum metric, enum metric, int64_t, int);
void	 metrics_request(size_t, int, int64_t);
void	 metrics_read(struct metrics_view *);
double	 metrics_sumsq(const struct metric_timer *);
void	 metrics_timer_fold(struct metric_timer *,
	    const struct metric_timer *);

#endif /* METRICS_H */
