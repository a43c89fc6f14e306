/*
 * test_util.c -- Go durations, UUID checks, RFC 3339 times, and the
 * query-parameter parsing of http.c (?index=, ?wait=, escapes, bools).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "conf.h"
#include "http.h"
#include "json.h"
#include "router.h"
#include "util.h"
#include "worker.h"
#include "tap.h"

static const struct {
	const char	*in;
	int		 rc;
	int64_t		 ns;
} durs[] = {
	{ "0", 0, 0 }, { "10s", 0, 10000000000LL }, { "5m", 0, 300000000000LL },
	{ "1h30m", 0, 5400000000000LL }, { "100ms", 0, 100000000LL },
	{ "1.5s", 0, 1500000000LL }, { "2us", 0, 2000 }, { "3ns", 0, 3 },
	{ "-1s", 0, -1000000000LL }, { "72h", 0, 259200000000000LL },
	{ "", -1, 0 }, { "10", -1, 0 }, { "s", -1, 0 }, { "1x", -1, 0 },
	{ "1.s", 0, 1000000000LL }, { ".5s", 0, 500000000LL }, { "1h-1m", -1, 0 },
	{ "999999999999h", -1, 0 }, { "abc", -1, 0 },
};

static const struct {
	int64_t		 ns;
	const char	*out;
} fmts[] = {
	{ 0, "0s" }, { 259200000000000LL, "72h0m0s" }, { 3600000000000LL,
	"1h0m0s" }, { 1500000000LL, "1.5s" }, { 300000000000LL, "5m0s" },
	{ 100000000LL, "100ms" }, { 3, "3ns" },
};

static const struct {
	const char	*qs;	/* query string */
	int		 status;	/* of http_check_common */
	const char	*msg;
	uint64_t	 index;
} qcases[] = {
	{ "index=5&wait=10s", 0, "", 5 },
	{ "index=0", 0, "", 0 },
	{ "index=abc", 400, "Invalid index", 0 },
	{ "index=-1", 400, "Invalid index", 0 },
	{ "index=", 0, "", 0 },		/* Consul skips empty values */
	{ "wait=", 0, "", 0 },
	{ "index=&wait=", 0, "", 0 },
	{ "index=7&wait=", 0, "", 7 },
	{ "index=18446744073709551616", 400, "Invalid index", 0 },
	{ "wait=10", 400, "Invalid wait time", 0 },
	{ "wait=forever", 400, "Invalid wait time", 0 },
	{ "wait=1m&index=18446744073709551615", 0, "", 18446744073709551615ULL },
	{ "stale&consistent", 400,
	    "Cannot specify ?stale with ?consistent, conflicting semantics.", 0 },
	{ "cached&consistent", 400,
	    "Cannot specify ?cached with ?consistent, conflicting semantics.", 0 },
	{ "max_stale=x", 400, "Invalid max_stale value \"x\"", 0 },
	{ "dc=dc1", 0, "", 0 },
	{ "dc=dc2", 500, "No path to datacenter", 0 },
	{ "datacenter=dc2", 500, "No path to datacenter", 0 },
	{ "ns=default", 400, "Invalid query parameter: \"ns\" - Namespaces "
	    "are a Consul Enterprise feature", 0 },
	{ "partition=p", 400, "Invalid query parameter: \"partition\" - "
	    "Partitions are a Consul Enterprise feature", 0 },
	{ "ns=", 0, "", 0 },
};

/* RFC 3339 as Go's time.Parse(time.RFC3339) takes it. */
static const struct {
	const char	*in;
	int		 rc;	/* 0, -1 malformed, -2 out of range */
	int64_t		 sec;
	long		 nsec;
	const char	*what;
} times[] = {
	{ "1970-01-01T00:00:00Z", 0, 0, 0, NULL },
	{ "2024-05-03T09:15:02.5Z", 0, 1714727702, 500000000, NULL },
	{ "2024-05-03T11:15:02+02:00", 0, 1714727702, 0, NULL },
	{ "2024-05-03T04:15:02.123456789-05:00", 0, 1714727702, 123456789,
	    NULL },
	{ "9999-12-31T23:59:59Z", 0, 253402300799LL, 0, NULL },
	{ "0000-01-01T00:00:00Z", 0, -62167219200LL, 0, NULL },
	{ "2024-02-29T00:00:00Z", 0, 1709164800, 0, NULL },
	{ "2000-02-29T00:00:00Z", 0, 951782400, 0, NULL },
	{ "2099-02-30T00:00:00Z", -2, 0, 0, "day" },
	{ "2100-02-29T00:00:00Z", -2, 0, 0, "day" },
	{ "2023-04-31T00:00:00Z", -2, 0, 0, "day" },
	{ "2023-04-00T00:00:00Z", -2, 0, 0, "day" },
	{ "2023-04-32T00:00:00Z", -2, 0, 0, "day" },
	{ "2023-13-01T00:00:00Z", -2, 0, 0, "month" },
	{ "2023-00-01T00:00:00Z", -2, 0, 0, "month" },
	{ "2023-01-01T24:00:00Z", -2, 0, 0, "hour" },
	{ "2023-01-01T23:60:00Z", -2, 0, 0, "minute" },
	{ "2023-01-01T23:59:60Z", -2, 0, 0, "second" },
	{ "2023-01-01", -1, 0, 0, NULL },
	{ "2023-01-01T00:00:00", -1, 0, 0, NULL },
	{ "2023-01-01 00:00:00Z", -1, 0, 0, NULL },
	{ "2023-1-01T00:00:00Z", -1, 0, 0, NULL },
	{ "2023-01-01T00:00:00.Z", -1, 0, 0, NULL },
	{ "2023-01-01T00:00:00Zjunk", -1, 0, 0, NULL },
	{ "+2023-01-01T00:00:00Z", -1, 0, 0, NULL },
};

