"""DistillationCore over a fake lake (DuckDB tables behind the query and ingest APIs): a run
scores each source's new evidence into the scored dataset and picks up only what is new
next time (the watermark lives in that dataset), exports go through the firewall with
provenance and an empty export is a file and a report, drift reads the scored dataset and
writes its report; bad inputs are clean INVALID_ARGUMENTs."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.api.catalog import DATASET_NOT_FOUND, WriteMode
from lakehouse.api.distillation import (
    GOLD,
    INVALID_EVAL_SET,
    SILVER,
    UNKNOWN_CATEGORY,
    UNKNOWN_EVIDENCE_SOURCE,
    DriftRequest,
    EvalItem,
    Evidence,
    ExportRequest,
    RunRequest,
    ScoredPair,
)
from lakehouse.api.errors import InvalidArgument, NotFound
from lakehouse.api.query import Rows
from lakehouse.servers.distillation.core import DistillationCore
from lakehouse.servers.settings import DistillationSettings, ScorerRules

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@dataclass
class Result:
    version: int


class FakeLake:
    """Datasets as DuckDB tables; ingest appends (or upserts by key); objects in a dict."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.versions: dict[str, int] = {}
        self.objects: dict[str, bytes] = {}

    # IngestApi
    def ingest(self, spec, chunks):
        table = pq.read_table(io.BytesIO(b"".join(chunks)))
        name = spec.dataset
        self.con.register("incoming", table)
        if name not in self.versions:
            self.con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM incoming')
        else:
            if spec.mode == WriteMode.UPSERT:
                keys = " AND ".join(f't."{k}" = incoming."{k}"' for k in spec.primary_key)
                self.con.execute(f'DELETE FROM "{name}" t USING incoming WHERE {keys}')
            self.con.execute(f'INSERT INTO "{name}" SELECT * FROM incoming')
        self.con.unregister("incoming")
        self.versions[name] = self.versions.get(name, 0) + 1
        return Result(self.versions[name])

    # QueryApi
    def _sql(self, sql: str):
        try:
            return self.con.sql(sql).to_arrow_table()
        except duckdb.CatalogException as exc:
            name = str(exc).split('"')[1] if '"' in str(exc) else "?"
            raise NotFound(f"dataset {name!r} does not exist", reason=DATASET_NOT_FOUND) from None

    def stream(self, sql: str, **kw):
        return pa.RecordBatchReader.from_batches(*(lambda t: (t.schema, t.to_batches()))(self._sql(sql)))

    def rows(self, sql: str, **kw):
        t = self._sql(sql)
        return Rows([(f.name, str(f.type)) for f in t.schema], [list(r.values()) for r in t.to_pylist()], False)

    # the lake bucket
    def put(self, key, chunks, content_type=""):
        self.objects[key] = b"".join(chunks)

    def table(self, name: str) -> list[dict]:
        return self.con.sql(f'SELECT * FROM "{name}"').to_arrow_table().to_pylist()

    def add_playbook(self, rows: list[dict]) -> None:
        t = pa.Table.from_pylist(rows)
        self.con.register("pb", t)
        exists = "playbooks" in {r[0] for r in self.con.execute("SHOW TABLES").fetchall()}
        self.con.execute(
            "INSERT INTO playbooks SELECT * FROM pb" if exists else "CREATE TABLE playbooks AS SELECT * FROM pb"
        )
        self.con.unregister("pb")

    def add_ops(self, rows: list[dict]) -> None:
        t = pa.Table.from_pylist([{**r, "date": r["time"].strftime("%Y-%m-%d")} for r in rows])
        self.con.register("ops", t)
        exists = "_ops" in {r[0] for r in self.con.execute("SHOW TABLES").fetchall()}
        self.con.execute(
            'INSERT INTO "_ops" SELECT * FROM ops' if exists else 'CREATE TABLE "_ops" AS SELECT * FROM ops'
        )
        self.con.unregister("ops")


def playbook_entry(i: int, outcome: str, when: datetime) -> dict:
    return {
        "id": f"pb{i}",
        "query": f"forklift operator in IL number {i}",
        "corpus": "workers",
        "item_id": f"w{i}",
        "outcome": outcome,
        "score": 1.0 if outcome == "success" else None,
        "reason": "placed and stayed" if outcome == "success" else "no show",
        "source": "test",
        "time": when,
        "metadata": "{}",
    }


def op(run: str, node: str, when: datetime, code: str = "OK", out: str = "done") -> dict:
    return {
        "run_id": run,
        "workflow": "staffing",
        "node_id": node,
        "method": "matrix.search",
        "code": code,
        "reason": "" if code == "OK" else "BOOM",
        "time": when,
        "input_summary": f"inputs of {node}",
        "output_summary": out,
        "source": "workflow",
    }


