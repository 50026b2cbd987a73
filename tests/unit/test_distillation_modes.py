"""The workflow modes distillation.score and drift.scorer: their schemas refuse bad records
at load time, and they call the distillation API the runner hands them."""

from __future__ import annotations

import io
from dataclasses import replace

import pyarrow.parquet as pq
import pytest

from lakehouse.api.errors import FailedPrecondition
from lakehouse.servers.distillation.core import DistillationCore
from lakehouse.servers.settings import Settings
from lakehouse.servers.workflows.modes import ModeContext, default_catalog
from tests.support.workflows import services

CATALOG = default_catalog()
RECORD = {
    "query": "Forklift operator with OSHA-30 in IL",
    "context": ["Maria Lopez, forklift operator, OSHA-30"],
    "answer": "Maria Lopez is a forklift operator with OSHA-30 [1].",
    "citations": ["resumes/maria#0"],
    "checks": [{"name": "grounded", "passed": True}],
    "time": "2026-12-01T12:00:00+00:00",
}


class Reports:
    """An ingest API that keeps what it is given."""

    def __init__(self) -> None:
        self.written: dict[str, list[dict]] = {}

    def ingest(self, spec, chunks):
        self.written.setdefault(spec.dataset, []).extend(pq.read_table(io.BytesIO(b"".join(chunks))).to_pylist())


def call(name: str, args: dict, reports: Reports | None = None, wired: bool = True) -> dict:
    settings = Settings()
    core = DistillationCore(settings.distillation, lambda: None, lambda: reports, lambda: None, "playbooks")
    svc = replace(services(settings), distillation=(lambda: core) if wired else None)
    mode = CATALOG.get(name)
    errors = list(mode.validator.iter_errors(args))
    assert not errors, errors
    return dict(mode.fn(ModeContext(svc, workflow="t", run_id="r" * 32, node_id="n"), args))


def test_distillation_score_scores_and_counts():
    out = call("distillation.score", {"records": [RECORD, {**RECORD, "outcome": "rejected"}], "scorer_version": "v2"})
    assert out["scorer_version"] == "v2"
    assert [s["category"] for s in out["scores"]] == ["silver", "reject"]
    assert out["categories"] == {"silver": 1, "reject": 1}
    assert out["scores"][0]["record_id"].startswith("rec-")


def test_drift_scorer_re_scores_inline_pairs_and_writes_the_report():
    reports = Reports()
    pairs = [{"record": RECORD, "category": "gold", "scorer_version": "v1"}]
    out = call("drift.scorer", {"pairs": pairs, "scorer_version": "v2", "include_entries": True}, reports)
    assert (out["total"], out["drifted"]) == (1, 1)
    assert out["shifts"] == [{"from_category": "gold", "to_category": "silver", "count": 1}]
    assert out["entries"][0]["persisted_version"] == "v1"
    (row,) = reports.written["drift_scorer"]
    assert row["input"] == "inline" and row["drifted"] == 1


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("distillation.score", {"records": [{"answer": "no query"}]}),
        ("distillation.score", {"records": [{**RECORD, "outcome": "great"}]}),
        ("drift.scorer", {"pairs": [{"record": RECORD, "category": "bronze"}]}),
        ("drift.scorer", {"include_entries": "yes"}),
    ],
)
def test_the_schemas_refuse_bad_arguments(name, args):
    assert list(CATALOG.get(name).validator.iter_errors(args))


def test_a_runner_without_distillation_fails_cleanly():
    with pytest.raises(FailedPrecondition):
        call("distillation.score", {"records": [RECORD]}, wired=False)
