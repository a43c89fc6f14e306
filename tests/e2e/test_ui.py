"""The web UI (/ui/, nginx/ui/) in a real browser: headless Debian
chromium through chromedriver (python3-selenium), against a real
instance with ACLs on.  Every page's screenshot is saved under
ui_helpers.SCREENSHOTS (printed at the start; tests/e2e/screenshots/ by
default, or $PORTCULLIS_SCREENSHOTS).  Skips only when chromium,
chromedriver or selenium is missing; contrib/setup.sh installs them."""
import time

import pytest
import requests

from conftest import Server, q, wait_for
from ui_helpers import SCREENSHOTS, browser_missing, make_driver, shot, until

MISSING = browser_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

if MISSING is None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

MGMT = "5b0f3a6e-2c1d-4e8f-9a7b-6c5d4e3f2a1b"
ON = ('acl {\n enabled = true\n default_policy = "deny"\n'
      ' tokens { initial_management = "%s" }\n}\n' % MGMT)
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
    css(ui, "#tok-form button[type=submit]").click()
    until(lambda: "Created token" in text(ui, "#tok-msg"), what="created")
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
    css(ui, "#pol-form button[type=submit]").click()
    until(lambda: "edited" in css(ui, '#pol-rows tr[data-name="ui-policy"]').text,
          what="the edit")
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
