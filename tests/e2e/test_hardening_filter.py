"""Hardening: ?filter= regexps that used to crash or hold a worker.

glibc's regcomp recursed once per nested group and overflowed a worker
thread's 256 KiB stack; every blocking query parked in that worker then
got a 502.  Then glibc's regexec took seconds to minutes on patterns
like (.?){900}$ or (a|b|ab|ba)*c against long values.  src/regex.c now
parses without recursion and matches in one linear pass (Go's RE2
guarantee); what Go refuses gets Consul's 500 "Failed to compile regular
expression" text.  The nesting bound is Go's: 999 groups around a
literal compile, 1000 do not.
"""
import threading
import time

from conftest import acl_on, wait_for

MGMT = "11111111-2222-3333-4444-555555555555"
ACL_ON = acl_on(MGMT)
H = {"X-Consul-Token": MGMT}
PREFIX = ("Failed to create boolean expression evaluator: "
          "Failed to compile regular expression ")
# lists that hold rows here (the empty ACL lists skip an unused filter)
LISTS = ["/v1/connect/intentions", "/v1/acl/tokens"]


def nested(depth):
    return 'Description matches "%sa%s"' % ("(" * depth, ")" * depth)


def park(s, idx, out):
    """A blocking list query; its status goes to out."""
    r = s.get("/v1/connect/intentions?index=%d&wait=30s" % idx, headers=H,
              timeout=60)
    out.append(r.status_code)


def test_deeply_nested_filter_regexps_get_a_500_and_no_worker_dies(make_server):
    s = make_server(ACL_ON)
    before = s.workers()
    assert len(before) == 2
    r = s.get("/v1/connect/intentions", headers=H)
    idx = int(r.headers["X-Consul-Index"])
    parked = []
    waiters = [threading.Thread(target=park, args=(s, idx, parked))
               for _ in range(2)]
    for t in waiters:
        t.start()

    for depth in (1000, 1200):
        for path in LISTS:
            # no token where the route lists without one (intentions,
            # filtered by ACL); the ACL lists answer 403 without one
            hdr = {} if path == LISTS[0] else H
            r = s.get(path, params={"filter": nested(depth)}, headers=hdr)
            assert r.status_code == 500, (path, depth, r.status_code)
            assert r.text.startswith(PREFIX + '"((('), (path, r.text[:200])
        # the message names Go's error for the nesting (cut when long)
        r = s.get(LISTS[0], params={"filter": nested(depth)})
        assert "error parsing regexp" in r.text or len(r.text) >= 400
    r = s.get(LISTS[0], params={"filter": nested(1000)})
    assert r.status_code == 500 and len(r.text) >= 400, r.text[:200]
    # 5000 and 100000 levels: past nginx's URL limit (414) or ours (500)
    for depth in (5000, 100000):
        r = s.get(LISTS[0], params={"filter": nested(depth)})
        assert r.status_code in (414, 500), (depth, r.status_code)
    # within the bound, it compiles and filters
    for depth in (300, 999):
        r = s.get(LISTS[0], params={"filter": nested(depth)}, headers=H)
        assert r.status_code == 200 and r.json() == [], (depth, r.text)

    assert s.workers() == before, "a worker died"
    # the parked queries are still parked, then released by a write
    assert parked == []
    r = s.put("/v1/connect/intentions/exact?source=web&destination=db",
              body={"Action": "allow"}, headers=H)
    assert r.status_code == 200, r.text
    for t in waiters:
        t.join(30)
    assert parked == [200, 200]
    assert s.workers() == before


def test_regexps_that_blew_up_glibc_compile_or_are_refused_quickly(
        make_server):
    s = make_server(ACL_ON)
    before = s.workers()
    # glibc's regcomp ran out of stack or memory on these; Go takes them
    for f in ['Description matches "%s"' % ("()" * 1000),
              'Description matches "%s"' % ("\\\\b" * 100),
              'Description matches "(()){1000}"']:
        r = s.get("/v1/connect/intentions", params={"filter": f},
                  headers=H, timeout=5)
        assert r.status_code == 200 and r.json() == [], (f[:40], r.text)
    # and Go refuses these, in its words
    for f, why in [('Description matches "(a{1000}){1000}"',
                    "invalid repeat count: `{1000}`"),
                   ('Description matches "a{1001}"',
                    "invalid repeat count: `{1001}`"),
                   ('Description matches "%s"' % ("a{1000}" * 5),
                    "expression too large: `a{1000}a{1000}")]:
        r = s.get("/v1/connect/intentions", params={"filter": f},
                  timeout=5)
        assert r.status_code == 500 and r.text.startswith(PREFIX), r.text
        assert "error parsing regexp: " + why in r.text, r.text
    wait_for(lambda: s.workers() == before, timeout=2, what="same workers")


def test_pathological_regexps_on_100kb_values_answer_within_seconds(
        make_server):
    """glibc: 14.5 s for (.?){900}$ on 10 KB, > 20 s for (a|b|ab|ba)*c
    on 100 KB.  Linear matching answers in well under the timeouts."""
    s = make_server(ACL_ON)
    before = s.workers()
    long_ab = "ab" * 50000                      # 100 KB
    long_x = "x" * 100000
    for desc in (long_ab, long_x, "a" * 10000):
        r = s.put("/v1/acl/token", body={"Description": desc}, headers=H)
        assert r.status_code == 200, r.text[:200]
    # 5 tokens: the three above, the management and anonymous ones
    cases = [('Description matches "(a|b|ab|ba)*c"', 0),
             ('Description matches "^(a|b|ab|ba)*$"', 2),
             ('Description matches "(x+x+)+y"', 0),
             ('Description not matches "(x+x+)+y"', 5),
             ('Description matches "(.?){400}x$"', 1),
             ('Description matches "^(.?){900}b$"', 0)]
    for f, n in cases:
        t = time.monotonic()
        r = s.get("/v1/acl/tokens", params={"filter": f}, headers=H,
                  timeout=20)
        took = time.monotonic() - t
        assert r.status_code == 200, (f, r.text[:200])
        assert len(r.json()) == n, (f, len(r.json()))
        assert took < 10, (f, took)
    assert s.workers() == before, "a worker died"
