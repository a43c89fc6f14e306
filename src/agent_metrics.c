/*
 * agent_metrics.c -- GET /v1/agent/metrics: the node's metrics
 * (metrics.c) in Consul's JSON (go-metrics' InmemSink display:
 * Timestamp, Gauges, Points, Counters, Samples) or, with
 * ?format=prometheus, in the Prometheus text exposition format 0.0.4.
 *
 * Differences from Consul, whose in-memory sink shows the last 10 s
 * interval: our counters and timers are totals since the master
 * started (per node, summed over its workers), so Rate is per second
 * of uptime; Timestamp is the current 10 s boundary.  Timers are in
 * milliseconds, as Consul's are; in Prometheus they are histograms
 * (Consul's sink makes summaries) with fixed buckets.  No value is
 * ever a token, a path with its query, or anything a client sent: the
 * label values come from the routing table.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "agent_metrics.h"
#include "ca.h"
#include "conf.h"
#include "leafcache.h"
#include "metrics.h"
#include "req.h"
#include "store.h"

#define PROM_CTYPE	"text/plain; version=0.0.4; charset=utf-8"
#define NGAUGES		4

struct gauge {
	const char	*name;
	const char	*help;
	double		 value;
	const char	*dc;		/* datacenter label, or NULL */
};

/* A per-route timer under Consul's name; routes sharing one merge. */
struct rtimer {
	char			 name[160];
	struct metric_timer	 t;
};

/* A growable text buffer (the Prometheus body). */
struct buf {
	char	*p;
	size_t	 len, cap;
};

static void PC_PRINTF(2, 3)
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (n > 0 ? (size_t)n : 0) + 256;
		b->p = xrealloc(b->p, b->cap);
	}
}

/*
 * Consul's name of a route's timer: consul.http.<METHOD>.<path>, the
 * path's segments joined by dots, "_" for a variable one
 * ("/v1/acl/token/:id" -> v1.acl.token._), as its HTTP wrapper names
 * them.
 */
static void
route_timer_name(char *out, size_t len, const char *method,
    const char *pattern)
{
	size_t	n;
	const char *p, *seg;

	n = (size_t)snprintf(out, len, "consul.http.%s", method);
	for (p = pattern; *p != '\0' && n + 3 < len; ) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		seg = p;
		while (*p != '\0' && *p != '/')
			p++;
		out[n++] = '.';
		if (*seg == ':' || *seg == '*')
			out[n++] = '_';
		else
			while (seg < p && n + 1 < len)
				out[n++] = *seg++;
	}
	out[n < len ? n : len - 1] = '\0';
}

/* The route timers that saw a request, merged by name; count in *n. */
static struct rtimer *
route_timers(const struct metrics_view *v, size_t *n)
{
	struct rtimer	*rt;
	char		 name[160];
	size_t		 r, i;

	rt = xcalloc(v->nroutes + 1, sizeof(*rt));
	*n = 0;
	for (r = 0; r < v->nroutes; r++) {
		if (v->route[r].t.count == 0)
			continue;
		route_timer_name(name, sizeof(name), metrics_route_method(r),
		    metrics_route_pattern(r));
		for (i = 0; i < *n && strcmp(rt[i].name, name) != 0; i++)
			;
		if (i == *n) {
			(void)snprintf(rt[i].name, sizeof(rt[i].name), "%s",
			    name);
			rt[i].t.min_us = UINT64_MAX;
			(*n)++;
		}
		metrics_timer_fold(&rt[i].t, &v->route[r].t);
	}
	return rt;
}

