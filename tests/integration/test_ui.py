"""The web UI end to end in headless Chromium (Selenium), through Envoy's one port, against
a live system: each tab loads and works, the Ask answer streams in without a reload, a SQL
error renders its reason, the UI's calls are recorded with source "ui", the pages pass a
basic accessibility check, and a UI that cannot reach its backend shows an error state.

Screenshots of every page go to $LAKEHOUSE_UI_SCREENSHOTS (default: a pytest temp
directory); the path is printed."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from lakehouse.gateway.process import free_port
from lakehouse.servers.settings import Settings
from lakehouse.servers.ui import views
from lakehouse.servers.ui.server import start_ui
from tests.support.browser import WAIT_S, chromium, run_sql, wait
from tests.support.documents import ANA, JOHN, MARIA, pdf, zip_of
from tests.support.fake_llm import FakeLLM
from tests.support.system import System, wait_until_built

CORPUS = "ui_resumes"
QUESTION = "Forklift operator with OSHA-30 in IL"
WORKERS_CSV = b"id,name,state\n" + b"".join(f"{i},worker{i},{'IL' if i % 2 else 'TX'}\n".encode() for i in range(1, 31))
PAGES = ("/sql", "/ask", "/explore", "/system", "/console")
JOB_ORDERS_CSV = (
    b"job_order_id,client,title,query,openings\n"
    b"1,Acme,forklift operator,Forklift operator with OSHA-30 in IL,2\n"
    b"2,Birch,welder,Welder in TX,1\n"
)


@pytest.fixture(scope="module")
def fake():
    with FakeLLM() as llm:
        yield llm


@pytest.fixture(scope="module")
def uisystem(tmp_path_factory, fake):
    env = {
        "LAKEHOUSE_MODELS__OLLAMA_URL": fake.url,
        "LAKEHOUSE_MODELS__CHAT_MODEL": "fake-model",
        "LAKEHOUSE_MODELS__HTTP_RETRIES": "1",
        "LAKEHOUSE_ASK__CORPORA": json.dumps([CORPUS]),
        "LAKEHOUSE_ASK__PROVIDER": "ollama",  # generative: the answer's tokens stream in
        "LAKEHOUSE_UI__SQL_MAX_ROWS": "10",
        "LAKEHOUSE_UI__POLL_S": "0.5",
        "LAKEHOUSE_UI__CONSOLE_CORPUS": CORPUS,
        "LAKEHOUSE_UI__CONSOLE_CANDIDATES": "3",
    }
    system = System.start(tmp_path_factory.mktemp("ui-home"), env)
    with system.client() as lh:
        lh.ingest("workers", WORKERS_CSV, format="csv")
        lh.ingest("job_orders", JOB_ORDERS_CSV, format="csv")
        archive = zip_of({"maria.pdf": pdf(MARIA), "john.pdf": pdf(JOHN), "ana.pdf": pdf(ANA)})
        lh.ingest("ui_resumes", archive, format="zip", embed={"embed_corpus": CORPUS})
    yield system
    system.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    where = os.environ.get("LAKEHOUSE_UI_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("ui-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nUI screenshots: {path}")
    return path


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def test_root_is_the_ui_and_rest_stays_rest(uisystem):
    r = httpx.get(uisystem.rest + "/", follow_redirects=True)
    assert r.status_code == 200 and "<main" in r.text and r.url.path == "/sql"
    assert httpx.get(uisystem.rest + "/static/htmx.min.js").status_code == 200
    assert httpx.get(uisystem.rest + "/v1/health").json()["status"] == "SERVING"
    unknown = httpx.get(uisystem.rest + "/v1/no-such-thing")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/json")
    guarded = httpx.post(uisystem.rest + "/v1/sql", json={"sql": "SELECT 1", "no_such_field": 1})
    assert guarded.status_code == 400 and "no_such_field" in guarded.json()["message"]  # the JSON guard still runs


def test_sql_tab_renders_the_capped_table_and_a_csv(uisystem, browser, shots):
    run_sql(browser, uisystem.rest, "SELECT id, name, state FROM workers ORDER BY id")
    count = wait(browser, "#sql-count")
    assert count.text == "10"  # ui.sql_max_rows
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#sql-result tbody tr:first-child td")]
    assert cells == ["1", "worker1", "IL"]
    assert "capped" in browser.find_element(By.CSS_SELECTOR, "#sql-result .summary").text
    browser.save_screenshot(str(shots / "sql.png"))
    href = browser.find_element(By.LINK_TEXT, "Download CSV").get_attribute("href")
    csv = httpx.get(href)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().split("\n")
    assert lines[0] == '"id","name","state"' and len(lines) == 31  # the whole result, not the page's cap


def test_sql_error_renders_its_reason_and_message(uisystem, browser, shots):
    run_sql(browser, uisystem.rest, "SELECT no_such_column FROM workers")
    error = wait(browser, "#sql-result .error")
    assert error.get_attribute("data-code") == "INVALID_ARGUMENT"
    assert error.get_attribute("data-reason") and "no_such_column" in error.text
    browser.save_screenshot(str(shots / "sql-error.png"))
    r = httpx.get(uisystem.rest + "/sql.csv", params={"q": "SELECT no_such_column FROM workers"})
    assert r.status_code == 400 and "no_such_column" in r.text


def test_ask_streams_the_answer_in_without_a_reload(uisystem, browser, shots, fake):
    fake.reply = "Ana Lopez holds OSHA-30 in Illinois [1]."
    browser.get(uisystem.rest + "/ask")
    box = wait(browser, "#ask-q")
    browser.execute_script("window.__lakehouseMarker = 'still-here'")
    box.send_keys(QUESTION)
    browser.find_element(By.CSS_SELECTOR, "#ask-form button[type=submit]").click()
    answer = wait(browser, "#ask-answer")
    assert browser.execute_script("return window.__lakehouseMarker") == "still-here"  # no reload
    assert answer.get_attribute("data-mode") == "generative"
    assert "OSHA-30 in Illinois" in answer.text
    derived = json.loads(browser.find_element(By.CSS_SELECTOR, "#ask-filter").text)
    assert {"state": "IL"} in derived["$and"]
    # [1] in the answer links to the cited chunk; the citation names its document and page.
    link = answer.find_element(By.LINK_TEXT, "[1]")
    target = parse_qs(urlparse(link.get_attribute("href")).query)
    assert target["corpus"] == [CORPUS] and target["id"]
    first = browser.find_element(By.CSS_SELECTOR, ".citations li a")
    assert re.search(r"\.pdf, page \d+", first.text)
    browser.save_screenshot(str(shots / "ask.png"))
    link.click()
    chunk = wait(browser, "blockquote.chunk")
    assert chunk.text and "Document" in browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    browser.save_screenshot(str(shots / "chunk.png"))


def test_explore_lists_datasets_and_corpora_and_opens_a_dataset(uisystem, browser, shots):
    with uisystem.client() as lh:
        # A second generation, built in the background; swapped in, the first one is what
        # a rollback returns to.
        lh.rebuild_corpus(CORPUS)
        wait_until_built(lh, CORPUS, WAIT_S)
        rebuilt = lh.swap_generation(CORPUS)
    browser.get(uisystem.rest + "/explore")
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#datasets .dataset-link")]
    assert {"workers", "ui_resumes"} <= set(names)
    card = browser.find_element(By.CSS_SELECTOR, "#corpora .card")
    badges = [b.text for b in card.find_elements(By.CSS_SELECTOR, ".badge")]
    assert f"active gen {rebuilt.generation}" in badges and "swap available" in badges
    assert f"rollback to gen {rebuilt.previous_generation}" in badges
    browser.find_element(By.LINK_TEXT, "workers").click()
    schema = wait(browser, "#dataset-detail table.schema")
    assert [td.text for td in schema.find_elements(By.CSS_SELECTOR, "tbody td:first-child")] == ["id", "name", "state"]
    preview = browser.find_elements(By.CSS_SELECTOR, "#dataset-detail .table-wrap tbody tr")
    assert len(preview) == 20  # ui.preview_rows
    assert browser.find_element(By.CSS_SELECTOR, "#dataset-detail table.versions tbody td").text == "1"
    browser.save_screenshot(str(shots / "explore.png"))


def test_system_tab_polls_errors_observer_stats_and_index_trials(uisystem, browser, shots):
    browser.get(uisystem.rest + "/system")
    WebDriverWait(browser, WAIT_S).until(lambda d: "Loading" not in d.find_element(By.ID, "errors").text)
    rows = wait(browser, "#trials-table").find_elements(By.CSS_SELECTOR, "tbody tr")
    cells = [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]
    rebuilt = [c for c in cells if c[1] == CORPUS and c[3] == "rebuild"]  # the explore test's rebuild
    assert rebuilt and rebuilt[0][-1] == "ok" and rebuilt[0][9].startswith(("0.", "1.000"))
    stats = wait(browser, "#stats-table")
    WebDriverWait(browser, WAIT_S).until(
        lambda d: "ui" in [td.text for td in d.find_elements(By.CSS_SELECTOR, "#stats-table tbody td:nth-child(2)")]
    )
    assert stats.is_displayed()
    browser.save_screenshot(str(shots / "system.png"))


def test_console_ranks_candidates_and_marking_placed_records_a_playbook_entry(uisystem, browser, shots):
    browser.get(uisystem.rest + "/console")
    assert "Fill probability =" in wait(browser, "#fill-method").text
    cards = browser.find_elements(By.CSS_SELECTOR, "#orders .order")
    assert len(cards) == 2 and "Forklift operator with OSHA-30 in IL" in cards[0].text
    cards[0].find_element(By.TAG_NAME, "summary").click()
    first = wait(browser, "#orders .order:first-child .candidate")
    candidates = browser.find_elements(By.CSS_SELECTOR, "#orders .order:first-child .candidate")
    assert 1 <= len(candidates) <= 3  # ui.console_candidates
    item = first.get_attribute("data-item")
    before = float(first.find_element(By.CSS_SELECTOR, "meter.fill").get_attribute("value"))
    assert 0 <= before <= 1
    first.find_element(By.XPATH, ".//button[text()='Mark placed']").click()
    badge = wait(browser, "#orders .order:first-child .candidate:first-child .outcome .badge")
    assert badge.text == "Recorded: placed"
    browser.save_screenshot(str(shots / "console.png"))
    with uisystem.client() as lh:
        entries = lh.list_playbook_entries(corpus=CORPUS, item_id=item)
    assert [(e.outcome, e.source, e.query) for e in entries] == [
        ("success", "ui", "Forklift operator with OSHA-30 in IL")
    ]
    assert entries[0].id == badge.get_attribute("data-entry")
    # The placement is evidence now: reopened, the candidate's bar has moved up.
    browser.get(uisystem.rest + "/console")
    wait(browser, "#orders .order summary").click()
    again = wait(browser, f"#orders .order:first-child .candidate[data-item='{item}']")
    assert "1 placed" in again.text
    assert float(again.find_element(By.CSS_SELECTOR, "meter.fill").get_attribute("value")) > before


def test_the_ui_calls_are_recorded_with_source_ui(uisystem):
    with uisystem.client() as lh:
        ops = lh.list_ops(source="ui", limit=100).ops
    assert {"Sql", "AskStream"} <= {op.method for op in ops}


def _rgb(css: str) -> tuple[int, int, int, float]:
    parts = [float(p) for p in re.findall(r"[\d.]+", css)]
    return int(parts[0]), int(parts[1]), int(parts[2]), parts[3] if len(parts) > 3 else 1.0


# Every visible text element's colour and effective background (the nearest ancestor's
# that is not transparent), read in one script: the System tab re-renders as it polls.
COLOURS_JS = """
const background = (e) => { for (; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor;
  if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c; } return 'rgb(255, 255, 255)'; };
