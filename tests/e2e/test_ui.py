"""The web UI (/ui/, nginx/ui/) in a real browser: headless Debian
chromium through chromedriver (python3-selenium), against a real
instance with ACLs on.  Every page's screenshot is saved under
ui_helpers.SCREENSHOTS (printed at the start; tests/e2e/screenshots/ by
default, or $PORTCULLIS_SCREENSHOTS).  Skips only when chromium,
chromedriver or selenium is missing; contrib/setup.sh installs them."""
import time

import pytest
import requests

from conftest import Server, acl_on, q, wait_for
from ui_helpers import SCREENSHOTS, browser_missing, make_driver, shot, until

MISSING = browser_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

if MISSING is None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

MGMT = "5b0f3a6e-2c1d-4e8f-9a7b-6c5d4e3f2a1b"
ON = acl_on(MGMT)
H = {"X-Consul-Token": MGMT}


@pytest.fixture(scope="module")
def ui():
    s = Server(ON)
    print("\nUI screenshots in", SCREENSHOTS)
    d = make_driver()
    d.server = s
    yield d
    d.quit()
    s.stop()


def css(d, sel):
    return d.find_element(By.CSS_SELECTOR, sel)


def text(d, sel):
    return " ".join(e.text for e in d.find_elements(By.CSS_SELECTOR, sel))


def visit(d, page):
    """Opens #/page and waits for its heading (the router ran)."""
    d.get(d.server.url + "/ui/#/" + page)
    until(lambda: d.execute_script(
        "return location.hash") == "#/" + page and
        css(d, "main h1").text, what="page " + page)


def login(d, secret):
    d.get(d.server.url + "/ui/#/login")
    d.execute_script("sessionStorage.clear()")
    d.refresh()
    box = until(lambda: css(d, "#login-token"), what="login form")
    box.send_keys(secret, Keys.ENTER)
    until(lambda: d.execute_script("return location.hash") == "#/intentions",
          what="the intentions page after login")
    until(lambda: css(d, "#who").text.strip(), what="the header's token")


def fill(el, value):
    el.clear()
    el.send_keys(value)


def api_token(s, **body):
    r = s.put("/v1/acl/token", body=body, headers=H)
    assert r.status_code == 200, r.text
    return r.json()


