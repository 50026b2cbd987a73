"""Web UI page render time per tab, beside the REST calls that fetch the same data.

    python bench/ui.py [--workers 20000] [--resumes 60] [--calls 40]

One embedded system (server process + Envoy, the UI included) loaded with the demo
world's data at a small scale: ``--workers`` worker rows, the job orders, and the first
``--resumes`` text résumés embedded into corpus ``resumes``. Each tab's request through
Envoy (the page, or the HTMX partial the tab swaps in; Ask: the whole SSE stream,
extractive) is timed interleaved with its REST baseline, the JSON of the same calls the
page makes (what a page costs on top: the Python client hop, templates, HTML). Reports,
never asserts.
"""

from __future__ import annotations

import argparse
import io

import benchlib
import httpx
import pyarrow.parquet as pq
from benchlib import Table, log, percentile, running_system

from tests.support.documents import zip_of
from tests.support.system import wait_until_built

QUESTION = "Forklift operator with OSHA-30 in IL"
SQL = "SELECT state, count(*) AS n FROM workers GROUP BY state ORDER BY n DESC"


def parquet(table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def load(system, workers: int, resumes: int) -> None:
    from lakehouse.demo.world import World

    world = World(workers=workers, resumes=resumes)
    with system.client() as lh:
        lh.ingest("workers", parquet(world.workers_table()), format="parquet")
        lh.ingest("job_orders", parquet(world.job_orders()), format="parquet")
        files = {r.file_name: r.data for r in world.resumes() if r.kind == "text"}
        lh.ingest("resumes", zip_of(files), format="zip", embed={"embed_corpus": "resumes"})
        lh.rebuild_corpus("resumes")  # an index trial for the System tab's table
        wait_until_built(lh, "resumes")
    log(f"loaded {workers} workers, 600 job orders, {len(files)} résumés")


def checked(response: httpx.Response) -> httpx.Response:
    response.raise_for_status()
    return response


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=20_000)
    parser.add_argument("--resumes", type=int, default=60)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    benchlib.install_signal_handlers()
    with running_system() as system:
        load(system, args.workers, args.resumes)
        http = httpx.Client(base_url=system.rest, timeout=60)

        def stream() -> None:
            with http.stream("GET", "/ask/stream", params={"q": QUESTION}) as r:
                body = "".join(r.iter_text())
            assert "event: answer" in body, body[-500:]

        def rest_ask() -> None:
            checked(http.post("/v1/ask", json={"question": QUESTION}))

        tabs = {
            "SQL result (POST /sql/run)": (
                lambda: checked(http.post("/sql/run", data={"q": SQL})),
                lambda: checked(http.post("/v1/sql", json={"sql": SQL, "max_rows": 200})),
            ),
            "Ask answer (SSE stream)": (stream, rest_ask),
            "Explore page": (
                lambda: checked(http.get("/explore")),
                lambda: (checked(http.get("/v1/datasets")), checked(http.get("/v1/corpora"))),
            ),
            "Explore dataset detail": (
                lambda: checked(http.get("/explore/datasets/workers")),
                lambda: (
                    checked(http.get("/v1/datasets/workers")),
                    checked(http.get("/v1/datasets/workers/versions")),
                    checked(http.post("/v1/sql", json={"sql": 'SELECT * FROM "workers" LIMIT 20'})),
                ),
            ),
            "System stats partial": (
                lambda: checked(http.get("/system/stats")),
                lambda: (
                    checked(http.get("/v1/observer/stats")),
                    checked(http.get("/v1/observer/ops", params={"limit": 20, "method": "RunWorkflow"})),
                    checked(http.get("/v1/observer/ops", params={"limit": 20})),
                ),
            ),
            "System index trials partial": (
                lambda: checked(http.get("/system/trials")),
                lambda: checked(http.get("/v1/index-trials", params={"limit": 20})),
            ),
            "Console page": (
                lambda: checked(http.get("/console")),
                lambda: checked(http.post("/v1/sql", json={"sql": "SELECT * FROM job_orders LIMIT 13"})),
            ),
            "Console candidates": (
                lambda: checked(http.get("/console/candidates", params={"order": 1, "q": QUESTION})),
                lambda: checked(
                    http.post(
                        "/v1/matrix/search",
                        json={"text": QUESTION, "corpora": ["resumes"], "k": 5, "use_playbook": True},
                    )
                ),
            ),
        }
        table = Table("web UI: p50 per tab through Envoy (lakehouse = the UI, baseline = the REST calls)")
        for label, (page, rest) in tabs.items():
            times = benchlib.interleaved({"ui": page, "rest": rest}, args.calls, warmup=3)
            ui_ms, rest_ms = percentile(times["ui"], 50) * 1e3, percentile(times["rest"], 50) * 1e3
            table.add(f"{label} p50 (ms)", f"{ui_ms:.2f}", f"{rest_ms:.2f}", f"{ui_ms / rest_ms:.2f}x")
        table.notes.append(
            f"{args.workers} workers, {args.resumes} résumés (text ones embedded), {args.calls} calls per tab, "
            "interleaved; candidates: the page also lists each candidate's playbook history"
        )
        table.notes.append(benchlib.environment())
        table.emit("ui")
        http.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
