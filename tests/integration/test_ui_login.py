"""The UI with auth on, through Envoy: the login page takes a key into an encrypted
HttpOnly cookie; without a session (none, forged, tampered) pages redirect to /login and
partials get 401 + HX-Redirect; a bad key shows its reason with 401; each signed-in user
sees only what their profiles hold; sign-out ends the session. One headless-Chromium run
signs in through the form, uses the SQL tab (HTMX partials carry the cookie), and signs out."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from lakehouse.api.auth import Profile
from lakehouse.servers.ui.login import SessionCookie, cookie_secret
from tests.support.browser import WAIT_S, chromium, run_sql, wait
from tests.support.system import System

COOKIE = "lakehouse_session"
MAX_FAILURES = 6  # more than the other tests' failed sign-ins from this host


@pytest.fixture(scope="module")
def lsystem(tmp_path_factory):
    env = {"LAKEHOUSE_AUTH__ENABLED": "true", "LAKEHOUSE_AUTH__MAX_FAILURES": str(MAX_FAILURES)}
    system = System.start(tmp_path_factory.mktemp("ui-login-home"), env)
    admin_key = system.settings.auth_bootstrap_key_file.read_text().strip()
    with system.client(api_key=admin_key) as admin:
        admin.ingest("sales", b"id,amount\n1,10\n2,20\n", format="csv")
        admin.ingest("payroll", b"id,salary\n1,1000\n", format="csv")
        admin.auth.create_principal("rita")
        admin.auth.create_profile(Profile("rita-sales", "rita", "reader", datasets=("sales",)))
        system.rita_key = admin.auth.create_key("rita").secret
        revoked = admin.auth.create_key("rita")
        admin.auth.revoke_key(revoked.key.key_id)
        system.revoked_key = revoked.secret
    yield system
    system.stop()


def _web(system: System) -> httpx.Client:
    return httpx.Client(base_url=system.rest, timeout=60, follow_redirects=False)


def _login(web: httpx.Client, key: str, target: str = "/") -> httpx.Response:
    return web.post("/login", data={"key": key, "next": target})


def test_pages_need_a_session(lsystem):
    with _web(lsystem) as web:
        page = web.get("/sql")
        assert (page.status_code, page.headers["location"]) == (303, "/login?next=%2Fsql")
        partial = web.post("/sql/run", data={"q": "SELECT 1"}, headers={"HX-Request": "true"})
        assert (partial.status_code, partial.headers["hx-redirect"]) == (401, "/login")
        login = web.get("/login")
        assert login.status_code == 200 and 'name="key"' in login.text and 'for="login-key"' in login.text
        assert web.get("/static/app.css").status_code == 200


def test_signing_in_sets_an_encrypted_httponly_cookie_and_scopes_the_pages(lsystem):
    with _web(lsystem) as web:
        signed = _login(web, lsystem.rita_key, "/explore")
        assert (signed.status_code, signed.headers["location"]) == (303, "/explore")
        flags = signed.headers["set-cookie"].lower()
        assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
        assert lsystem.rita_key not in signed.headers["set-cookie"]  # sealed, not in the clear
        explore = web.get("/explore")
        assert explore.status_code == 200 and "sales" in explore.text and "payroll" not in explore.text
        mine = web.post("/sql/run", data={"q": "SELECT sum(amount) AS s FROM sales"})
        assert mine.status_code == 200 and "30" in mine.text
        theirs = web.post("/sql/run", data={"q": "SELECT * FROM payroll"})
        assert theirs.status_code == 404 and "DATASET_NOT_FOUND" in theirs.text and "1000" not in theirs.text
        out = web.post("/logout")
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert web.get("/sql").status_code == 303  # the cookie is gone


@pytest.mark.parametrize(
    ("key", "status", "reason"),
    [("", 401, "KEY_MISSING"), ("lh_nope.nope", 401, "KEY_UNKNOWN"), ("revoked", 401, "KEY_REVOKED")],
)
def test_a_bad_key_shows_its_reason(lsystem, key, status, reason):
    with _web(lsystem) as web:
        refused = _login(web, lsystem.revoked_key if key == "revoked" else key)
        assert refused.status_code == status and reason in refused.text
        assert "set-cookie" not in refused.headers and 'name="key"' in refused.text


def test_guessing_keys_blocks_the_guesser_not_every_user_of_the_ui(lsystem):
    """Failed sign-ins count against the user's address (Envoy's x-forwarded-for, passed on by
    the UI), not against the UI's own: after the guesser is blocked, others still sign in."""
    with _web(lsystem) as web:
        guesser = {"x-forwarded-for": "203.0.113.7"}
        codes = [
            web.post("/login", data={"key": f"lh_{i:016x}.guess", "next": "/"}, headers=guesser).status_code
            for i in range(MAX_FAILURES + 1)
        ]
        assert codes[:MAX_FAILURES] == [401] * MAX_FAILURES and codes[-1] == 429, codes
        blocked = web.post("/login", data={"key": lsystem.rita_key, "next": "/"}, headers=guesser)
        assert blocked.status_code == 429 and "TOO_MANY_AUTH_FAILURES" in blocked.text
        other = web.post(
            "/login", data={"key": lsystem.rita_key, "next": "/"}, headers={"x-forwarded-for": "203.0.113.8"}
        )
        assert other.status_code == 303, other.text


def test_forged_and_tampered_cookies_are_no_session(lsystem):
    with _web(lsystem) as web:
        sealed = _login(web, lsystem.rita_key).cookies[COOKIE]
    other_install = SessionCookie(cookie_secret(lsystem.settings.home_dir / "elsewhere.key"), 3600)
    tampered = sealed[:-6] + ("AAAAAA" if not sealed.endswith("AAAAAA") else "BBBBBB")
    for forged in (other_install.seal(lsystem.rita_key), tampered, lsystem.rita_key, "x"):
        with httpx.Client(base_url=lsystem.rest, timeout=60, cookies={COOKIE: forged}) as web:
            page = web.get("/explore", follow_redirects=False)
            assert page.status_code == 303 and page.headers["location"].startswith("/login")
            assert "sales" not in page.text


def test_open_redirects_are_refused(lsystem):
    with _web(lsystem) as web:
        for target in ("//evil.example/", "https://evil.example/", "\\\\evil"):
            assert _login(web, lsystem.rita_key, target).headers["location"] == "/"


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def test_signing_in_through_the_form_in_chromium(lsystem, browser, tmp_path):
    browser.get(lsystem.rest + "/sql")
    assert urlparse(browser.current_url).path == "/login"
    wait(browser, "#login-key").send_keys(lsystem.rita_key)
    browser.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    wait(browser, "#sql-q")
    assert urlparse(browser.current_url).path == "/sql"  # back where the user was going
    cookie = browser.get_cookie(COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    run_sql(browser, lsystem.rest, "SELECT sum(amount) AS s FROM sales")
    WebDriverWait(browser, WAIT_S).until(lambda d: "30" in d.find_element(By.ID, "sql-result").text)
    run_sql(browser, lsystem.rest, "SELECT * FROM payroll")
    assert "DATASET_NOT_FOUND" in wait(browser, "#sql-result .error").text
    browser.save_screenshot(str(tmp_path / "signed-in.png"))
    browser.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()
    wait(browser, "#login-key")
    assert browser.get_cookie(COOKIE) is None
    browser.get(lsystem.rest + "/explore")
    assert urlparse(browser.current_url).path == "/login"
