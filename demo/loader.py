"""``lakehouse demo``: load the staffing world into a running system, step by step.

1. workers: into a throwaway PostgreSQL (ADBC bulk ingest), registered as a source
   and pulled in, so the table arrives the way a customer's would (without Postgres
   binaries it is ingested as Parquet, and the summary says so);
2. résumés: generated PDFs zipped and ingested as documents, every chunk embedded into
   the ``resumes`` corpus (the scanned and locked ones are reported, not lost);
3. job orders and placements as datasets; placements imported into the playbook;
4. the labelled questions as ``demo_questions`` (question, ground truth).

Each step reports its time; the world is the same on every run (``world.SEED``).
"""

from __future__ import annotations

import io
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.demo import postgres
from lakehouse.demo.world import World

RESUME_CORPUS = "resumes"
SOURCE = "demo_postgres"
WORKERS_TABLE = "workers"
# Workers generated and sent to Postgres per batch (bounded memory for 500K rows).
WORKER_BATCH = 50_000
# Résumés per upload: one archive's ingest and embedding stays far inside the gateway's
# stream idle timeout (300 s) even on a small, busy machine.
RESUME_BATCH = 1_000


@dataclass
class Step:
    name: str
    seconds: float
    summary: str


@dataclass
class DemoReport:
    steps: list[Step] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


class DemoLoader:
    """``client``: a LakehouseClient; ``say``: where progress lines go."""

    def __init__(self, client, world: World, say: Callable[[str], None], use_postgres: bool = True) -> None:
        self._lh = client
        self._world = world
        self._say = say
        self._use_postgres = use_postgres and postgres.available()
        self.report = DemoReport()

    def _step(self, name: str, run: Callable[[], str]) -> None:
        self._say(f"{name} ...")
        started = time.perf_counter()
        summary = run()
        step = Step(name, time.perf_counter() - started, summary)
        self.report.steps.append(step)
        self._say(f"  {summary} ({step.seconds:.1f}s)")

    def run(self) -> DemoReport:
        self._step("workers", self._workers)
        resumes = []
        self._step("resumes", lambda: self._resumes(resumes))
        self._step("job orders and placements", lambda: self._placements(resumes))
        self._step("questions", lambda: self._questions(resumes))
        return self.report

    # Steps ---------------------------------------------------------------

    def _workers(self) -> str:
        world = self._world
        if not self._use_postgres:
            batches = (world.workers_table(i, i + WORKER_BATCH) for i in range(0, world.size, WORKER_BATCH))
            table = pa.concat_tables(batches)
            result = self._lh.ingest(WORKERS_TABLE, _parquet(table), format="parquet", mode="replace")
            return f"{result.rows} workers ingested as Parquet (no PostgreSQL binaries here to pull from)"
        pg = postgres.LocalPostgres().start()
        try:
            with pg.connect() as conn, conn.cursor() as cur:
                for start in range(0, world.size, WORKER_BATCH):
                    mode = "create" if start == 0 else "append"
                    cur.adbc_ingest(WORKERS_TABLE, world.workers_table(start, start + WORKER_BATCH), mode=mode)
            self._lh.create_source(
                SOURCE,
                host=pg.host,
                port=pg.port,
                database=pg.database,
                user=pg.user,
                password=pg.password,
                replace=True,
            )
            pulled = self._lh.pull(WORKERS_TABLE, SOURCE, table=WORKERS_TABLE, mode="replace")
        finally:
            pg.stop()
        return f"{pulled.rows} workers pulled from PostgreSQL into {WORKERS_TABLE} v{pulled.version}"

    def _resumes(self, resumes: list) -> str:
        """In archives of RESUME_BATCH: each call stays well inside the gateway's idle
        timeout while its chunks are embedded, and progress shows between them."""
        rows = embedded = refused = no_text = 0
        pending = self._world.resumes()
        while True:
            batch = [r for _, r in zip(range(RESUME_BATCH), pending, strict=False)]
            if not batch:
                break
            result = self._ingest_resumes(batch)
            resumes.extend(batch)
            rows, embedded = rows + result.rows, embedded + result.embedded
            refused, no_text = refused + len(result.rejected_files), no_text + len(result.warnings)
            self._say(f"  {len(resumes)} résumés sent")
        return (
            f"{rows} résumés in dataset resumes, {embedded} chunks in corpus {RESUME_CORPUS};"
            f" {refused} refused (locked), {no_text} without a text layer"
        )

    def _ingest_resumes(self, batch: list):
        with tempfile.TemporaryDirectory(prefix="lakehouse-demo-") as tmp:
            archive = Path(tmp) / "resumes.zip"
            with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
                for resume in batch:
                    zf.writestr(resume.file_name, resume.data)
            return self._lh.ingest(
                "resumes", archive, format="zip", mode="upsert", embed={"embed_corpus": RESUME_CORPUS}
            )

    def _placements(self, resumes: list) -> str:
        world = self._world
        orders = self._lh.ingest("job_orders", _parquet(world.job_orders()), format="parquet", mode="replace")
        placements = world.placements(resumes, RESUME_CORPUS)
        self._lh.ingest("placements", _parquet(placements), format="parquet", mode="replace")
        imported = self._lh.import_playbook(
            "placements",
            query_column="query",
            item_id_column="item_id",
            corpus_column="corpus",
            outcome_column="outcome",
            score_column="score",
            time_column="placed_at",
            id_column="placement_id",
            source="demo",
        )
        return (
            f"{orders.rows} job orders; {placements.num_rows} placements, {imported.recorded} recorded in the playbook"
        )

    def _questions(self, resumes: list) -> str:
        questions = self._world.questions(resumes)
        table = pa.table(
            {
                "question": [q.text for q in questions],
                "role": [q.role for q in questions],
                "certification": [q.certification for q in questions],
                "state": [q.state for q in questions],
                "relevant": pa.array([list(q.relevant) for q in questions], pa.list_(pa.string())),
            }
        )
        self._lh.ingest("demo_questions", _parquet(table), format="parquet", mode="replace")
        self.report.questions = [q.text for q in questions]
        return f"{len(questions)} labelled questions in demo_questions"
