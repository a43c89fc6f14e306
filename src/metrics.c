/*
 * metrics.c -- the node's counters and timers, shared by the master
 * and every worker (read by GET /v1/agent/metrics, agent_metrics.c).
 *
 * The set is fixed at compile time: enum metric (metrics.h) for the
 * counters and timers the families bump, plus one slot per row of the
 * routing table (requests by status, and a latency timer), sized when
 * the master boots.  The region is mapped MAP_SHARED before the first
 * fork, like the shared indexes (store.c) and the login counters
 * (acl_login.c), so it outlives any worker: a worker that dies or is
 * replaced by a reload loses nothing it counted, and a restart of the
 * master starts from zero (counters are per node, since its start).
 *
 * Hot path: no lock.  Each process writes only its own shard (worker
 * slot i: shard i; the master: the last), with relaxed atomic adds, so
 * threads of one worker share cache lines but workers never do; min
 * and max are compare-and-swap loops that stop at once when nothing
 * changes.  A reader folds the shards (metrics_read()); what it sees
 * is not one instant across metrics, which a scrape does not need.
 *
 * telemetry { disable = true } maps nothing: every call returns at the
 * first test (metrics_now() answers 0, so no clock is read either).
 */
#include "config.h"

#include <sys/mman.h>

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "portcullis.h"
#include "metrics.h"

const struct metric_def metric_defs[MET__MAX] = {
	[MET_AUTHORIZE_ALLOWED] = { "portcullis.authorize.allowed", MK_COUNTER,
	    "Agent authorize calls answered Authorized: true." },
	[MET_AUTHORIZE_DENIED] = { "portcullis.authorize.denied", MK_COUNTER,
	    "Agent authorize calls answered Authorized: false." },
	[MET_LEAF_CACHE_HIT] = { "consul.cache.connect-ca-leaf.hit",
	    MK_COUNTER, "Leaf certificate requests served from the cache." },
	[MET_LEAF_CACHE_MISS] = { "consul.cache.connect-ca-leaf.miss_new",
	    MK_COUNTER, "Leaf certificate requests that issued a new leaf." },
	[MET_LEAF_SIGNED] = { "portcullis.leaf.signed", MK_COUNTER,
	    "Leaf certificates signed (leaf endpoint and ca/sign)." },
	[MET_LEAF_SIGN_FAILED] = { "portcullis.leaf.sign_failed", MK_COUNTER,
	    "Leaf signings refused or failed (CSR limits, store, signer)." },
	[MET_LOGIN_FAILED] = { "portcullis.acl.login.failed", MK_COUNTER,
	    "Failed logins (login, OIDC callback)." },
	[MET_LOGIN_REFUSED] = { "portcullis.acl.login.rate_limited",
	    MK_COUNTER, "Logins refused with 429 (failure limits, pool)." },
	[MET_STORE_COMMIT_FAILED] = { "portcullis.store.commit.failed",
	    MK_COUNTER, "Write transactions whose commit failed." },
	[MET_SNAPSHOT_REBUILD] = { "portcullis.snapshot.rebuilds", MK_COUNTER,
	    "Per-worker snapshots (tokens, roots, intentions) rebuilt." },
	[MET_WORKER_RESTART] = { "portcullis.worker.restarts", MK_COUNTER,
	    "Workers that died and were restarted by the master." },
	[MET_ACL_RESOLVE_TOKEN] = { "consul.acl.ResolveToken", MK_TIMER,
	    "The time it takes to resolve an ACL token (ms)." },
	[MET_HTTP_REQUEST] = { "portcullis.http.request", MK_TIMER,
	    "Request latency, arrival to reply, every route (ms)." },
	[MET_LEAF_SIGN] = { "portcullis.leaf.sign", MK_TIMER,
	    "The time it takes to sign and record a leaf (ms)." },
	[MET_STORE_COMMIT] = { "portcullis.store.commit", MK_TIMER,
	    "The time a write transaction's commit takes (ms)." },
	[MET_SNAPSHOT_INCREMENTAL] = { "portcullis.snapshot.incremental",
	    MK_COUNTER, "Snapshot rebuilds that patched the previous one "
	    "with the rows changed since (the rest of rebuilds: full)." },
	[MET_BLOCKING_RERUN_UNCHANGED] = {
	    "portcullis.blocking.rerun_unchanged", MK_COUNTER,
	    "Parked queries re-run after a write whose answer had not "
	    "changed, so they went on waiting." },
};