@pytest.fixture
def lake() -> FakeLake:
    return FakeLake()


def core(lake: FakeLake, clock=lambda: T0 + timedelta(hours=1), **settings) -> DistillationCore:
    s = DistillationSettings(settle_s=0, **settings)
    return DistillationCore(s, lambda: lake, lambda: lake, lambda: lake, "playbooks", clock=clock)


def test_a_run_scores_each_source_and_the_next_run_only_what_is_new(lake):
    lake.add_playbook([playbook_entry(1, "success", T0), playbook_entry(2, "rejected", T0 + timedelta(seconds=1))])
    lake.add_ops([op("r1", "a", T0), op("r1", "b", T0 + timedelta(seconds=2), out="the final answer of the run")])
    c = core(lake)
    first = c.run(RunRequest())
    assert first.scored == 3 and first.version == 1
    by = {s.source: s for s in first.sources}
    assert by["playbook"].scored == 2 and by["workflow"].scored == 1 and by["ask"].scored == 0
    assert "does not exist" in by["ask"].note
    assert by["playbook"].watermark_before is None and by["playbook"].watermark_after == T0 + timedelta(seconds=1)
    assert {c_.category for c_ in by["playbook"].categories} == {SILVER, "reject"}
    rows = {r["record_id"]: r for r in lake.table("distillation_scored")}
    assert set(rows) == {"playbook:pb1", "playbook:pb2", "workflow:r1"}
    wf = rows["workflow:r1"]
    assert wf["answer"] == "the final answer of the run" and wf["outcome"] == "success"
    assert [c_["name"] for c_ in json.loads(wf["checks"])] == ["a", "b"] and wf["scorer_version"] == "v1"

    again = c.run(RunRequest())
    assert again.scored == 0 and again.version == 0  # the watermark: nothing new

    lake.add_playbook([playbook_entry(3, "success", T0 + timedelta(seconds=1))])  # journaled late, same time
    lake.add_ops([op("r2", "a", T0 + timedelta(minutes=5), code="INTERNAL")])
    third = c.run(RunRequest())
    assert third.scored == 2
    assert {r["record_id"] for r in lake.table("distillation_scored")} >= {"playbook:pb3", "workflow:r2"}
    r2 = next(r for r in lake.table("distillation_scored") if r["record_id"] == "workflow:r2")
    assert r2["outcome"] == "failure" and r2["category"] == "reject"


def test_max_records_leaves_the_rest_for_the_next_run(lake):
    lake.add_playbook([playbook_entry(i, "success", T0 + timedelta(seconds=i)) for i in range(5)])
    c = core(lake)
    first = c.run(RunRequest(sources=("playbook",), max_records=3))
    (s,) = first.sources
    assert (s.scored, s.truncated) == (3, True)
    second = c.run(RunRequest(sources=("playbook",), max_records=3))
    assert (second.sources[0].scored, second.sources[0].truncated) == (2, False)
    assert len(lake.table("distillation_scored")) == 5


def test_a_workflow_run_waits_until_it_settles(lake):
    lake.add_ops([op("r1", "a", T0)])
    c = core(lake, clock=lambda: T0 + timedelta(seconds=1))
    c._s = c._s.model_copy(update={"settle_s": 5.0})
    assert c.run(RunRequest(sources=("workflow",))).scored == 0


def test_unknown_sources_are_refused(lake):
    with pytest.raises(InvalidArgument) as err:
        core(lake).run(RunRequest(sources=("ask", "email")))
    assert err.value.reason == UNKNOWN_EVIDENCE_SOURCE and err.value.violations[0].field == "sources[1]"


def scored_fixture(lake: FakeLake) -> DistillationCore:
    lake.add_playbook(
        [
            playbook_entry(1, "success", T0),
            {**playbook_entry(2, "success", T0), "query": "Which forklift operators in Joliet hold an OSHA-30 card?"},
            playbook_entry(3, "rejected", T0),
        ]
    )
    c = core(lake)
    c.run(RunRequest(sources=("playbook",)))
    return c