return [...document.querySelectorAll(arguments[0])]
  .filter((e) => e.offsetParent !== null && e.innerText.trim())
  .map((e) => [e.tagName, e.innerText.trim().slice(0, 30), getComputedStyle(e).color, background(e)]);
"""
TEXT_SELECTORS = "body, nav a, h1, label, button, .muted, a, th, td, .error, .badge"


@pytest.mark.parametrize("path", PAGES)
def test_pages_pass_a_basic_accessibility_check(uisystem, browser, shots, path):
    browser.get(uisystem.rest + path)
    wait(browser, "main")
    assert browser.find_elements(By.CSS_SELECTOR, "main") and browser.find_elements(By.CSS_SELECTOR, "nav")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    for field in browser.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]), textarea, select"):
        fid = field.get_attribute("id")
        labelled = fid and browser.find_elements(By.CSS_SELECTOR, f"label[for='{fid}']")
        assert labelled or field.get_attribute("aria-label"), f"unlabelled field on {path}"
    checked = 0
    for tag, text, fg, bg in browser.execute_script(COLOURS_JS, TEXT_SELECTORS):
        ratio = views.contrast_ratio(_rgb(fg)[:3], _rgb(bg)[:3])
        assert ratio >= 4.5, f"{path}: {tag} {text!r} contrast {ratio:.2f}"
        checked += 1
    assert checked >= 5
    browser.save_screenshot(str(shots / f"a11y{path.replace('/', '-')}.png"))


@pytest.fixture()
def orphan_ui(tmp_path):
    """A UI whose backend is nowhere: every page must say so."""
    settings = Settings(home=tmp_path, ui={"upstream": f"127.0.0.1:{free_port()}", "timeout_s": 5})
    server = start_ui(settings)
    yield f"http://{server.address}"
    server.stop()


def test_a_page_that_cannot_reach_its_backend_shows_an_error_state(orphan_ui, browser, shots):
    browser.get(orphan_ui + "/explore")
    errors = browser.find_elements(By.CSS_SELECTOR, "main .error")
    assert len(errors) == 2 and all("Cannot reach the backend" in e.text for e in errors)
    browser.save_screenshot(str(shots / "explore-backend-down.png"))
    run_sql(browser, orphan_ui, "SELECT 1")
    assert "Cannot reach the backend" in wait(browser, "#sql-result .error").text
    browser.get(orphan_ui + "/system")
    assert "Cannot reach the backend" in wait(browser, "#errors .error").text
    assert "Cannot reach the backend" in wait(browser, "#trials .error").text
    browser.get(orphan_ui + "/ask")
    wait(browser, "#ask-q").send_keys(QUESTION)
    browser.find_element(By.CSS_SELECTOR, "#ask-form button[type=submit]").click()
    assert "Cannot reach the backend" in wait(browser, "#ask-result .error").text
    browser.save_screenshot(str(shots / "ask-backend-down.png"))
    assert httpx.get(orphan_ui + "/explore").status_code == 503
