"""Auth methods and binding rules end to end (acl.md §6-7): create,
upsert, read, update with immutable Type and Name, list without Config,
delete cascading to rules and login tokens, validation texts, blocking
reads.  Tests named "..._as_consul_code" follow Consul's code where its
docs say otherwise."""
import threading
import time

import pytest

from authfakes import (H, acl_hcl, k8s, k8s_method, login, ok,  # noqa: F401 (k8s: fixture)
                       put_method, put_rule)
from conftest import Server


@pytest.fixture(scope="module")
def s():
    srv = Server(acl_hcl())
    yield srv
    srv.stop()


def test_auth_method_create_read_list_without_config(s, k8s):
    m = k8s_method(s, k8s, name="crud-1", DisplayName="Dev cluster",
                   Description="minikube", MaxTokenTTL="1h",
                   TokenLocality="global")
    assert list(m) == ["Name", "Type", "DisplayName", "Description",
                       "MaxTokenTTL", "TokenLocality", "Config",
                       "CreateIndex", "ModifyIndex"]
    assert m["MaxTokenTTL"] == "1h0m0s" and m["TokenLocality"] == "global"
    assert sorted(m["Config"]) == list(m["Config"])     # a Go map
    assert m["Config"]["Host"] == k8s.url
    r = s.get("/v1/acl/auth-method/crud-1", headers=H)
    assert ok(r) == m and int(r.headers["X-Consul-Index"]) >= 1
    lst = ok(s.get("/v1/acl/auth-methods", headers=H))
    stub = [x for x in lst if x["Name"] == "crud-1"][0]
    assert "Config" not in stub and stub["MaxTokenTTL"] == "1h0m0s"


def test_auth_method_empty_description_is_omitted_as_consul_code(s, k8s):
    m = k8s_method(s, k8s, name="crud-nodesc")
    assert "Description" not in m and "DisplayName" not in m
    assert "MaxTokenTTL" not in m and "TokenLocality" not in m
    stub = [x for x in ok(s.get("/v1/acl/auth-methods", headers=H))
            if x["Name"] == "crud-nodesc"][0]
    assert "Description" not in stub


def test_auth_method_put_is_an_upsert_keeping_create_index(s, k8s):
    a = k8s_method(s, k8s, name="crud-up", Description="one")
    b = k8s_method(s, k8s, name="crud-up", Description="two")
    assert b["CreateIndex"] == a["CreateIndex"]
    assert b["ModifyIndex"] > a["ModifyIndex"]
    assert b["Description"] == "two"


def test_auth_method_update_fills_name_and_type_and_refuses_changes(s, k8s):
    k8s_method(s, k8s, name="crud-imm")
    cfg = ok(s.get("/v1/acl/auth-method/crud-imm", headers=H))["Config"]
    r = s.put("/v1/acl/auth-method/crud-imm", body={
        "Description": "no type, no name", "Config": cfg}, headers=H)
    assert ok(r)["Type"] == "kubernetes" and r.json()["Name"] == "crud-imm"
    r = s.put("/v1/acl/auth-method/crud-imm", body={
        "Name": "other", "Config": cfg}, headers=H)
    assert r.status_code == 400
    assert r.text == "AuthMethod Name in URL and payload do not match"
    r = s.put("/v1/acl/auth-method/crud-imm", body={
        "Type": "jwt", "Config": cfg}, headers=H)
    assert r.status_code == 500
    assert r.text == "the Type field of an Auth Method is immutable"


@pytest.mark.parametrize("body,text", [
    ({"Type": "kubernetes"}, "Invalid Auth Method: no Name is set"),
    ({"Name": "a b", "Type": "kubernetes"},
     "Invalid Auth Method: invalid Name. Only alphanumeric characters, "
     "'-' and '_' are allowed"),
    ({"Name": "x", "Type": "aws-iam"},
     "Invalid Auth Method: Type should be one of: [jwt kubernetes oidc]"),
    ({"Name": "x", "Type": "kubernetes", "MaxTokenTTL": "48h"},
     "MaxTokenTTL 48h0m0s cannot be more than 24h0m0s"),
    ({"Name": "x", "Type": "kubernetes", "MaxTokenTTL": 1000000000},
     "MaxTokenTTL 1s cannot be less than 1m0s"),
    ({"Name": "x", "Type": "kubernetes", "TokenLocality": "nowhere"},
     "Invalid Auth Method: TokenLocality should be one of 'local' or "
     "'global'"),
    ({"Name": "x", "Type": "kubernetes", "Config": {}},
     "Invalid Auth Method: Config.Host is required"),
    ({"Name": "x", "Type": "kubernetes", "Config": {"Nope": 1}},
     "Invalid Auth Method: error decoding config: 1 error(s) decoding:"
     "\n\n* '' has invalid keys: Nope"),
    ({"Name": "x", "Type": "jwt", "Config": {}},
     "Invalid Auth Method: exactly one of 'JWTValidationPubKeys', "
     "'JWKSURL', or 'OIDCDiscoveryURL' must be set for type \"jwt\""),
])
def test_auth_method_validation_is_500_with_consul_texts(s, body, text):
    r = put_method(s, body)
    assert (r.status_code, r.text) == (500, text)