int
main(void)
{
	struct perr	 e;
	struct arena	*a;
	struct req	 req;
	struct worker	 w;
	struct conf	*c;
	struct route	 rt;
	struct timespec	 ts;
	char		 buf[64], uuid[37];
	int64_t		 ns;
	size_t		 i;
	int		 b;

	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		int64_t		 sec = -1;
		long		 nsec = -1;
		const char	*what = NULL;
		int		 rc;

		rc = time_parse_rfc3339(times[i].in, &sec, &nsec, &what);
		is_int(rc, times[i].rc, "time \"%s\" parses as Go does",
		    times[i].in);
		if (rc == 0 && times[i].rc == 0)
			ok(sec == times[i].sec && nsec == times[i].nsec,
			    "  time \"%s\" is %lld.%09ld", times[i].in,
			    (long long)sec, nsec);
		if (times[i].rc == -2)
			is_str(what, times[i].what, "  time \"%s\": "
			    "which field", times[i].in);
	}
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		ns = 0;
		is_int(duration_parse(durs[i].in, &ns), durs[i].rc,
		    "duration \"%s\" parses as Go does", durs[i].in);
		if (durs[i].rc == 0)
			is_int(ns, durs[i].ns, "duration \"%s\" value",
			    durs[i].in);
	}
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		duration_format(fmts[i].ns, buf);
		is_str(buf, fmts[i].out, "duration %lld formats as Go's",
		    (long long)fmts[i].ns);
	}

	uuid_generate_v4(uuid);
	ok(uuid_valid(uuid), "generated UUID %s is valid", uuid);
	ok(uuid[14] == '4', "generated UUID is version 4");
	perr_clear(&e);
	ok(uuid_check("abc", &e) == -1 && strcmp(e.msg,
	    "UUID must be 36 characters") == 0 && e.status == 400,
	    "short UUID: memdb's text");
	ok(uuid_check("g0000000-0000-0000-0000-000000000000", &e) == -1 &&
	    strstr(e.msg, "UUID") != NULL, "non-hex UUID mentions UUID");

	ts.tv_sec = 1526921487;
	ts.tv_nsec = 977155457;
	time_rfc3339_nano(&ts, buf);
	is_str(buf, "2018-05-21T16:51:27.977155457Z", "RFC3339Nano");
	ts.tv_nsec = 500000000;
	time_rfc3339_nano(&ts, buf);
	is_str(buf, "2018-05-21T16:51:27.5Z", "RFC3339Nano trims zeros");
	ts.tv_nsec = 0;
	time_rfc3339_nano(&ts, buf);
	is_str(buf, "2018-05-21T16:51:27Z", "RFC3339Nano whole seconds");

	{
		const char	*abc[] = { "abc" }, *split[] = { "a", NULL, "bc" };
		char		 d1[64], d2[64];

		digest_b64(abc, 1, d1);
		is_str(d1, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
		    "digest_b64 is base64 of SHA-256");
		digest_b64(split, 3, d2);
		is_str(d2, d1, "digest_b64 hashes the concatenation, NULL skipped");
	}

	strcpy(buf, "a%20b+c%2Fd");
	ok(url_decode(buf, 1) == 0 && strcmp(buf, "a b c/d") == 0,
	    "query decoding: %%20, + and %%2F");
	strcpy(buf, "bad%zz");
	ok(url_decode(buf, 0) == -1, "bad escape rejected");
	strcpy(buf, "trunc%2");
	ok(url_decode(buf, 0) == -1, "truncated escape rejected");

	perr_clear(&e);
	if (conf_parse("data_dir = \"/tmp/x\"\n", 20, 0, &c, &e) == -1)
		return printf("Bail out! conf: %s\n", e.msg), 1;
	memset(&w, 0, sizeof(w));
	w.conf = c;
	memset(&rt, 0, sizeof(rt));
	rt.flags = R_ENTMETA | R_BLOCKING;
	for (i = 0; i < sizeof(qcases) / sizeof(qcases[0]); i++) {
		a = arena_new();
		memset(&req, 0, sizeof(req));
		req.arena = a;
		req.worker = &w;
		req.route = &rt;
		perr_clear(&e);
		if (http_parse_query(&req, qcases[i].qs, &e) == 0)
			if (http_check_common(&req, &e) == 0)
				perr_clear(&e);
		is_int(e.status, qcases[i].status, "?%s -> %d", qcases[i].qs,
		    qcases[i].status);
		is_str(e.msg, qcases[i].msg, "?%s text", qcases[i].qs);
		if (qcases[i].status == 0)
			ok(req.min_index == qcases[i].index, "?%s index",
			    qcases[i].qs);
		arena_free(a);
	}
	/* ?pem= and friends: Go's ParseBool. */
	a = arena_new();
	memset(&req, 0, sizeof(req));
	req.arena = a;
	if (http_parse_query(&req, "a=true&b=0&c=yes&d=T&e=", &e) == -1)
		return 1;
	ok(req_query_bool(&req, "a", &b, &e) == 0 && b == 1, "bool true");
	ok(req_query_bool(&req, "b", &b, &e) == 0 && b == 0, "bool 0");
	ok(req_query_bool(&req, "c", &b, &e) == -1 && e.status == 400,
	    "bool yes rejected");
	ok(req_query_bool(&req, "d", &b, &e) == 0 && b == 1, "bool T");
	ok(req_query_bool(&req, "e", &b, &e) == 0 && b == 0, "bool empty");
	ok(req_query_bool(&req, "z", &b, &e) == 0 && b == 0, "bool absent");
	if (http_parse_query(&req, "name=a&name=b%2Fc&pretty", &e) == -1)
		return 1;
	{
		const char	*v[4];

		is_int(req_query_all(&req, "name", v, 4), 2, "repeated name");
		is_str(v[1], "b/c", "second name decoded");
		ok(req_query_has(&req, "pretty"), "valueless key present");
	}
	arena_free(a);
	/* Wait: default 5 min, cap 10 min, plus < wait/16 jitter. */
	a = arena_new();
	memset(&req, 0, sizeof(req));
	req.arena = a;
	if (http_parse_query(&req, "wait=1h", &e) == -1)
		return 1;
	http_set_deadline(&req);
	ns = req.deadline_ms - mono_ms();
	ok(ns >= 599000 && ns <= 600000 + 600000 / 16, "wait capped at 10m "
	    "plus jitter (%lld ms)", (long long)ns);
	memset(&req, 0, sizeof(req));
	req.arena = a;
	http_set_deadline(&req);
	ns = req.deadline_ms - mono_ms();
	ok(ns >= 299000 && ns <= 300000 + 300000 / 16, "default wait 5m");
	memset(&req, 0, sizeof(req));
	req.arena = a;
	rt.flags = R_BLOCKING | R_LONGWAIT;
	req.route = &rt;
	http_set_deadline(&req);
	ns = req.deadline_ms - mono_ms();
	ok(ns >= 599000 && ns <= 600000 + 600000 / 16, "leaf-style routes "
	    "default to 10m, as Consul's leaf endpoint");
	arena_free(a);
	/* ?pretty renders exactly as Go's json.MarshalIndent(v, "", "    "). */
	{
		struct json_object	*o;
		char			*txt;
		size_t			 len;

		o = json_tokener_parse("{\"a\":[1,2],\"b\":{},\"c\":[],"
		    "\"d\":{\"x\":\"<y>\"},\"e\":null}");
		txt = json_render(o, 1, &len);
		is_str(txt, "{\n    \"a\": [\n        1,\n        2\n    ],\n"
		    "    \"b\": {},\n    \"c\": [],\n    \"d\": {\n"
		    "        \"x\": \"\\u003cy\\u003e\"\n    },\n"
		    "    \"e\": null\n}\n", "pretty output is Go's MarshalIndent");
		ok(len == strlen(txt), "rendered length");
		free(txt);
		txt = json_render(o, 0, &len);
		is_str(txt, "{\"a\":[1,2],\"b\":{},\"c\":[],\"d\":"
		    "{\"x\":\"\\u003cy\\u003e\"},\"e\":null}",
		    "compact output is Go's Marshal");
		free(txt);
		json_object_put(o);
	}
	conf_free(c);
	return tap_done();
}