def test_root_redirects_to_the_ui_whose_files_are_served_as_modules(ui):
    s = ui.server
    r = requests.get(s.url + "/", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/ui/")
    r = requests.get(s.url + "/ui/")
    assert r.status_code == 200 and "<title>Portcullis</title>" in r.text
    r = requests.get(s.url + "/ui/js/api.js")
    assert r.headers["Content-Type"] == "text/javascript"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert requests.get(s.url + "/ui/nope.js").status_code == 404


def test_a_token_logs_in_kept_in_session_storage_and_never_sent_in_a_url(ui):
    ui.get(ui.server.url + "/")
    until(lambda: css(ui, "#login-token"), what="the login page")
    assert ui.current_url.endswith("/ui/#/login") or "#/login" in \
        ui.execute_script("return location.hash")
    shot(ui, "login")
    # A wrong token is refused with the API's text, and not kept.
    css(ui, "#login-token").send_keys("00000000-1111-2222-3333-444444444444",
                                      Keys.ENTER)
    until(lambda: "ACL not found" in text(ui, "#login-msg") or
          "does not exist" in text(ui, "#login-msg"), what="the refusal")
    assert ui.execute_script(
        "return sessionStorage.getItem('portcullis.token')") is None
    login(ui, MGMT)
    assert ui.execute_script(
        "return sessionStorage.getItem('portcullis.token')") == MGMT
    assert "Initial Management Token" in css(ui, "#who").text
    urls = ui.execute_script("return performance.getEntriesByType("
                             "'resource').map(e => e.name)")
    assert any("/v1/" in u for u in urls)
    assert not [u for u in urls if MGMT in u or "token=" in u]


def test_an_intention_is_created_listed_checked_and_deleted(ui):
    login(ui, MGMT)
    css(ui, "#ixn-new").click()
    assert not css(ui, "#ixn-permissions").is_displayed()  # L4 first
    fill(css(ui, "#ixn-source"), "web")
    fill(css(ui, "#ixn-destination"), "db")
    css(ui, "#ixn-description").send_keys("web may query db")
    css(ui, "#ixn-form button[type=submit]").click()
    row = '#ixn-rows tr[data-source="web"][data-destination="db"]'
    until(lambda: css(ui, row).text, what="the new row")
    assert "allow" in css(ui, row).text and "web may query db" in \
        css(ui, row).text
    r = ui.server.get("/v1/connect/intentions/exact" +
                      q(source="web", destination="db"), headers=H)
    assert r.status_code == 200 and r.json()["Action"] == "allow"

    # A broader deny ranks below it; the check names the deciding rule.
    assert ui.server.put("/v1/connect/intentions/exact" +
                         q(source="*", destination="db"),
                         body={"Action": "deny"}, headers=H).json() is True
    until(lambda: len(ui.find_elements(By.CSS_SELECTOR, "#ixn-rows tr")) == 2,
          what="both rows")
    order = [(tr.get_attribute("data-source"))
             for tr in ui.find_elements(By.CSS_SELECTOR, "#ixn-rows tr")]
    assert order == ["web", "*"]  # precedence 9 before 8
    fill(css(ui, "#check-source"), "web")
    fill(css(ui, "#check-destination"), "db")
    css(ui, "#check-destination").send_keys(Keys.ENTER)
    until(lambda: "allowed" in text(ui, "#check-result .verdict"),
          what="the verdict")
    decided = css(ui, "#check-decided").text
    assert "web → db" in decided and "precedence 9" in decided
    assert "web may query db" in decided
    shot(ui, "intentions")
    fill(css(ui, "#check-source"), "api")
    css(ui, "#check-form button[type=submit]").click()
    until(lambda: "api → db: denied" in text(ui, "#check-result .verdict"),
          what="the deny verdict")
    assert "* → db" in css(ui, "#check-decided").text
    fill(css(ui, "#check-destination"), "cache")
    css(ui, "#check-form button[type=submit]").click()
    until(lambda: "default policy" in text(ui, "#check-result"),
          what="the default-policy answer")
    assert "api → cache: denied" in text(ui, "#check-result .verdict")

    # Edit to L7, then delete through the confirmation.
    css(ui, row + ' button[aria-label="Edit web → db"]').click()
    kind = css(ui, "#ixn-kind")
    kind.send_keys("L7")
    assert css(ui, "#ixn-permissions").is_displayed()
    assert not css(ui, "#ixn-action").is_displayed()
    fill(css(ui, "#ixn-permissions"), '[{"Action": "allow", "HTTP": '
         '{"PathPrefix": "/api"}}]')
    css(ui, "#ixn-form button[type=submit]").click()
    until(lambda: "L7: 1 permission" in css(ui, row).text, what="L7 row")
    css(ui, row + ' button[aria-label="Delete web → db"]').click()
    until(lambda: "Delete web → db?" in css(ui, row).text, what="confirm")
    css(ui, row + " button.danger").click()
    until(lambda: not ui.find_elements(By.CSS_SELECTOR, row),
          what="the row to go")
    assert ui.server.get("/v1/connect/intentions/exact" +
                         q(source="web", destination="db"),
                         headers=H).status_code == 404
    ui.server.delete("/v1/connect/intentions/exact" +
                     q(source="*", destination="db"), headers=H)


def test_a_bad_filter_shows_the_apis_error_and_a_good_one_filters(ui):
    login(ui, MGMT)
    for src in ("a", "b"):
        ui.server.put("/v1/connect/intentions/exact" +
                      q(source=src, destination="f"),
                      body={"Action": "deny" if src == "a" else "allow"},
                      headers=H)
    until(lambda: len(ui.find_elements(
        By.CSS_SELECTOR, '#ixn-rows tr[data-destination="f"]')) == 2,
        what="two rows")
    css(ui, "#ixn-filter").send_keys("Action ==", Keys.ENTER)
    until(lambda: "Failed to create boolean expression evaluator" in
          text(ui, "#ixn-list-msg"), what="the filter error")
    fill(css(ui, "#ixn-filter"), 'Action == "deny"')
    css(ui, "#ixn-filter").send_keys(Keys.ENTER)
    until(lambda: [tr.get_attribute("data-source") for tr in
                   ui.find_elements(By.CSS_SELECTOR, "#ixn-rows tr")] == ["a"],
          what="only the deny")
    assert text(ui, "#ixn-list-msg") == ""
    for src in ("a", "b"):
        ui.server.delete("/v1/connect/intentions/exact" +
                         q(source=src, destination="f"), headers=H)


def test_changes_made_through_the_api_appear_in_open_lists_within_a_second(ui):
    login(ui, MGMT)
    row = '#ixn-rows tr[data-source="live"]'
    until(lambda: css(ui, "#ixn-live").text, what="the list to load")
    t0 = time.time()
    r = requests.put(ui.server.url + "/v1/connect/intentions/exact" +
                     q(source="live", destination="db"),
                     json={"Action": "allow"}, headers=H)
    assert r.status_code == 200
    until(lambda: ui.find_elements(By.CSS_SELECTOR, row), timeout=1.0,
          what="the intention in the open list")
    print("intention appeared after %.0f ms" % ((time.time() - t0) * 1000))
    requests.delete(ui.server.url + "/v1/connect/intentions/exact" +
                    q(source="live", destination="db"), headers=H)
    until(lambda: not ui.find_elements(By.CSS_SELECTOR, row), timeout=1.0,
          what="the deletion in the open list")

    visit(ui, "tokens")
    until(lambda: len(ui.find_elements(By.CSS_SELECTOR, "#tok-rows tr")) >= 2,
          what="the token list")
    t0 = time.time()
    tok = api_token(ui.server, Description="made with curl")
    until(lambda: ui.find_elements(
        By.CSS_SELECTOR, '#tok-rows tr[data-accessor="%s"]' % tok["AccessorID"]),
        timeout=1.0, what="the token in the open list")
    print("token appeared after %.0f ms" % ((time.time() - t0) * 1000))
    ui.server.delete("/v1/acl/token/" + tok["AccessorID"], headers=H)


def test_tokens_mark_expiry_hide_secrets_until_shown_and_clone(ui):
    login(ui, MGMT)
    soon = api_token(ui.server, Description="short lived", ExpirationTTL="8h")
    visit(ui, "tokens")
    row = '#tok-rows tr[data-accessor="%s"]' % soon["AccessorID"]
    until(lambda: css(ui, row).text, what="the token row")
    assert "expires within 7 days" in css(ui, row).text
    assert soon["SecretID"] not in ui.page_source
    css(ui, "#tok-search").send_keys("short lived")
    until(lambda: len(ui.find_elements(By.CSS_SELECTOR, "#tok-rows tr")) == 1,
          what="the search")
    shot(ui, "tokens")
    css(ui, row + " td.secret button").click()
    until(lambda: soon["SecretID"] in css(ui, row + " .revealed").text,
          what="the secret")
    # Clone it through the form: a new token, same grants.
    css(ui, row + ' button[aria-label^="Clone"]').click()
    assert "Clone of short lived" in css(ui, "#tok-description").get_attribute("value")
    css(ui, "#tok-description").send_keys(Keys.ENTER)
    until(lambda: "Created token" in text(ui, "#tok-msg"), what="the clone")
    fill(css(ui, "#tok-search"), "Clone of")
    until(lambda: len(ui.find_elements(By.CSS_SELECTOR, "#tok-rows tr")) == 1,
          what="the clone row")
    clone_id = css(ui, "#tok-rows tr").get_attribute("data-accessor")
    assert clone_id != soon["AccessorID"]
    # Create one with a policy from the form; delete it.
    ui.server.put("/v1/acl/policy", body={"Name": "p-ui", "Rules":
                  'service "db" { policy = "read" }'}, headers=H)
    fill(css(ui, "#tok-search"), "")
    css(ui, "#tok-new").click()
    css(ui, "#tok-description").send_keys("ui made")
    css(ui, "#tok-policies").send_keys("p-ui")
    assert "Created token" not in text(ui, "#tok-msg")  # the clone's is gone
    css(ui, "#tok-form button[type=submit]").click()
    until(lambda: "Created token" in text(ui, "#tok-msg") and
          clone_id not in text(ui, "#tok-msg"), what="created")
    mine = [t for t in ui.server.get("/v1/acl/tokens", headers=H).json()
            if t.get("Description") == "ui made"]
    assert len(mine) == 1 and mine[0]["Policies"][0]["Name"] == "p-ui"
    row = '#tok-rows tr[data-accessor="%s"]' % mine[0]["AccessorID"]
    until(lambda: css(ui, row), what="the created row")
    css(ui, row + ' button[aria-label^="Delete"]').click()
    css(ui, row + " button.danger").click()
    until(lambda: not ui.find_elements(By.CSS_SELECTOR, row), what="deleted")
    for a in (soon["AccessorID"], clone_id):
        ui.server.delete("/v1/acl/token/" + a, headers=H)


def test_policy_rule_errors_are_shown_beside_the_editor(ui):
    login(ui, MGMT)
    visit(ui, "policies")
    until(lambda: css(ui, '#pol-rows tr[data-name="global-management"]'),
          what="the policy list")
    css(ui, "#pol-new").click()
    css(ui, "#pol-name").send_keys("ui-policy")
    css(ui, "#pol-rules").send_keys('service "a" { policy = "bad" }')
    css(ui, "#pol-form button[type=submit]").click()
    until(lambda: "Invalid service policy" in text(ui, "#pol-rules-error"),
          what="the rules error beside the editor")
    assert css(ui, "#pol-rules").get_attribute("aria-invalid") == "true"
    shot(ui, "policies")
    fill(css(ui, "#pol-rules"), 'service "a" { policy = "read" }')
    css(ui, "#pol-form button[type=submit]").click()
    until(lambda: css(ui, '#pol-rows tr[data-name="ui-policy"]'),
          what="the new policy")
    css(ui, '#pol-search').send_keys("ui-pol")
    until(lambda: len(ui.find_elements(By.CSS_SELECTOR, "#pol-rows tr")) == 1,
          what="the search")
    css(ui, 'button[aria-label="Edit policy ui-policy"]').click()
    until(lambda: 'policy = "read"' in css(ui, "#pol-rules").get_attribute("value"),
          what="the rules loaded")
    fill(css(ui, "#pol-description"), "edited")
    fill(css(ui, "#pol-datacenters"), "dc1, dc2")
    css(ui, "#pol-form button[type=submit]").click()
    until(lambda: "edited" in css(ui, '#pol-rows tr[data-name="ui-policy"]').text,
          what="the edit")
    assert "dc1, dc2" in css(ui, '#pol-rows tr[data-name="ui-policy"]').text
    pol = [p for p in requests.get(ui.server.url + "/v1/acl/policies",
                                   headers={"X-Consul-Token": MGMT}).json()
           if p["Name"] == "ui-policy"][0]
    assert pol["Datacenters"] == ["dc1", "dc2"]
    # Roles reference it.
    visit(ui, "roles")
    css(ui, "#role-new").click()
    css(ui, "#role-name").send_keys("ui-role")
    css(ui, "#role-policies").send_keys("ui-policy")
    css(ui, "#role-services").send_keys("web", Keys.ENTER)
    until(lambda: css(ui, '#role-rows tr[data-name="ui-role"]'), what="role")
    assert "ui-policy" in css(ui, '#role-rows tr[data-name="ui-role"]').text
    shot(ui, "roles")
    css(ui, 'button[aria-label="Delete role ui-role"]').click()
    css(ui, '#role-rows tr[data-name="ui-role"] button.danger').click()
    until(lambda: not ui.find_elements(By.CSS_SELECTOR, '#role-rows tr[data-name="ui-role"]'),
          what="role deleted")
    visit(ui, "policies")
    until(lambda: css(ui, '#pol-rows tr[data-name="ui-policy"]'), what="list")
    css(ui, 'button[aria-label="Delete policy ui-policy"]').click()
    css(ui, '#pol-rows tr[data-name="ui-policy"] button.danger').click()
    until(lambda: not ui.find_elements(By.CSS_SELECTOR, '#pol-rows tr[data-name="ui-policy"]'),
          what="policy deleted")


def test_the_ca_page_marks_the_active_root_with_its_expiry(ui):
    login(ui, MGMT)
    visit(ui, "ca")
    roots = ui.server.get("/v1/connect/ca/roots").json()
    row = '#ca-roots-table tr[data-id="%s"]' % roots["ActiveRootID"]
    until(lambda: css(ui, row).text, what="the roots")
    assert "active" in css(ui, row).text
    assert roots["Roots"][0]["NotAfter"][:10] in css(ui, row).text
    until(lambda: "LeafCertTTL" in text(ui, "#ca-config"), what="the config")
    assert roots["TrustDomain"] in css(ui, "#ca-trust-domain").text
    shot(ui, "ca")


def test_a_read_only_token_sees_403_texts_and_no_broken_page(ui):
    s = ui.server
    s.put("/v1/acl/policy", body={"Name": "ro", "Rules":
          'service_prefix "" { policy = "read" }\nacl = "read"'}, headers=H)
    ro = api_token(s, Description="read only", Policies=[{"Name": "ro"}])
    s.put("/v1/connect/intentions/exact" + q(source="web", destination="ro"),
          body={"Action": "allow"}, headers=H)
    login(ui, ro["SecretID"])
    until(lambda: css(ui, '#ixn-rows tr[data-destination="ro"]'),
          what="the intentions it may read")
    css(ui, "#ixn-new").click()
    fill(css(ui, "#ixn-source"), "web")
    fill(css(ui, "#ixn-destination"), "db")
    css(ui, "#ixn-form button[type=submit]").click()
    until(lambda: "Permission denied" in text(ui, "#ixn-form-msg"),
          what="the 403 text")
    # The API answers Consul's bare text; the UI names what was needed.
    assert text(ui, "#ixn-form-msg") == ("Not allowed with this token: "
        'Permission denied (this needs intentions:write on "db")')
    shot(ui, "read-only-intentions")
    visit(ui, "tokens")
    until(lambda: css(ui, '#tok-rows tr[data-accessor="%s"]' % ro["AccessorID"]),
          what="the token list (acl = read)")
    css(ui, '#tok-rows tr[data-accessor="%s"] button[aria-label^="Delete"]'
        % ro["AccessorID"]).click()
    css(ui, "#tok-rows button.danger").click()
    until(lambda: "acl:write" in text(ui, "#tok-msg"), what="403 on delete")
    visit(ui, "ca")
    until(lambda: "operator:write" in text(ui, "#ca-config-msg"),
          what="the CA config 403")
    assert css(ui, "#ca-roots-table").text  # roots need no ACL

    # Without acl:read: the ACL pages say so, the others still work.
    s.put("/v1/acl/policy/" + s.get("/v1/acl/policy/name/ro", headers=H)
          .json()["ID"], body={"Name": "ro", "Rules":
          'service_prefix "" { policy = "read" }'}, headers=H)
    for page, msg in (("tokens", "#tok-msg"), ("policies", "#pol-msg"),
                      ("roles", "#role-msg")):
        visit(ui, page)
        until(lambda: "acl:read" in text(ui, msg), what=page + " 403")
        assert text(ui, msg).startswith("Not allowed with this token")
    shot(ui, "read-only-acl-page")
    visit(ui, "intentions")
    until(lambda: css(ui, '#ixn-rows tr[data-destination="ro"]'),
          what="intentions still")
    errs = [l for l in ui.get_log("browser") if l["level"] == "SEVERE" and
            "Failed to load resource" not in l["message"]]
    assert errs == []  # 403s are shown, never thrown
    s.delete("/v1/connect/intentions/exact" + q(source="web", destination="ro"),
             headers=H)


def test_every_control_is_labelled_and_the_keyboard_works(ui):
    login(ui, MGMT)
    unlabelled = """return [...document.querySelectorAll('input, select, textarea')]
        .filter(e => !e.labels.length && !e.getAttribute('aria-label'))
        .map(e => e.id || e.outerHTML)"""
    for page, opener in (("intentions", "#ixn-new"), ("tokens", "#tok-new"),
                         ("policies", "#pol-new"), ("roles", "#role-new"),
                         ("auth-methods", "#am-new"),
                         ("ca", None)):
        visit(ui, page)
        if opener:
            css(ui, opener).click()
        assert ui.execute_script(unlabelled) == [], page
    # Tab from the heading reaches the check form; Enter submits it.
    visit(ui, "intentions")
    active = lambda: ui.switch_to.active_element.get_attribute("id")
    until(lambda: ui.switch_to.active_element.tag_name == "h1", what="focus")
    ui.switch_to.active_element.send_keys(Keys.TAB)
    assert active() == "check-source"
    ui.switch_to.active_element.send_keys(Keys.TAB)
    assert active() == "check-destination"
    ui.switch_to.active_element.send_keys(Keys.ENTER)
    until(lambda: "web → db" in text(ui, "#check-result .verdict"),
          what="Enter to submit")
    # Log out clears the token and returns to the login page.
    css(ui, "#logout").click()
    until(lambda: css(ui, "#login-token"), what="login page")
    assert ui.execute_script(
        "return sessionStorage.getItem('portcullis.token')") is None
    visit_url = ui.server.url + "/ui/#/tokens"
    ui.get(visit_url)
    until(lambda: css(ui, "#login-token"), what="login required")


def test_an_oidc_login_through_the_fake_provider_gives_a_token(ui, make_server):
    from authfakes import H as AH, Fake, acl_hcl, ok, put_method, put_rule
    idp = Fake("fake_oidc.py")
    try:
        s = make_server(acl_hcl())
        redirect = s.url + "/ui/"
        ok(put_method(s, {"Name": "sso", "Type": "oidc", "MaxTokenTTL": "5m",
                          "Config": {
                              "OIDCDiscoveryURL": idp.url,
                              "OIDCDiscoveryCACert": idp.ca,
                              "OIDCClientID": idp.info["client_id"],
                              "OIDCClientSecret": idp.info["client_secret"],
                              "AllowedRedirectURIs": [redirect],
                              "ClaimMappings": {"team": "team"}}}))
        ok(put_rule(s, AuthMethod="sso", BindType="service",
                    BindName="${value.team}"))
        ui.get(s.url + "/ui/#/login")
        ui.execute_script("sessionStorage.clear()")
        ui.refresh()
        box = until(lambda: css(ui, "#login-method"), what="the OIDC form")
        assert redirect in css(ui, "#oidc-form").text
        # A method that does not exist: the API's text, no navigation.
        box.send_keys("nope", Keys.ENTER)
        until(lambda: text(ui, "#oidc-msg"), what="the error")
        assert "nope" in text(ui, "#oidc-msg")
        fill(css(ui, "#login-method"), "sso")
        css(ui, "#login-method").send_keys(Keys.ENTER)
        # provider -> /ui/?code=&state= -> callback -> the intentions page
        until(lambda: ui.current_url.startswith(s.url) and
              ui.execute_script("return location.hash") == "#/intentions",
              timeout=10, what="the return from the provider")
        secret = ui.execute_script(
            "return sessionStorage.getItem('portcullis.token')")
        assert "code=" not in ui.current_url and "state=" not in ui.current_url
        t = s.get("/v1/acl/token/self", headers={"X-Consul-Token": secret})
        assert t.status_code == 200, t.text
        assert t.json()["AuthMethod"] == "sso"
        assert t.json()["ServiceIdentities"] == [{"ServiceName": "payments"}]
        until(lambda: "token created via OIDC login" in css(ui, "#who").text,
              what="the header")
        # Replaying the provider's answer is refused and says so.
        shot(ui, "oidc-logged-in")
        ui.get(s.url + "/ui/?code=x&state=y")
        until(lambda: "No login through an auth method" in
              text(ui, "#oidc-msg"), what="the stale callback message")
        assert ui.execute_script("return location.search") == ""
    finally:
        idp.stop()


def test_a_jwt_auth_method_and_a_binding_rule_are_made_through_the_ui(ui):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    login(ui, MGMT)
    visit(ui, "auth-methods")
    until(lambda: "No auth methods" in text(ui, "#am-rows"), what="the list")
    css(ui, "#am-new").click()
    css(ui, "#am-name").send_keys("ui-jwt")
    css(ui, "#am-type").send_keys("jwt")
    assert css(ui, "#am-jwt-JWTValidationPubKeys").is_displayed()
    assert not css(ui, "#am-oidc-OIDCClientSecret").is_displayed()
    css(ui, "#am-display").send_keys("UI JWT")
    css(ui, "#am-ttl").send_keys("10m")
    css(ui, "#am-jwt-BoundIssuer").send_keys("https://issuer.test")
    css(ui, "#am-jwt-BoundAudiences").send_keys("a1, a2")
    css(ui, "#am-jwt-ClaimMappings").send_keys("team=team")
    # A malformed key is the API's error beside the form.
    css(ui, "#am-jwt-JWTValidationPubKeys").send_keys(
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
    css(ui, "#am-form button[type=submit]").click()
    until(lambda: text(ui, "#am-form-msg"), what="the API's refusal")
    refusal = text(ui, "#am-form-msg")
    assert ui.server.get("/v1/acl/auth-method/ui-jwt",
                         headers=H).status_code == 404, refusal
    ui.execute_script("arguments[0].value = arguments[1]",
                      css(ui, "#am-jwt-JWTValidationPubKeys"), pem)
    css(ui, "#am-form button[type=submit]").click()
    row = '#am-rows tr[data-name="ui-jwt"]'
    until(lambda: css(ui, row).text, what="the new method's row")
    assert "jwt" in css(ui, row).text and "UI JWT" in css(ui, row).text
    m = ui.server.get("/v1/acl/auth-method/ui-jwt", headers=H).json()
    assert m["Type"] == "jwt" and m["DisplayName"] == "UI JWT"
    assert m["MaxTokenTTL"] == "10m0s"
    c = m["Config"]
    assert c["JWTValidationPubKeys"] == [pem]
    assert c["BoundIssuer"] == "https://issuer.test"
    assert c["BoundAudiences"] == ["a1", "a2"]
    assert c["ClaimMappings"] == {"team": "team"}

    # Edit keeps the Config (read back into the fields).
    css(ui, 'button[aria-label="Edit auth method ui-jwt"]').click()
    until(lambda: "BEGIN PUBLIC KEY" in css(
        ui, "#am-jwt-JWTValidationPubKeys").get_attribute("value"),
        what="the key loaded")
    fill(css(ui, "#am-description"), "edited in the UI")
    css(ui, "#am-form button[type=submit]").click()
    until(lambda: "edited in the UI" in css(ui, row).text, what="the edit")
    m = ui.server.get("/v1/acl/auth-method/ui-jwt", headers=H).json()
    assert m["Config"]["JWTValidationPubKeys"] == [pem]

    # A binding rule for it.
    css(ui, 'button[aria-label="Binding rules of ui-jwt"]').click()
    until(lambda: "No binding rules" in text(ui, "#br-rows"), what="rules")
    css(ui, "#br-new").click()
    css(ui, "#br-selector").send_keys('value.team == "pay"')
    css(ui, "#br-bindtype").send_keys("role")
    css(ui, "#br-bindname").send_keys("${value.team}-role")
    css(ui, "#br-form button[type=submit]").click()
    until(lambda: "pay" in text(ui, "#br-rows") and
          "role" in text(ui, "#br-rows"), what="the rule's row")
    rules = ui.server.get("/v1/acl/binding-rules" + q(authmethod="ui-jwt"),
                          headers=H).json()
    assert [(r["Selector"], r["BindType"], r["BindName"]) for r in rules] == \
        [('value.team == "pay"', "role", "${value.team}-role")]
    # A bad bind type name is the API's error beside the rule form.
    css(ui, "#br-new").click()
    css(ui, "#br-bindname").send_keys("${nope")
    css(ui, "#br-form button[type=submit]").click()
    until(lambda: text(ui, "#br-form-msg"), what="the rule refusal")
    shot(ui, "auth-methods")
    css(ui, "#br-cancel").click()

    # Secrets stay hidden until asked: an oidc method's client secret.
    from authfakes import Fake
    idp = Fake("fake_oidc.py")  # the discovery document is read at write
    try:
        r = ui.server.put("/v1/acl/auth-method", body={
            "Name": "ui-oidc", "Type": "oidc", "Config": {
                "OIDCDiscoveryURL": idp.url, "OIDCDiscoveryCACert": idp.ca,
                "OIDCClientID": idp.info["client_id"],
                "OIDCClientSecret": "s3cret-value",
                "AllowedRedirectURIs": [ui.server.url + "/ui/"]}}, headers=H)
    finally:
        idp.stop()
    assert r.status_code == 200, r.text
    until(lambda: css(ui, '#am-rows tr[data-name="ui-oidc"]'), what="oidc row")
    css(ui, 'button[aria-label="Edit auth method ui-oidc"]').click()
    sec = until(lambda: css(ui, "#am-oidc-OIDCClientSecret"), what="form")
    assert sec.get_attribute("type") == "password"
    assert sec.get_attribute("value") == "s3cret-value"
    css(ui, 'button[aria-label="Show OIDCClientSecret"]').click()
    assert sec.get_attribute("type") == "text"
    css(ui, "#am-cancel").click()

    # Delete both through the confirmation.
    for name in ("ui-oidc", "ui-jwt"):
        r = '#am-rows tr[data-name="%s"]' % name
        css(ui, 'button[aria-label="Delete auth method %s"]' % name).click()
        css(ui, r + " button.danger").click()
        until(lambda: not ui.find_elements(By.CSS_SELECTOR, r),
              what=name + " deleted")
    assert ui.server.get("/v1/acl/auth-method/ui-jwt",
                         headers=H).status_code == 404


def test_the_ca_rotates_and_revokes_through_the_ui(ui):
    login(ui, MGMT)
    visit(ui, "ca")
    old = ui.server.get("/v1/connect/ca/roots").json()["ActiveRootID"]
    until(lambda: css(ui, '#ca-roots-table tr.active[data-id="%s"]' % old),
          what="the roots")
    until(lambda: "LeafCertTTL" in text(ui, "#ca-config"), what="the config")
    cfg = ui.server.get("/v1/connect/ca/configuration", headers=H).json()
    css(ui, "#ca-rotate").click()
    css(ui, "#ca-key-type").send_keys("ec")
    css(ui, "#ca-key-bits").send_keys("384")
    css(ui, "#ca-rotate-form button[type=submit]").click()
    until(lambda: "Rotate the CA root to a new ec 384 key?" in
          text(ui, "#ca-rotate-form"), what="the confirmation")
    # Nothing changes before the confirmation.
    assert ui.server.get("/v1/connect/ca/roots").json()["ActiveRootID"] == old
    css(ui, "#ca-rotate-form button.danger").click()
    until(lambda: "Rotated: the new active root is" in text(ui, "#ca-rotate-msg"),
          timeout=15, what="the rotation")
    rs = ui.server.get("/v1/connect/ca/roots").json()
    new = rs["ActiveRootID"]
    assert new != old and new in text(ui, "#ca-rotate-msg")
    until(lambda: css(ui, '#ca-roots-table tr.active[data-id="%s"]' % new),
          what="the new active root on the page")
    assert "rotated out" in css(ui, '#ca-roots-table tr[data-id="%s"]' % old).text
    act = next(r for r in rs["Roots"] if r["ID"] == new)
    assert (act["PrivateKeyType"], act["PrivateKeyBits"]) == ("ec", 384)
    c2 = ui.server.get("/v1/connect/ca/configuration", headers=H).json()
    for k, v in cfg["Config"].items():  # the rest of the Config is kept
        if k not in ("PrivateKeyType", "PrivateKeyBits"):
            assert c2["Config"][k] == v, k
    until(lambda: "384" in text(ui, "#ca-config"), what="config reloaded")

    # Revoke web's leaves; the serial shows in the CRL section.
    leaf = ui.server.get("/v1/agent/connect/ca/leaf/web", headers=H).json()
    until(lambda: "No certificate is revoked" in text(ui, "#ca-crl"),
          what="the empty CRL")
    css(ui, "#ca-revoke-service").send_keys("web")
    css(ui, "#ca-revoke-form button[type=submit]").click()
    until(lambda: "Revoke every unexpired leaf certificate of web?" in
          text(ui, "#ca-revoke-form"), what="the revoke confirmation")
    css(ui, "#ca-revoke-form button.danger").click()
    until(lambda: leaf["SerialNumber"] in text(ui, "#ca-revoke-msg"),
          what="the revoke answer")
    until(lambda: css(ui, '#ca-crl-serials tr[data-serial="%s"]'
                      % leaf["SerialNumber"]), what="the serial in the CRL")
    # The page's PEM text is the CRL, signed by the new root (ECDSA: a
    # new signature on each read, so compared decoded).
    from cryptography import x509
    page = x509.load_pem_x509_crl(
        css(ui, "#ca-crl-text").get_attribute("value").encode())
    assert [x.serial_number for x in page] == \
        [int(leaf["SerialNumber"].replace(":", ""), 16)]
    assert page.is_signature_valid(x509.load_pem_x509_certificate(
        act["RootCert"].encode()).public_key())
    assert css(ui, "#ca-crl-download").get_attribute("href").startswith("blob:")
    shot(ui, "ca-rotated-revoked")
    # A serial that was never issued: the API's 404 text beside the form.
    css(ui, "#ca-revoke-by").send_keys("serial")
    css(ui, "#ca-revoke-serials").send_keys("ff:ff:ff")
    css(ui, "#ca-revoke-form button[type=submit]").click()
    css(ui, "#ca-revoke-form button.danger").click()
    until(lambda: "Certificate not found: ff:ff:ff" in
          text(ui, "#ca-revoke-msg"), what="the 404 text")


def test_the_activity_page_shows_the_audit_log_live_and_this_nodes_figures(ui):
    s = ui.server
    login(ui, MGMT)
    visit(ui, "activity")
    until(lambda: css(ui, "#act-rows tr[data-seq]"), what="the audit records")
    until(lambda: css(ui, '#act-metrics dd[data-metric="Requests answered"]'),
          what="the node's figures")
    assert int(css(ui, '#act-metrics dd[data-metric="Requests answered"]').text) > 0
    assert "days" in css(ui, '#act-metrics dd[data-metric="Active root expires in"]').text
    # A change made elsewhere appears at the top, without a reload.
    r = s.put("/v1/acl/policy", body={"Name": "act-pol", "Rules": 'node "x" { policy = "read" }'},
              headers=H)
    assert r.status_code == 200, r.text
    pid = r.json()["ID"]
    until(lambda: pid in css(ui, "#act-rows tr").text, what="the new record on top")
    top = css(ui, "#act-rows tr").text
    assert "acl-policies" in top and "PUT /v1/acl/policy" in top
    mgmt_accessor = s.get("/v1/acl/token/self", headers=H).json()["AccessorID"]
    assert css(ui, "#act-rows tr td code").get_attribute("title") == mgmt_accessor
    assert MGMT not in ui.page_source
    fill(css(ui, "#act-search"), "act-pol-nothing-matches")
    until(lambda: "No record matches" in text(ui, "#act-rows"), what="the search")
    fill(css(ui, "#act-search"), pid[:8])
    until(lambda: len(ui.find_elements(By.CSS_SELECTOR, "#act-rows tr[data-seq]")) == 1,
          what="the search narrowing to the policy")
    shot(ui, "activity")
    s.delete("/v1/acl/policy/" + pid, headers=H)

    # Without operator:read and agent:read: both parts say what is needed.
    s.put("/v1/acl/policy", body={"Name": "act-ro", "Rules": 'acl = "read"'}, headers=H)
    ro = api_token(s, Description="no operator", Policies=[{"Name": "act-ro"}])
    login(ui, ro["SecretID"])
    visit(ui, "activity")
    until(lambda: "operator:read" in text(ui, "#act-msg"), what="the audit 403")
    until(lambda: "agent:read" in text(ui, "#act-metrics-msg"), what="the metrics 403")
    assert text(ui, "#act-msg").startswith("Not allowed with this token")
