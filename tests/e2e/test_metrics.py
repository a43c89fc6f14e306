"""GET /v1/agent/metrics: Consul's JSON summary and the Prometheus text
format, counters shared by every worker of the node, through real nginx.

Prometheus output is checked with the reference parser
(python3-prometheus-client), not with our own reading of the format.
"""
import os
import re
import signal
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import acl_on, wait_for

MGMT = "5d4c3b2a-1f0e-4d9c-8b7a-695847362514"
ACL_HCL = acl_on(MGMT)
PROM_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def metrics(s, headers=None):
    r = s.get("/v1/agent/metrics", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def counter(m, name, **labels):
    """Sum of the counters called name whose labels include labels."""
    return sum(c["Count"] for c in m["Counters"] if c["Name"] == name and
               all(c["Labels"].get(k) == v for k, v in labels.items()))


def sample(m, name):
    got = [x for x in m["Samples"] if x["Name"] == name]
    assert len(got) == 1, (name, [x["Name"] for x in m["Samples"]])
    return got[0]


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def authorize_body(s, source):
    td = s.get("/v1/connect/ca/roots").json()["TrustDomain"]
    return {"Target": "db", "ClientCertURI":
            "spiffe://%s/ns/default/dc/dc1/svc/%s" % (td, source)}


def test_json_has_the_shape_of_consuls_inmem_sink(server):
    server.get("/v1/connect/ca/roots")
    m = metrics(server)
    assert set(m) == {"Timestamp", "Gauges", "Points", "Counters",
                      "Samples"}
    # go-metrics: time.Time.String() of the interval, in UTC
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d0 \+0000 UTC$",
                    m["Timestamp"]), m["Timestamp"]
    assert m["Points"] == []
    for g in m["Gauges"]:
        assert set(g) == {"Name", "Value", "Labels"}
    for x in m["Counters"] + m["Samples"]:
        assert set(x) == {"Name", "Count", "Rate", "Sum", "Min", "Max",
                          "Mean", "Stddev", "Labels"}, x
        assert isinstance(x["Labels"], dict)
    names = {g["Name"]: g for g in m["Gauges"]}
    # The CA root's lifetime (10 years by default) in seconds
    root = names["consul.mesh.active-root-ca.expiry"]
    assert 9 * 365 * 86400 < root["Value"] <= 10 * 366 * 86400
    assert root["Labels"] == {"datacenter": "dc1"}
    assert "consul.mesh.active-signing-ca.expiry" in names
    assert "portcullis.blocking.parked" in names
    roots = sample(m, "consul.http.GET.v1.connect.ca.roots")
    assert roots["Count"] >= 1
    assert roots["Min"] <= roots["Mean"] <= roots["Max"]
    assert roots["Sum"] > 0
    req = sample(m, "portcullis.http.request")
    assert req["Count"] >= 2 and req["Min"] < req["Max"]
    assert 0 < req["Stddev"] <= req["Max"]
    sample(m, "consul.acl.ResolveToken")
    sample(m, "portcullis.store.commit")