/* The gauges, read now: CA expiries, parked queries, cached leaves. */
static size_t
gauges(struct req *req, struct gauge *g)
{
	const struct conf	*c = req->worker->conf;
	struct ca_snap		*s;
	struct perr		 pe;
	int64_t			 parked = 0;
	size_t			 n = 0, i;

	perr_clear(&pe);
	if (c->connect.enabled && ca_snap_get(req, &s, &pe) == 0) {
		if (s->active != NULL) {
			/* The built-in CA signs with its active root. */
			g[n++] = (struct gauge){ "consul.mesh.active-root-ca."
			    "expiry", "Seconds until the service mesh root "
			    "certificate expires.", (double)(s->active->not_after -
			    time(NULL)), c->datacenter };
			g[n++] = (struct gauge){ "consul.mesh.active-signing-"
			    "ca.expiry", "Seconds until the service mesh "
			    "signing certificate expires.",
			    (double)(s->active->not_after - time(NULL)),
			    c->datacenter };
		}
		ca_snap_put(s);
	}
	for (i = 0; i < sizeof(store_shared->parked) /
	    sizeof(store_shared->parked[0]); i++)
		parked += __atomic_load_n(&store_shared->parked[i],
		    __ATOMIC_RELAXED);
	g[n++] = (struct gauge){ "portcullis.blocking.parked", "Blocking "
	    "queries parked now, all workers.", (double)parked, NULL };
	g[n++] = (struct gauge){ "portcullis.leaf.cache_entries", "Services "
	    "with a cached leaf certificate.", (double)leafcache_count(),
	    NULL };
	return n;
}

static double
ms(uint64_t us)
{
	return (double)us / 1000.0;
}

/* go-metrics' sample standard deviation, in ms. */
static double
stddev_ms(const struct metric_timer *t)
{
	double	n = (double)t->count, sum = ms(t->sum_us), var;

	if (t->count < 2)
		return 0;
	var = (n * metrics_sumsq(t) - sum * sum) / (n * (n - 1));
	return var > 0 ? sqrt(var) : 0;
}

/* {"Name", "Count", "Rate", "Sum", "Min", "Max", "Mean", "Stddev", "Labels"} */
static struct json_object *
sample_json(const char *name, double count, double sum, double min,
    double max, double stddev, double secs, struct json_object *labels)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "Name", json_object_new_string(name));
	json_object_object_add(o, "Count", json_object_new_int64(
	    (int64_t)count));
	json_object_object_add(o, "Rate", json_object_new_double(sum / secs));
	json_object_object_add(o, "Sum", json_object_new_double(sum));
	json_object_object_add(o, "Min", json_object_new_double(min));
	json_object_object_add(o, "Max", json_object_new_double(max));
	json_object_object_add(o, "Mean", json_object_new_double(count > 0 ?
	    sum / count : 0));
	json_object_object_add(o, "Stddev", json_object_new_double(stddev));
	json_object_object_add(o, "Labels", labels != NULL ? labels :
	    json_object_new_object());
	return o;
}

static struct json_object *
timer_json(const char *name, const struct metric_timer *t, double secs)
{
	return sample_json(name, (double)t->count, ms(t->sum_us),
	    t->count ? ms(t->min_us) : 0, ms(t->max_us), stddev_ms(t), secs,
	    NULL);
}

/* Each counter is a sample of increments of 1 (Min = Max = Mean = 1). */
static struct json_object *
counter_json(const char *name, uint64_t n, double secs,
    struct json_object *labels)
{
	double	one = n > 0 ? 1 : 0;

	return sample_json(name, (double)n, (double)n, one, one, 0, secs,
	    labels);
}

static const char *
route_label(const struct metrics_view *v, size_t r, int method)
{
	if (r >= v->nroutes)
		return "";
	return method ? metrics_route_method(r) : metrics_route_pattern(r);
}

