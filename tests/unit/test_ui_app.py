"""The UI app with no backend behind it: every page and partial renders an error state with
the failure's HTTP status (never a blank or a 500), and bad input gets its reason."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from lakehouse.cli.ui import ui_url
from lakehouse.gateway.process import free_port
from lakehouse.servers.settings import Settings
from lakehouse.servers.ui.app import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("ui"), ui={"upstream": f"127.0.0.1:{free_port()}", "timeout_s": 5})
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.backend.close()


@pytest.mark.parametrize("path", ["/sql", "/ask", "/system"])
def test_pages_without_backend_calls_render(client, path):
    r = client.get(path)
    assert r.status_code == 200 and "<main" in r.text and 'aria-current="page"' in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/explore",
        "/explore?page=abc",
        "/explore/datasets/workers",
        "/system/errors",
        "/system/stats",
        "/console",
        "/console/candidates?order=1&q=x",
        "/chunk?corpus=c&id=i",
    ],
)
def test_an_unreachable_backend_is_an_error_state(client, path):
    r = client.get(path)
    assert (
        r.status_code == 503 and "Cannot reach the backend" in r.text and 'data-reason="UPSTREAM_UNAVAILABLE"' in r.text
    )


def test_sql_needs_a_query(client):
    r = client.post("/sql/run", data={"q": "  "})
    assert r.status_code == 400 and 'data-reason="EMPTY_QUERY"' in r.text
    assert client.get("/sql.csv").status_code == 400
    down = client.post("/sql/run", data={"q": "SELECT 1"})
    assert down.status_code == 503 and "Cannot reach the backend" in down.text


def test_an_ask_stream_without_backend_ends_with_a_failure_event(client):
    r = client.get("/ask/stream", params={"q": "anything"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.text.startswith("event: failure\n") and "UPSTREAM_UNAVAILABLE" in r.text


def test_static_files_are_served_and_the_root_redirects(client):
    assert "htmx" in client.get("/static/htmx.min.js").text[:2000]
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sql"


def test_the_cli_prints_a_url_a_browser_can_open():
    assert ui_url("0.0.0.0", 8080) == "http://127.0.0.1:8080/"
    assert ui_url("10.0.0.5", 9000) == "http://10.0.0.5:9000/"