def test_prometheus_output_is_read_by_the_reference_parser(server):
    server.get("/v1/connect/intentions/check?source=a&destination=b")
    r = server.get("/v1/agent/metrics", params={"format": "prometheus"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == \
        "text/plain; version=0.0.4; charset=utf-8"
    fams = families(r.text)
    for name, f in fams.items():
        assert PROM_NAME.match(name), name
        assert f.documentation, name     # every family has HELP
    assert fams["consul_mesh_active_root_ca_expiry"].type == "gauge"
    assert fams["consul_acl_ResolveToken"].type == "histogram"
    assert fams["portcullis_authorize_allowed"].type == "counter"
    h = fams["consul_http_GET_v1_connect_intentions_check"]
    assert h.type == "histogram"
    buckets = [s for s in h.samples if s.name.endswith("_bucket")]
    values = [s.value for s in buckets]
    assert values == sorted(values) and values[-1] >= 1
    assert buckets[-1].labels["le"] == "+Inf"
    count = [s for s in h.samples if s.name.endswith("_count")][0]
    assert count.value == values[-1]
    req = fams["portcullis_http_requests"]
    assert any(s.labels == {"method": "GET", "status": "200",
                            "route": "/v1/connect/intentions/check"}
               for s in req.samples)
    # Every line is a comment or a sample: no blank or stray text
    for line in r.text.splitlines():
        assert line.startswith("# ") or re.match(
            r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+$", line), line


def test_checks_move_the_request_counters_of_every_worker(server):
    path = "/v1/connect/intentions/check?source=web&destination=db"
    before = counter(metrics(server), "portcullis.http.requests",
                     route="/v1/connect/intentions/check", status="200")
    for _ in range(40):
        assert server.get(path).status_code == 200
    after = counter(metrics(server), "portcullis.http.requests",
                    route="/v1/connect/intentions/check", status="200")
    # 40 requests spread over 2 workers: all counted, in one node total
    assert after - before == 40
    bad = counter(metrics(server), "portcullis.http.requests",
                  route="/v1/connect/intentions/check", status="500")
    server.get("/v1/connect/intentions/check?source=web")   # 500 (Consul)
    assert counter(metrics(server), "portcullis.http.requests",
                   route="/v1/connect/intentions/check",
                   status="500") == bad + 1


def test_authorize_counts_allowed_and_denied_answers(server):
    r = server.put("/v1/connect/intentions/exact?source=web&destination=db",
                   body={"Action": "allow"})
    assert r.status_code == 200, r.text
    server.put("/v1/connect/intentions/exact?source=*&destination=db",
               body={"Action": "deny"})
    m = metrics(server)
    a0 = counter(m, "portcullis.authorize.allowed")
    d0 = counter(m, "portcullis.authorize.denied")
    for src, want in (("web", True), ("web", True), ("api", False)):
        r = server.post("/v1/agent/connect/authorize",
                        body=authorize_body(server, src))
        assert r.status_code == 200 and r.json()["Authorized"] is want
    m = metrics(server)
    assert counter(m, "portcullis.authorize.allowed") == a0 + 2
    assert counter(m, "portcullis.authorize.denied") == d0 + 1
    assert sample(m, "portcullis.store.commit")["Count"] >= 2
    assert counter(m, "portcullis.snapshot.rebuilds") >= 1


def test_unknown_paths_are_counted_without_their_path(server):
    before = counter(metrics(server), "portcullis.http.requests",
                     route="", status="404")
    r = server.get("/v1/no/such/thing-abc123")
    assert r.status_code == 404
    m = metrics(server)
    assert counter(m, "portcullis.http.requests", route="",
                   status="404") == before + 1
    assert "thing-abc123" not in str(m)


def test_leaf_requests_count_cache_misses_hits_and_signings(server):
    m = metrics(server)
    miss0 = counter(m, "consul.cache.connect-ca-leaf.miss_new")
    hit0 = counter(m, "consul.cache.connect-ca-leaf.hit")
    signed0 = counter(m, "portcullis.leaf.signed")
    assert server.get("/v1/agent/connect/ca/leaf/metricsvc").status_code \
        == 200
    assert server.get("/v1/agent/connect/ca/leaf/metricsvc").status_code \
        == 200
    m = metrics(server)
    assert counter(m, "consul.cache.connect-ca-leaf.miss_new") == miss0 + 1
    assert counter(m, "consul.cache.connect-ca-leaf.hit") == hit0 + 1
    assert counter(m, "portcullis.leaf.signed") == signed0 + 1
    assert sample(m, "portcullis.leaf.sign")["Count"] >= 1


def test_a_killed_worker_moves_the_restart_counter(make_server):
    s = make_server()
    before = counter(metrics(s), "portcullis.worker.restarts")
    served = counter(metrics(s), "portcullis.http.requests",
                     route="/v1/agent/metrics")
    victim = s.workers()[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(s.workers()) == 2 and victim not in s.workers(),
             timeout=30, what="the worker to be restarted")
    wait_for(lambda: counter(metrics(s), "portcullis.worker.restarts") ==
             before + 1, timeout=30, what="the restart to be counted")
    # What the dead worker counted is still there (shared memory)
    assert counter(metrics(s), "portcullis.http.requests",
                   route="/v1/agent/metrics") > served


def test_a_failed_login_moves_the_login_failure_counter(make_server):
    s = make_server(ACL_HCL)
    h = {"X-Consul-Token": MGMT}
    before = counter(metrics(s, h), "portcullis.acl.login.failed")
    r = s.post("/v1/acl/login", body={"AuthMethod": "nope",
                                      "BearerToken": "not-a-jwt"})
    assert r.status_code in (400, 403), r.text
    assert counter(metrics(s, h), "portcullis.acl.login.failed") == \
        before + 1


def test_metrics_need_agent_read(make_server):
    s = make_server(ACL_HCL)
    h = {"X-Consul-Token": MGMT}

    def token(rules):
        p = s.put("/v1/acl/policy", body={"Name": "p%d" % abs(hash(rules)),
                                          "Rules": rules}, headers=h)
        assert p.status_code == 200, p.text
        t = s.put("/v1/acl/token", body={"Policies": [{"ID": p.json()["ID"]}]},
                  headers=h)
        return t.json()["SecretID"]

    reader = token('agent_prefix "" { policy = "read" }')
    other = token('node_prefix "" { policy = "write" }')
    assert s.get("/v1/agent/metrics",
                 headers={"X-Consul-Token": reader}).status_code == 200
    r = s.get("/v1/agent/metrics", params={"format": "prometheus"},
              headers={"X-Consul-Token": reader})
    assert r.status_code == 200 and "consul_acl_ResolveToken" in r.text
    for hdr in ({"X-Consul-Token": other}, {}):
        r = s.get("/v1/agent/metrics", headers=hdr)
        assert r.status_code == 403, r.text
        assert r.text.startswith("Permission denied")
        assert "agent:read" in r.text


def test_no_secret_appears_in_any_metric(make_server):
    s = make_server(ACL_HCL)
    h = {"X-Consul-Token": MGMT}
    secret = s.put("/v1/acl/token", body={"Description": "x"},
                   headers=h).json()["SecretID"]
    s.get("/v1/connect/intentions?token=" + secret)
    s.get("/v1/acl/token/self", headers={"X-Consul-Token": secret})
    s.get("/v1/acl/token/" + secret, headers=h)         # an ID in a path
    s.get("/v1/no/route/" + secret)
    s.post("/v1/acl/login", body={"AuthMethod": "x", "BearerToken": secret})
    j = s.get("/v1/agent/metrics", headers=h).text
    p = s.get("/v1/agent/metrics?format=prometheus", headers=h).text
    for text in (j, p):
        assert secret not in text
        assert MGMT not in text
        assert "token=" not in text


def test_telemetry_disable_stops_counting(make_server):
    s = make_server("telemetry { disable = true }\n")
    for _ in range(5):
        s.get("/v1/connect/intentions/check?source=a&destination=b")
    m = metrics(s)
    assert counter(m, "portcullis.http.requests") == 0
    assert sample(m, "portcullis.http.request")["Count"] == 0
    r = s.get("/v1/agent/metrics?format=prometheus")
    fams = families(r.text)
    assert fams["portcullis_http_request"].type == "histogram"


def test_a_bad_telemetry_setting_stops_the_start(tmp_path):
    from conftest import BIN
    import subprocess
    cfg = tmp_path / "c.hcl"
    cfg.write_text('data_dir = "%s"\ntelemetry { disable = "maybe" }\n'
                   % tmp_path)
    r = subprocess.run([BIN, "-c", str(cfg), "-t"], capture_output=True,
                       text=True)
    assert r.returncode != 0
    assert "telemetry" in r.stderr or "disable" in r.stderr, r.stderr
