/*
 * test_metrics.c -- the node's counters: what forked workers count adds
 * up in the master's view, timers keep count/sum/min/max and buckets,
 * requests are counted by route and status (unknown statuses as
 * "other", unknown routes in the no-route slot), and a node started
 * with telemetry disabled counts nothing and reads no clock.
 */
#include "config.h"

#include <sys/wait.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portcullis.h"
#include "metrics.h"
#include "tap.h"

static int64_t
ago_us(int64_t us)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - us;
}

/* In a child: telemetry disabled, every call a no-op. */
static int
disabled_child(void)
{
	struct metrics_view	*v = calloc(1, sizeof(*v));

	metrics_init(0, 2, 3);
	metrics_inc(MET_AUTHORIZE_ALLOWED);
	metrics_time(MET_STORE_COMMIT, ago_us(1000));
	metrics_request(0, 200, ago_us(10));
	metrics_read(v);
	return metrics_now() == 0 && !metrics_enabled() &&
	    v->counter[MET_AUTHORIZE_ALLOWED] == 0 &&
	    v->timer[MET_STORE_COMMIT].count == 0 &&
	    v->route[0].status[0] == 0 ? 0 : 1;
}

static int
status_slot(int code)
{
	int	i;

	for (i = 0; i < METRICS_NSTATUS - 1; i++)
		if (metrics_status_codes[i] == code)
			break;
	return i;
}

int
main(void)
{
	struct metrics_view	*v;
	pid_t			 pid;
	int			 status, slot, i;

	if ((pid = fork()) == 0)
		_exit(disabled_child());
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "telemetry disabled: nothing counted, no clock read");

	ok(metrics_now() == 0, "before init, metrics_now() is 0");
	metrics_init(1, 2, 3);
	metrics_route_name(0, "GET", "/v1/a");
	metrics_route_name(1, "PUT", "/v1/b/:id");
	metrics_route_name(2, "GET", "/v1/c");
	ok(metrics_enabled() && metrics_now() > 0, "enabled after init");

	/* The master's shard, then one per worker slot, in other processes. */
	metrics_inc(MET_WORKER_RESTART);
	for (slot = 0; slot < 2; slot++) {
		if ((pid = fork()) == 0) {
			metrics_worker_start(slot);
			for (i = 0; i < 1000; i++)
				metrics_inc(MET_AUTHORIZE_ALLOWED);
			metrics_time(MET_STORE_COMMIT, ago_us(slot ? 3000 : 50));
			metrics_request(1, 200, ago_us(700));
			metrics_request(1, 999, ago_us(700));
			metrics_request(17, 404, ago_us(5));
			_exit(0);
		}
		waitpid(pid, &status, 0);
	}
	v = calloc(1, sizeof(*v));
	metrics_read(v);
	is_int(v->counter[MET_AUTHORIZE_ALLOWED], 2000,
	    "two workers' counts add up in one view");
	is_int(v->counter[MET_WORKER_RESTART], 1, "the master's count too");
	is_int(v->timer[MET_STORE_COMMIT].count, 2, "timer count");
	ok(v->timer[MET_STORE_COMMIT].min_us >= 50 &&
	    v->timer[MET_STORE_COMMIT].min_us < 3000, "timer min across shards");
	ok(v->timer[MET_STORE_COMMIT].max_us >= 3000, "timer max across shards");
	ok(v->timer[MET_STORE_COMMIT].sum_us >= 3050, "timer sum");
	ok(metrics_sumsq(&v->timer[MET_STORE_COMMIT]) >= 9.0 &&
	    metrics_sumsq(&v->timer[MET_STORE_COMMIT]) < 100.0,
	    "sum of squares in ms^2 (3 ms and 0.05 ms: about 9)");
	is_int(v->timer[MET_STORE_COMMIT].bucket[0] +
	    v->timer[MET_STORE_COMMIT].bucket[1] +
	    v->timer[MET_STORE_COMMIT].bucket[5], 2,
	    "each sample lands in its bucket (<= 0.1 ms or so, <= 5 ms)");
	is_int(v->route[1].status[status_slot(200)], 2, "route 1, 200s");
	is_int(v->route[1].status[METRICS_NSTATUS - 1], 2,
	    "an unlisted status is counted as other");
	is_int(v->route[3].status[status_slot(404)], 2,
	    "a request with no route lands in the no-route slot");
	is_int(v->route[1].t.count, 4, "the route's timer");
	is_int(v->timer[MET_HTTP_REQUEST].count, 6,
	    "the all-routes request timer");
	is_str(metrics_route_pattern(1), "/v1/b/:id", "route names kept");
	ok(metrics_route_pattern(3) == NULL, "the no-route slot has no name");
	is_int(metrics_result(MET_LEAF_SIGN, MET_LEAF_SIGN_FAILED, ago_us(1),
	    -1), -1, "metrics_result passes the result through");
	metrics_read(v);
	is_int(v->counter[MET_LEAF_SIGN_FAILED], 1, "a failure is counted");
	is_int(v->timer[MET_LEAF_SIGN].count, 0, "and not timed");
	for (i = 0; i < MET__MAX; i++)
		if (metric_defs[i].name == NULL || metric_defs[i].help == NULL)
			break;
	is_int(i, MET__MAX, "every metric has a name and a help text");
	free(v);
	return tap_done();
}
