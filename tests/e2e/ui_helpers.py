"""Helpers for the browser tests of the web UI (test_ui.py): a headless
Debian chromium driven by chromedriver through python3-selenium, and
small waits that read the page the way a person would."""
import os
import shutil
import time

SCREENSHOTS = os.environ.get("PORTCULLIS_SCREENSHOTS") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "screenshots")


def browser_missing():
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "python3-selenium is not installed (contrib/setup.sh installs it)"
    for b in ("chromium", "chromedriver"):
        if not shutil.which(b):
            return b + " is not installed (contrib/setup.sh installs it)"
    return None


def make_driver():
    """A headless chromium: new profile, loopback only, 1280x900."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1280,900",
              "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--disable-extensions", "--disable-default-apps",
              "--disable-features=Translate,MediaRouter,OptimizationHints",
              "--metrics-recording-only", "--no-default-browser-check",
              "--proxy-server=direct://", "--proxy-bypass-list=*",
              # the fake OIDC provider (tests/e2e/fakes, loopback only)
              # serves HTTPS with a CA made at test time
              "--ignore-certificate-errors"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver")),
                         options=opts)
    d.set_page_load_timeout(20)
    return d


def until(pred, timeout=5.0, what="condition"):
    """Polls pred() until it returns something true; returns that."""
    from selenium.common.exceptions import WebDriverException
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            v = pred()
            if v:
                return v
        except WebDriverException as e:  # element replaced mid-read
            last = e
        time.sleep(0.03)
    raise AssertionError("timed out waiting for %s (%s)" % (what, last))


def shot(driver, name):
    """Saves a screenshot of the whole page as SCREENSHOTS/name.png."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    path = os.path.join(SCREENSHOTS, name + ".png")
    h = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(900, min(int(h) + 40, 3000)))
    driver.save_screenshot(path)
    driver.set_window_size(1280, 900)
    return path