def test_export_excludes_eval_overlaps_and_records_provenance(lake):
    c = scored_fixture(lake)
    eval_items = (EvalItem("e1", "Which forklift operators in Joliet hold an OSHA-30 card?"),)
    out = c.export(ExportRequest(min_category=SILVER, eval_items=eval_items))
    assert out.considered == 2 and out.exported == 1 and out.record_ids == ("playbook:pb1",)
    (x,) = out.excluded
    assert (x.record_id, x.field, x.eval_id, x.containment) == ("playbook:pb2", "query", "e1", 1.0)
    assert lake.objects[out.key] == out.jsonl and out.key.endswith(f"{out.sha256}.jsonl")
    (line,) = out.jsonl.decode().splitlines()
    assert json.loads(line)["metadata"]["record_id"] == "playbook:pb1"
    (report,) = lake.table("distillation_exports")
    assert json.loads(report["record_ids"]) == ["playbook:pb1"] and report["sha256"] == out.sha256
    assert json.loads(report["excluded"])[0]["eval_id"] == "e1"
    again = c.export(ExportRequest(min_category=SILVER, eval_items=eval_items))
    assert again.jsonl == out.jsonl and again.sha256 == out.sha256


def test_an_export_with_nothing_qualifying_is_an_empty_file_and_a_report(lake):
    c = scored_fixture(lake)
    out = c.export(ExportRequest(min_category=GOLD))
    assert (out.exported, out.jsonl, out.considered) == (0, b"", 0)
    assert lake.objects[out.key] == b"" and len(lake.table("distillation_exports")) == 1
    empty = core(FakeLake()).export(ExportRequest())  # no scored dataset at all
    assert empty.exported == 0 and empty.jsonl == b""


def test_export_reads_the_eval_set_from_a_dataset(lake):
    c = scored_fixture(lake)
    lake.con.execute(
        "CREATE TABLE evals AS SELECT 7 AS qid, 'Which forklift operators in Joliet hold an OSHA-30 card?' AS question"
    )
    out = c.export(ExportRequest(eval_dataset="evals", eval_id_column="qid", eval_text_column="question"))
    assert [(x.record_id, x.eval_id) for x in out.excluded] == [("playbook:pb2", "7")] and out.eval_items == 1
    with pytest.raises(InvalidArgument) as err:
        c.export(ExportRequest(eval_dataset="evals", eval_id_column="qid", eval_text_column="prompt"))
    assert err.value.reason == INVALID_EVAL_SET and err.value.violations[0].field == "eval_text_column"
    with pytest.raises(NotFound):
        c.export(ExportRequest(eval_dataset="no_such_evals"))


@pytest.mark.parametrize(
    ("request_", "field", "reason"),
    [
        (ExportRequest(min_category="platinum"), "min_category", UNKNOWN_CATEGORY),
        (ExportRequest(eval_items=(EvalItem("a", " "),)), "eval_items[0].text", INVALID_EVAL_SET),
        (ExportRequest(scorer_version="v9"), "scorer_version", "UNKNOWN_SCORER_VERSION"),
    ],
)
def test_bad_export_requests(lake, request_, field, reason):
    with pytest.raises(InvalidArgument) as err:
        core(lake).export(request_)
    assert err.value.reason == reason and err.value.violations[0].field == field


def test_drift_reads_the_scored_dataset_and_writes_its_report(lake):
    scored_fixture(lake)
    strict = {"v1": ScorerRules(), "v2": ScorerRules(silver_min=0.85, gold_min=0.9)}
    c = core(lake, rule_sets=strict)
    same = c.drift(DriftRequest())
    assert (same.total, same.drifted, same.persisted_versions) == (3, 0, ("v1",))
    bumped = c.drift(DriftRequest(scorer_version="v2", include_entries=True))
    assert bumped.total == 3 and bumped.drifted == 2  # the two silver successes fall to needs_review
    assert [(s.from_category, s.to_category, s.count) for s in bumped.shifts] == [("silver", "needs_review", 2)]
    assert [e.record_id for e in bumped.entries] == ["playbook:pb1", "playbook:pb2"]
    rows = lake.table("drift_scorer")
    assert [(r["scorer_version"], r["drifted"]) for r in rows] == [("v1", 0), ("v2", 2)]
    assert json.loads(rows[1]["shifts"]) == [{"count": 2, "from": "silver", "to": "needs_review"}]
    empty = core(FakeLake()).drift(DriftRequest())
    assert (empty.total, empty.drifted) == (0, 0)


def test_inline_drift_pairs_are_validated(lake):
    good = Evidence(query="q", answer="an answer")
    with pytest.raises(InvalidArgument) as err:
        core(lake).drift(DriftRequest(pairs=(ScoredPair(good, "gold"), ScoredPair(good, "bronze"))))
    assert err.value.reason == UNKNOWN_CATEGORY and err.value.violations[0].field == "pairs[1].category"
    with pytest.raises(InvalidArgument) as err:
        core(lake).drift(DriftRequest(pairs=(ScoredPair(Evidence(query=""), "gold"),)))
    assert err.value.violations[0].field == "pairs[0].record.query"