def test_auth_method_decode_errors_are_400(s):
    r = s.put("/v1/acl/auth-method", raw="", headers=H)
    assert (r.status_code, r.text) == (400, "AuthMethod decoding failed: EOF")
    r = put_method(s, {"Name": "x", "Type": "jwt", "Bogus": 1})
    assert r.status_code == 400
    assert r.text == 'AuthMethod decoding failed: json: unknown field "Bogus"'
    r = put_method(s, {"Name": "x", "Type": "jwt", "MaxTokenTTL": "soon"})
    assert r.text == ('AuthMethod decoding failed: time: invalid duration '
                      '"soon"')
    r = put_method(s, {"Name": "x", "Namespace": "default"})
    assert r.status_code == 400 and r.text.endswith(
        "Namespaces are a Consul Enterprise feature")


def test_auth_method_missing_reads_404_and_missing_names_400(s):
    r = s.get("/v1/acl/auth-method/nope", headers=H)
    assert r.status_code == 404
    assert r.text == "Requested auth method does not exist: ACL not found"
    r = s.get("/v1/acl/auth-method/", headers=H)
    assert (r.status_code, r.text) == (400, "Missing auth method name")
    assert ok(s.delete("/v1/acl/auth-method/nope", headers=H)) is True


def test_auth_methods_need_acl_read_and_write(s, k8s):
    r = s.get("/v1/acl/auth-methods")
    assert r.status_code == 403 and "acl:read" in r.text
    r = s.put("/v1/acl/auth-method", body={"Name": "x"})
    assert r.status_code == 403 and "acl:write" in r.text


def test_auth_method_list_blocks_until_a_method_is_written(s, k8s):
    r = s.get("/v1/acl/auth-methods", headers=H)
    idx = int(r.headers["X-Consul-Index"])
    out = {}

    def block():
        t0 = time.time()
        out["r"] = s.get("/v1/acl/auth-methods?index=%d&wait=20s" % idx,
                         headers=H)
        out["t"] = time.time() - t0
    th = threading.Thread(target=block)
    th.start()
    time.sleep(0.5)
    k8s_method(s, k8s, name="crud-block")
    th.join(30)
    assert out["t"] < 15
    assert int(out["r"].headers["X-Consul-Index"]) > idx
    assert any(x["Name"] == "crud-block" for x in out["r"].json())


# ------------------------------------------------------------------
# Binding rules

def test_binding_rule_create_read_update_list_delete(s, k8s):
    k8s_method(s, k8s, name="br-1")
    k8s_method(s, k8s, name="br-2")
    r = ok(put_rule(s, AuthMethod="br-1", BindType="service",
                    BindName="svc-${serviceaccount.name}",
                    Selector="serviceaccount.namespace==default",
                    Description="d"))
    assert list(r) == ["ID", "Description", "AuthMethod", "Selector",
                       "BindType", "BindName", "CreateIndex", "ModifyIndex"]
    rid = r["ID"]
    assert ok(s.get("/v1/acl/binding-rule/" + rid, headers=H)) == r
    u = ok(s.put("/v1/acl/binding-rule/" + rid, body={
        "BindType": "node", "BindName": "n-${serviceaccount.uid}"},
        headers=H))
    assert u["AuthMethod"] == "br-1" and u["Selector"] == ""
    assert u["CreateIndex"] == r["CreateIndex"]
    ok(put_rule(s, AuthMethod="br-2", BindType="role", BindName="ops"))
    one = ok(s.get("/v1/acl/binding-rules?authmethod=br-1", headers=H))
    assert [x["ID"] for x in one] == [rid]
    every = ok(s.get("/v1/acl/binding-rules", headers=H))
    assert [x["ID"] for x in every] == sorted(x["ID"] for x in every)
    assert ok(s.get("/v1/acl/binding-rules?authmethod=none",
                    headers=H)) == []
    assert ok(s.delete("/v1/acl/binding-rule/" + rid, headers=H)) is True
    r = s.get("/v1/acl/binding-rule/" + rid, headers=H)
    assert r.status_code == 404
    assert r.text == "Requested binding rule does not exist: ACL not found"


def test_binding_rule_bind_vars_render_lowercase_name(s, k8s):
    k8s_method(s, k8s, name="br-vars")
    r = ok(put_rule(s, AuthMethod="br-vars", BindType="service",
                    BindName="x", BindVars={"Name": "web"}))
    assert r["BindVars"] == {"name": "web"}