const int metrics_status_codes[METRICS_NSTATUS] = {
	200, 400, 401, 403, 404, 405, 409, 413, 429, 500, 501, 503, 0
};

const uint64_t metrics_bucket_us[METRICS_NBUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000
};

struct shard {
	uint64_t		counter[MET__MAX];
	struct metric_timer	timer[MET__MAX];
	struct metric_route	route[METRICS_MAX_ROUTES + 1];
} __attribute__((aligned(64)));

static struct shard	*shards;	/* NULL: off, or never mapped */
static struct shard	*mine;		/* this process's shard */
static int		 nshards;
static size_t		 nroutes;
static int64_t		 started_ms;
static const char	*route_method[METRICS_MAX_ROUTES + 1];
static const char	*route_pattern[METRICS_MAX_ROUTES + 1];

static int64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
timer_empty(struct metric_timer *t)
{
	memset(t, 0, sizeof(*t));
	t->min_us = UINT64_MAX;
}

/*
 * Master, before the first fork: map a shard for each of workers
 * worker slots and one for the master, for routes routes (at most
 * METRICS_MAX_ROUTES: more share the "no route" slot).  enabled 0
 * maps nothing and turns every other call into a no-op.
 */
void
metrics_init(int enabled, int workers, size_t routes)
{
	void	*p;
	size_t	 len;
	int	 i, m;
	size_t	 r;

	started_ms = mono_us() / 1000;
	nroutes = routes > METRICS_MAX_ROUTES ? METRICS_MAX_ROUTES : routes;
	if (!enabled || shards != NULL)
		return;
	nshards = workers + 1;
	len = sizeof(struct shard) * (size_t)nshards;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		fatal("mmap metrics");
	shards = p;
	for (i = 0; i < nshards; i++) {
		for (m = 0; m < MET__MAX; m++)
			timer_empty(&shards[i].timer[m]);
		for (r = 0; r <= METRICS_MAX_ROUTES; r++)
			timer_empty(&shards[i].route[r].t);
	}
	mine = &shards[nshards - 1];
}

/* Name route slot i (the routing table's row i; main's boot hook). */
void
metrics_route_name(size_t i, const char *method, const char *pattern)
{
	if (i < METRICS_MAX_ROUTES) {
		route_method[i] = method;
		route_pattern[i] = pattern;
	}
}

/* Route slot i's method and pattern; NULL for the "no route" slot. */
const char *
metrics_route_method(size_t i)
{
	return i < nroutes ? route_method[i] : NULL;
}

const char *
metrics_route_pattern(size_t i)
{
	return i < nroutes ? route_pattern[i] : NULL;
}

/* A worker at start: write to the shard of its slot from now on. */
void
metrics_worker_start(int slot)
{
	if (shards != NULL && slot >= 0 && slot < nshards - 1)
		mine = &shards[slot];
}

/* 1 unless telemetry is disabled (or never mapped). */
int
metrics_enabled(void)
{
	return shards != NULL;
}

/* A start time for metrics_time(): monotonic microseconds, 0 when off. */
int64_t
metrics_now(void)
{
	return mine != NULL ? mono_us() : 0;
}

void
metrics_inc(enum metric m)
{
	if (mine != NULL)
		__atomic_fetch_add(&mine->counter[m], 1, __ATOMIC_RELAXED);
}