static struct json_object *
to_json(const struct metrics_view *v, const struct gauge *g, size_t ng,
    const struct rtimer *rt, size_t nrt)
{
	struct json_object	*o, *a, *l, *x;
	char			 ts[64], code[16];
	double			 secs = v->uptime_ms < 1000 ? 1 :
				    (double)v->uptime_ms / 1000.0;
	time_t			 now = time(NULL);
	struct tm		 tm;
	size_t			 i, r;
	int			 k;

	now -= now % 10;		/* go-metrics' 10 s interval */
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
	o = json_object_new_object();
	json_object_object_add(o, "Timestamp", json_object_new_string(ts));
	a = json_object_new_array();
	for (i = 0; i < ng; i++) {
		x = json_object_new_object();
		json_object_object_add(x, "Name",
		    json_object_new_string(g[i].name));
		json_object_object_add(x, "Value",
		    json_object_new_double(g[i].value));
		l = json_object_new_object();
		if (g[i].dc != NULL)
			json_object_object_add(l, "datacenter",
			    json_object_new_string(g[i].dc));
		json_object_object_add(x, "Labels", l);
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "Gauges", a);
	json_object_object_add(o, "Points", json_object_new_array());
	a = json_object_new_array();
	for (k = 0; k < MET__MAX; k++)
		if (metric_defs[k].kind == MK_COUNTER)
			json_object_array_add(a, counter_json(
			    metric_defs[k].name, v->counter[k], secs, NULL));
	for (r = 0; r <= v->nroutes; r++)
		for (k = 0; k < METRICS_NSTATUS; k++) {
			if (v->route[r].status[k] == 0)
				continue;
			l = json_object_new_object();
			json_object_object_add(l, "method",
			    json_object_new_string(route_label(v, r, 1)));
			json_object_object_add(l, "route",
			    json_object_new_string(route_label(v, r, 0)));
			if (metrics_status_codes[k] != 0)
				snprintf(code, sizeof(code), "%d",
				    metrics_status_codes[k]);
			else
				snprintf(code, sizeof(code), "other");
			json_object_object_add(l, "status",
			    json_object_new_string(code));
			json_object_array_add(a, counter_json(
			    "portcullis.http.requests",
			    v->route[r].status[k], secs, l));
		}
	json_object_object_add(o, "Counters", a);
	a = json_object_new_array();
	for (k = 0; k < MET__MAX; k++)
		if (metric_defs[k].kind == MK_TIMER)
			json_object_array_add(a, timer_json(metric_defs[k].name,
			    &v->timer[k], secs));
	for (i = 0; i < nrt; i++)
		json_object_array_add(a, timer_json(rt[i].name, &rt[i].t,
		    secs));
	json_object_object_add(o, "Samples", a);
	return o;
}

/* A Prometheus metric name: every character outside [a-zA-Z0-9_:] -> _. */
static void
prom_name(char *out, size_t len, const char *name)
{
	size_t	i;

	for (i = 0; name[i] != '\0' && i + 1 < len; i++)
		out[i] = (name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9' && i > 0) ||
		    name[i] == ':' ? name[i] : '_';
	out[i] = '\0';
}

/* A label value or HELP text, escaped (\\, \", \n). */
static void
prom_escaped(struct buf *b, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			bprintf(b, "\\\\");
		else if (*s == '\n')
			bprintf(b, "\\n");
		else if (*s == '"' && quote)
			bprintf(b, "\\\"");
		else
			bprintf(b, "%c", *s);
	}
}

static void
prom_head(struct buf *b, const char *pn, const char *help, const char *type)
{
	bprintf(b, "# HELP %s ", pn);
	prom_escaped(b, help, 0);
	bprintf(b, "\n# TYPE %s %s\n", pn, type);
}

static void
prom_histogram(struct buf *b, const char *name, const char *help,
    const struct metric_timer *t)
{
	char		pn[192];
	uint64_t	cum = 0;
	int		i;

	prom_name(pn, sizeof(pn), name);
	prom_head(b, pn, help, "histogram");
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		cum += t->bucket[i];
		bprintf(b, "%s_bucket{le=\"%g\"} %llu\n", pn,
		    ms(metrics_bucket_us[i]), (unsigned long long)cum);
	}
	bprintf(b, "%s_bucket{le=\"+Inf\"} %llu\n", pn,
	    (unsigned long long)t->count);
	bprintf(b, "%s_sum %.6f\n%s_count %llu\n", pn, ms(t->sum_us), pn,
	    (unsigned long long)t->count);
}

