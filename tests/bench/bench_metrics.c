/*
 * bench_metrics.c -- in-process cost of what metrics add to one
 * authorize request (ACLs on): the arrival clock read, the
 * ResolveToken timer, the authorize counter, and the request's status
 * counter plus its two timers, in ns per request, with THREADS threads
 * of one process bumping the same shard (a worker's accept threads
 * contend exactly so).  tests/bench/metrics.sh divides it by the CPU
 * time one authorize costs end to end.  Standalone:
 * tests/bench/bench_metrics [iterations [threads]].
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "portcullis.h"
#include "metrics.h"

static long	n;

static double
cpu_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One authorize's instrumentation, as http.c, acl.c, authorize.c do. */
static void *
run(void *arg)
{
	int64_t	arrived, t0;
	long	i;

	(void)arg;
	for (i = 0; i < n; i++) {
		arrived = metrics_now();
		t0 = metrics_now();
		metrics_time(MET_ACL_RESOLVE_TOKEN, t0);
		metrics_inc(MET_AUTHORIZE_ALLOWED);
		metrics_request(18, 200, arrived);
	}
	return NULL;
}

int
main(int argc, char *argv[])
{
	pthread_t	th[64];
	double		t;
	int		i, nth;

	n = argc > 1 ? atol(argv[1]) : 2000000;
	nth = argc > 2 ? atoi(argv[2]) : 4;
	if (nth < 1 || nth > 64)
		nth = 4;
	metrics_init(1, 2, 80);
	metrics_worker_start(0);
	t = cpu_ns();
	for (i = 0; i < nth; i++)
		pthread_create(&th[i], NULL, run, NULL);
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	t = cpu_ns() - t;
	/* CPU time per request, contention included: what the cores pay. */
	printf("%.0f\n", t / ((double)n * nth));
	return 0;
}