static void
lower(uint64_t *p, uint64_t v)
{
	uint64_t	cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (v < cur && !__atomic_compare_exchange_n(p, &cur, v, 1,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static void
raise_to(uint64_t *p, uint64_t v)
{
	uint64_t	cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (v > cur && !__atomic_compare_exchange_n(p, &cur, v, 1,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/*
 * Add v to the double whose bits *p holds.  Squares of latencies that
 * may be minutes long (parked blocking queries) overflow any integer
 * sum in microseconds, and coarser units round sub-millisecond ones to
 * nothing.
 */
static void
add_double(uint64_t *p, double v)
{
	uint64_t	cur = __atomic_load_n(p, __ATOMIC_RELAXED), next;
	double		d;

	do {
		memcpy(&d, &cur, sizeof(d));
		d += v;
		memcpy(&next, &d, sizeof(next));
	} while (!__atomic_compare_exchange_n(p, &cur, next, 1,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

static void
observe(struct metric_timer *t, int64_t start)
{
	uint64_t	us;
	double		ms;
	int		b;

	us = (uint64_t)(mono_us() - start);
	ms = (double)us / 1000.0;
	for (b = 0; b < METRICS_NBUCKETS && us > metrics_bucket_us[b]; b++)
		;
	if (b < METRICS_NBUCKETS)
		__atomic_fetch_add(&t->bucket[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&t->count, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&t->sum_us, us, __ATOMIC_RELAXED);
	add_double(&t->sumsq, ms * ms);
	lower(&t->min_us, us);
	raise_to(&t->max_us, us);
}

/* Record the time since start (metrics_now()) in timer m. */
void
metrics_time(enum metric m, int64_t start)
{
	if (mine != NULL && start != 0)
		observe(&mine->timer[m], start);
}

/*
 * Record an operation that returned rc (0 or -1): its time in timer t
 * when it succeeded, one more in counter failed when it did not.
 * Returns rc, so a call site stays one line.
 */
int
metrics_result(enum metric t, enum metric failed, int64_t start, int rc)
{
	if (rc == -1)
		metrics_inc(failed);
	else
		metrics_time(t, start);
	return rc;
}

/*
 * One answered request: route slot r (nroutes or more: none matched),
 * its status, its arrival time (metrics_now()).  Counted by status and
 * timed per route and over all routes.
 */
void
metrics_request(size_t r, int status, int64_t start)
{
	struct metric_route	*mr;
	int			 i;

	if (mine == NULL || start == 0)
		return;
	if (r >= nroutes)
		r = nroutes;
	mr = &mine->route[r];
	for (i = 0; i < METRICS_NSTATUS - 1; i++)
		if (metrics_status_codes[i] == status)
			break;
	__atomic_fetch_add(&mr->status[i], 1, __ATOMIC_RELAXED);
	observe(&mr->t, start);
	observe(&mine->timer[MET_HTTP_REQUEST], start);
}

static uint64_t
ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Timer t's sum of squares (ms^2). */
double
metrics_sumsq(const struct metric_timer *t)
{
	uint64_t	bits = __atomic_load_n(&t->sumsq, __ATOMIC_RELAXED);
	double		d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* Add timer t into to (both read as they are; to is private). */
void
metrics_timer_fold(struct metric_timer *to, const struct metric_timer *t)
{
	uint64_t	v;
	int		b;

	to->count += ld(&t->count);
	to->sum_us += ld(&t->sum_us);
	add_double(&to->sumsq, metrics_sumsq(t));
	if ((v = ld(&t->min_us)) < to->min_us)
		to->min_us = v;
	if ((v = ld(&t->max_us)) > to->max_us)
		to->max_us = v;
	for (b = 0; b < METRICS_NBUCKETS; b++)
		to->bucket[b] += ld(&t->bucket[b]);
}

/*
 * Fold every process's shard into v: the node's totals since the
 * master started.  All zero when telemetry is disabled.
 */
void
metrics_read(struct metrics_view *v)
{
	const struct shard	*s;
	int			 i, m, k;
	size_t			 r;

	memset(v, 0, sizeof(*v));
	for (m = 0; m < MET__MAX; m++)
		timer_empty(&v->timer[m]);
	for (r = 0; r <= METRICS_MAX_ROUTES; r++)
		timer_empty(&v->route[r].t);
	v->nroutes = nroutes;
	v->uptime_ms = mono_us() / 1000 - started_ms;
	for (i = 0; shards != NULL && i < nshards; i++) {
		s = &shards[i];
		for (m = 0; m < MET__MAX; m++) {
			v->counter[m] += ld(&s->counter[m]);
			metrics_timer_fold(&v->timer[m], &s->timer[m]);
		}
		for (r = 0; r <= nroutes; r++) {
			for (k = 0; k < METRICS_NSTATUS; k++)
				v->route[r].status[k] +=
				    ld(&s->route[r].status[k]);
			metrics_timer_fold(&v->route[r].t, &s->route[r].t);
		}
	}
}