static char *
to_prometheus(const struct metrics_view *v, const struct gauge *g,
    size_t ng, const struct rtimer *rt, size_t nrt, size_t *len)
{
	struct buf	 b;
	char		 pn[192];
	size_t		 i, r;
	int		 k, head = 0;

	b.len = 0;
	b.cap = 16384;
	b.p = xmalloc(b.cap);
	for (i = 0; i < ng; i++) {
		prom_name(pn, sizeof(pn), g[i].name);
		prom_head(&b, pn, g[i].help, "gauge");
		bprintf(&b, "%s", pn);
		if (g[i].dc != NULL) {
			bprintf(&b, "{datacenter=\"");
			prom_escaped(&b, g[i].dc, 1);
			bprintf(&b, "\"}");
		}
		bprintf(&b, " %.0f\n", g[i].value);
	}
	for (k = 0; k < MET__MAX; k++) {
		if (metric_defs[k].kind != MK_COUNTER)
			continue;
		prom_name(pn, sizeof(pn), metric_defs[k].name);
		prom_head(&b, pn, metric_defs[k].help, "counter");
		bprintf(&b, "%s %llu\n", pn,
		    (unsigned long long)v->counter[k]);
	}
	for (r = 0; r <= v->nroutes; r++)
		for (k = 0; k < METRICS_NSTATUS; k++) {
			if (v->route[r].status[k] == 0)
				continue;
			if (!head++)
				prom_head(&b, "portcullis_http_requests",
				    "Requests answered, by route and status.",
				    "counter");
			bprintf(&b, "portcullis_http_requests{method=\"");
			prom_escaped(&b, route_label(v, r, 1), 1);
			bprintf(&b, "\",route=\"");
			prom_escaped(&b, route_label(v, r, 0), 1);
			if (metrics_status_codes[k] != 0)
				bprintf(&b, "\",status=\"%d\"} %llu\n",
				    metrics_status_codes[k], (unsigned long long)
				    v->route[r].status[k]);
			else
				bprintf(&b, "\",status=\"other\"} %llu\n",
				    (unsigned long long)v->route[r].status[k]);
		}
	for (k = 0; k < MET__MAX; k++)
		if (metric_defs[k].kind == MK_TIMER)
			prom_histogram(&b, metric_defs[k].name,
			    metric_defs[k].help, &v->timer[k]);
	for (i = 0; i < nrt; i++)
		prom_histogram(&b, rt[i].name, "The time it takes to serve "
		    "this method and path (ms).", &rt[i].t);
	*len = b.len;
	return b.p;
}

/*
 * GET /v1/agent/metrics[?format=prometheus]   (ACL agent:read on the
 * node's name, as Consul's AgentRead).  Reply: the JSON summary, or
 * the Prometheus text (text/plain; version=0.0.4) for
 * format=prometheus; any other format gets the JSON, as in Consul.
 * 403 without agent:read.
 */
int
agent_metrics(struct req *req, struct perr *e)
{
	const struct conf	*c = req->worker->conf;
	struct metrics_view	*v;
	struct gauge		 g[NGAUGES];
	struct rtimer		*rt;
	const char		*fmt;
	char			*text;
	size_t			 ng, nrt, len;

	if (acl_require(req, ACL_RES_AGENT, ACL_ACCESS_READ, c->node_name,
	    e) == -1)
		return -1;
	v = xcalloc(1, sizeof(*v));
	metrics_read(v);
	ng = gauges(req, g);
	rt = route_timers(v, &nrt);
	fmt = req_query(req, "format");
	if (fmt != NULL && strcmp(fmt, "prometheus") == 0) {
		text = to_prometheus(v, g, ng, rt, nrt, &len);
		req->raw = arena_alloc(req->arena, len + 1);
		memcpy(req->raw, text, len + 1);
		req->rawlen = len;
		req->content_type = PROM_CTYPE;
		free(text);
	} else
		req->reply = to_json(v, g, ng, rt, nrt);
	free(rt);
	free(v);
	return 0;
}