@pytest.mark.parametrize("body,text", [
    ({"BindType": "service", "BindName": "x"},
     "Invalid Binding Rule: no AuthMethod is set"),
    ({"AuthMethod": "ghost", "BindType": "service", "BindName": "x"},
     'cannot find auth method with name "ghost"'),
    ({"AuthMethod": "br-v", "BindType": "service", "BindName": "x",
      "Selector": "value.x == y"},
     'invalid Binding Rule: Selector is invalid: Selector "value" is not '
     'valid'),
    ({"AuthMethod": "br-v", "BindName": "x"},
     "Invalid Binding Rule: no BindType is set"),
    ({"AuthMethod": "br-v", "BindType": "service"},
     "Invalid Binding Rule: no BindName is set"),
    ({"AuthMethod": "br-v", "BindType": "user", "BindName": "x"},
     'Invalid Binding Rule: unknown BindType "user"'),
    ({"AuthMethod": "br-v", "BindType": "service", "BindName": "Web App"},
     'Invalid Binding Rule: invalid BindName: invalid bind name: '
     '"Web App"'),
    ({"AuthMethod": "br-v", "BindType": "service",
      "BindName": "${serviceaccount.nope}"},
     "Invalid Binding Rule: invalid BindName: error interpreting template: "
     "1:3: unknown variable accessed: serviceaccount.nope"),
])
def test_binding_rule_validation_is_500_with_consul_texts(s, k8s, body,
                                                          text):
    k8s_method(s, k8s, name="br-v")
    r = put_rule(s, **body)
    if "Selector" in body:
        # go-bexpr's wording for an unknown selector field
        assert r.status_code == 500 and r.text.startswith(
            "invalid Binding Rule: Selector is invalid: "), r.text
        return
    assert (r.status_code, r.text) == (500, text)


def test_binding_rule_braces_form_from_the_docs_is_literal_as_consul_code(
        s, k8s):
    k8s_method(s, k8s, name="br-braces")
    r = put_rule(s, AuthMethod="br-braces", BindType="service",
                 BindName="{{ serviceaccount.name }}")
    assert r.status_code == 500 and "invalid bind name" in r.text


def test_binding_rule_update_errors(s, k8s):
    k8s_method(s, k8s, name="br-u1")
    k8s_method(s, k8s, name="br-u2")
    rid = ok(put_rule(s, AuthMethod="br-u1", BindType="service",
                      BindName="a"))["ID"]
    r = s.put("/v1/acl/binding-rule/" + rid, body={
        "AuthMethod": "br-u2", "BindType": "service", "BindName": "a"},
        headers=H)
    assert (r.status_code, r.text) == (
        500, "the AuthMethod field of an Binding Rule is immutable")
    r = s.put("/v1/acl/binding-rule/" + rid, body={"ID": "x"}, headers=H)
    assert (r.status_code, r.text) == (
        400, "BindingRule ID in URL and payload do not match")
    r = put_rule(s, ID=rid, AuthMethod="br-u1", BindType="service",
                 BindName="a")
    assert r.status_code == 400
    r = s.put("/v1/acl/binding-rule/not-a-uuid", body={}, headers=H)
    assert (r.status_code, r.text) == (500, "Binding Rule ID invalid UUID")
    gone = "11111111-2222-4333-8444-555555555555"
    r = s.put("/v1/acl/binding-rule/" + gone, body={}, headers=H)
    assert (r.status_code, r.text) == (500, "cannot find binding rule " +
                                       gone)
    r = s.get("/v1/acl/binding-rule/nope", headers=H)
    assert r.status_code == 500 and r.text.startswith(
        "failed acl binding rule lookup: index error: ")
    r = s.get("/v1/acl/binding-rule/", headers=H)
    assert (r.status_code, r.text) == (400, "Missing binding rule ID")


def test_binding_rule_templated_policy_is_refused(s, k8s):
    k8s_method(s, k8s, name="br-tp")
    r = put_rule(s, AuthMethod="br-tp", BindType="templated-policy",
                 BindName="builtin/service")
    assert (r.status_code, r.text) == (
        500, "Templated policies are not supported by this server")


def test_deleting_an_auth_method_deletes_its_rules_and_login_tokens(s, k8s):
    k8s_method(s, k8s, name="doomed")
    rid = ok(put_rule(s, AuthMethod="doomed", BindType="service",
                      BindName="${serviceaccount.name}"))["ID"]
    tok = ok(login(s, "doomed", k8s.info["tokens"]["valid"]))
    assert tok["AuthMethod"] == "doomed"
    plain = ok(s.put("/v1/acl/token", body={}, headers=H))
    assert ok(s.delete("/v1/acl/auth-method/doomed", headers=H)) is True
    assert s.get("/v1/acl/binding-rule/" + rid, headers=H).status_code == 404
    assert s.get("/v1/acl/token/" + tok["AccessorID"],
                 headers=H).status_code == 404
    r = s.get("/v1/acl/token/self",
              headers={"X-Consul-Token": tok["SecretID"]})
    assert r.status_code in (403, 404)
    assert s.get("/v1/acl/token/" + plain["AccessorID"],
                 headers=H).status_code == 200
    assert ok(s.get("/v1/acl/tokens?authmethod=doomed", headers=H)) == []
