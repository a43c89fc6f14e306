"""Compatibility gaps found by running Consul's own client tests (api/)
against Portcullis: each test names the Consul behaviour it pins."""
import subprocess

from conftest import acl_on, q

DENY = 'acl {\n enabled = true\n default_policy = "deny"\n}\n'
CID = "6F1A2B3C-4D5E-4F60-8172-93A4B5C6D7E8"


def test_unknown_token_before_bootstrap_gets_consuls_must_be_bootstrapped_text(make_server):
    # api/acl_test.go TestAPI_ACLBootstrap: a non-bootstrapped cluster.
    s = make_server(DENY)
    r = s.get("/v1/acl/tokens", headers={"X-Consul-Token": "root"})
    assert (r.status_code, r.text) == (
        403, "ACL system must be bootstrapped before making any requests "
        "that require authorization: ACL not found")
    # No token: the anonymous token answers, bootstrapped or not.
    r = s.get("/v1/acl/tokens")
    assert r.status_code == 403 and r.text.startswith(
        "Permission denied: anonymous token lacks permission 'acl:read'")
    boot = s.put("/v1/acl/bootstrap")
    assert boot.status_code == 200, boot.text
    # Once bootstrapped, the plain text, in every worker.
    for _ in range(6):
        r = s.get("/v1/acl/tokens", headers={"X-Consul-Token": "root"})
        assert (r.status_code, r.text) == (403, "ACL not found")
    r = s.get("/v1/acl/tokens",
              headers={"X-Consul-Token": boot.json()["SecretID"]})
    assert r.status_code == 200 and len(r.json()) == 2


def test_initial_management_token_counts_as_bootstrapped(make_server):
    s = make_server(acl_on("0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"))
    r = s.get("/v1/acl/tokens", headers={"X-Consul-Token": "root"})
    assert (r.status_code, r.text) == (403, "ACL not found")


def test_ca_config_cluster_id_sets_the_trust_domain_at_first_bootstrap(make_server, tmp_path):
    s = make_server('connect {\n ca_config {\n  cluster_id = "%s"\n }\n}\n' % CID)
    roots = s.get("/v1/connect/ca/roots").json()
    assert roots["TrustDomain"] == CID.lower() + ".consul"
    root = roots["Roots"][0]
    assert root["ID"] and CID.lower() in roots["TrustDomain"]
    # Independent check: the root's URI SAN names the cluster's domain.
    pem = tmp_path / "root.pem"
    pem.write_text(root["RootCert"])
    out = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout", "-ext",
                          "subjectAltName"], capture_output=True, text=True,
                         check=True).stdout
    assert "spiffe://%s.consul" % CID.lower() in out
    leaf = s.get("/v1/agent/connect/ca/leaf/web").json()
    assert leaf["ServiceURI"].startswith("spiffe://%s.consul/" % CID.lower())
    # cluster_id is not a CA config key: it is not echoed in Config.
    cfg = s.get("/v1/connect/ca/configuration").json()
    assert "cluster_id" not in cfg["Config"]


def test_ca_config_cluster_id_is_ignored_once_the_ca_exists(make_server):
    s = make_server()
    before = s.get("/v1/connect/ca/roots").json()["TrustDomain"]
    s.stop_master()
    with open(s.dir + "/extra.hcl", "w") as f:
        f.write('connect {\n ca_config {\n  cluster_id = "%s"\n }\n}\n' % CID
                + s.store_hcl)
    subprocess.run(["sh", "contrib/mkconf.sh", s.dir, str(s.port),
                    s.dir + "/extra.hcl"], check=True,
                   cwd=__import__("conftest").SRC)
    s.start()
    assert s.get("/v1/connect/ca/roots").json()["TrustDomain"] == before
    assert "cluster_id %s ignored" % CID.lower() in s.logtext()


def test_ca_config_cluster_id_that_is_not_a_uuid_stops_the_start(tmp_path):
    import conftest
    d = tmp_path / "d"
    extra = tmp_path / "extra.hcl"
    extra.write_text('connect {\n ca_config {\n  cluster_id = "not-a-uuid"\n }\n}\n')
    subprocess.run(["sh", conftest.SRC + "/contrib/mkconf.sh", str(d), "1",
                    str(extra)], check=True)
    p = subprocess.run([conftest.BIN, "-c", str(d / "portcullis.hcl")],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "cluster_id was supplied but was not a valid UUID" in p.stderr + p.stdout


def test_unknown_v1_paths_carry_the_default_acl_policy_header(server, make_server):
    for path in ("/v1/no/such/thing", "/v1/catalog/services"):
        r = server.get(path)
        assert r.status_code == 404
        assert r.headers["X-Consul-Default-ACL-Policy"] == "allow"
    s = make_server(DENY)
    r = s.get("/v1/no/such/thing")
    assert r.status_code == 404
    assert r.headers["X-Consul-Default-ACL-Policy"] == "deny"
    # 405 too.
    r = s.request("PATCH", "/v1/connect/intentions")
    assert r.status_code == 405
    assert r.headers["X-Consul-Default-ACL-Policy"] == "deny"


def test_authorize_trust_domain_check_can_be_turned_off_as_modern_consul_does(make_server):
    s = make_server("connect {\n authorize_trust_domain_check = false\n}\n")
    r = s.put("/v1/connect/intentions/exact" + q(source="web", destination="db"),
              {"Action": "allow"})
    assert r.status_code == 200
    other = "spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc1/svc/web"
    r = s.post("/v1/agent/connect/authorize",
               {"Target": "db", "ClientCertURI": other})
    assert r.status_code == 200
    assert r.json() == {"Authorized": True, "Reason": "Matched L4 intention: "
                        "default/web => default/db (Precedence: 9, Action: ALLOW)"}
