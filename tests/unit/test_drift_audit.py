"""Audit baseline drift: the JSONL file (the audit_baselines.jsonl shape, appended on the
lake), the baseline (median of the subject's last snapshots), moved and unmoved metrics,
tolerances, and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lakehouse.api import errors
from lakehouse.api.drift import (
    INVALID_DRIFT_OPTION,
    INVALID_METRIC,
    NO_SNAPSHOTS,
    STATUS_MISSING,
    STATUS_MOVED,
    STATUS_NEW,
    STATUS_STEADY,
    AuditDriftQuery,
    AuditSnapshot,
    audit_query_from_pb,
    audit_query_to_pb,
    audit_report_from_pb,
    audit_report_to_pb,
)
from lakehouse.servers.drift import audit
from lakehouse.servers.drift.core import DriftCore
from lakehouse.servers.settings import DriftSettings
from lakehouse.servers.storage.local import LocalObjectStore
from tests.support.drift import FakeIngest

T0 = datetime(2026, 3, 1, tzinfo=UTC)
KEY = "_drift/audit_baselines.jsonl"


@pytest.fixture
def lake(tmp_path: Path):
    return LocalObjectStore("lake", tmp_path / "lake")


@pytest.fixture
def core(lake):
    ingest = FakeIngest()
    clock = iter(T0 + timedelta(hours=i) for i in range(1000))
    c = DriftCore(lake, lambda: None, lambda: ingest, DriftSettings(audit_window=3), clock=lambda: next(clock))
    c.ingest = ingest  # type: ignore[attr-defined]
    return c


def snap(i: int, subject: str = "bench/vector", **metrics: float) -> AuditSnapshot:
    return AuditSnapshot(T0 + timedelta(days=i), subject, metrics)


def test_line_shape_is_the_rust_one():
    line = audit.format_line(snap(0, recall=0.9, p50_ms=2))
    assert json.loads(line) == {
        "timestamp": "2026-03-01T00:00:00Z",
        "subject": "bench/vector",
        "metrics": {"p50_ms": 2, "recall": 0.9},
    }
    assert line.endswith(b"\n") and list(json.loads(line)) == ["timestamp", "subject", "metrics"]
    assert audit.parse_line(line) == snap(0, p50_ms=2.0, recall=0.9)


def test_the_file_is_appended_and_bad_lines_skipped(lake):
    f = audit.BaselineFile(lake, KEY)
    assert f.read() == []
    f.append(snap(0, a=1.0))
    f.append(snap(1, a=2.0))
    assert [s.metrics["a"] for s in f.read()] == [1.0, 2.0]
    raw = b"".join(lake.get(KEY)) + b"not json\n{}\n"
    lake.put(KEY, iter([raw]))
    f.append(snap(2, a=3.0))
    assert [s.metrics["a"] for s in f.read()] == [1.0, 2.0, 3.0]


def test_unmoved_and_moved():
    history = [snap(i, latency=10.0 + i % 2, recall=0.9) for i in range(6)]
    steady, samples = audit.compare(
        snap(9, latency=10.5, recall=0.91), history, window=5, relative=0.1, absolute=0.0, per_metric={}
    )
    assert samples == 5
    assert [(m.name, m.status, m.moved) for m in steady] == [
        ("latency", STATUS_STEADY, False),
        ("recall", STATUS_STEADY, False),
    ]
    moved, _ = audit.compare(
        snap(9, latency=14.0, recall=0.7), history, window=5, relative=0.1, absolute=0.0, per_metric={}
    )
    latency, recall = moved
    assert latency.status == STATUS_MOVED and latency.baseline == 11.0 and latency.delta == 3.0
    assert latency.relative == pytest.approx(3 / 11)
    assert recall.moved and recall.delta == pytest.approx(-0.2)


def test_the_baseline_is_the_median_of_the_window():
    history = [snap(0, x=100.0)] + [snap(i, x=v) for i, v in enumerate([1.0, 2.0, 50.0], start=1)]
    [m], samples = audit.compare(snap(9, x=2.0), history, window=3, relative=0.1, absolute=0.0, per_metric={})
    assert samples == 3 and m.baseline == 2.0 and not m.moved  # 100 is outside the window, 50 an outlier


def test_tolerances_absolute_relative_and_per_metric():
    history = [snap(0, x=0.0, y=100.0)]
    [x, y], _ = audit.compare(snap(1, x=0.05, y=104.0), history, window=5, relative=0.03, absolute=0.1, per_metric={})
    assert not x.moved  # within the absolute tolerance (relative to a 0 baseline is anything)
    assert y.moved  # 4% > 3%, and 4 > 0.1
    [x, y], _ = audit.compare(
        snap(1, x=0.5, y=104.0), history, window=5, relative=0.03, absolute=0.1, per_metric={"y": 0.05}
    )
    assert x.moved and not y.moved


def test_new_and_missing_metrics():
    history = [snap(0, old=1.0)]
    compared, _ = audit.compare(snap(1, fresh=5.0), history, window=5, relative=0.1, absolute=0.0, per_metric={})
    assert [(m.name, m.status, m.moved) for m in compared] == [
        ("fresh", STATUS_NEW, False),
        ("old", STATUS_MISSING, False),
    ]


def test_core_records_compares_and_lists(core):
    for i, v in enumerate([10.0, 11.0, 10.0, 10.5]):
        r = core.audit_drift(
            AuditDriftQuery("svc", {"p50": v, "errors": 0.0}, record=True, timestamp=T0 + timedelta(days=i))
        )
        assert r.recorded and r.baseline_key == KEY
    report = core.audit_drift(AuditDriftQuery("svc", {"p50": 20.0, "errors": 0.0}))
    assert report.baseline_snapshots == 3 and report.moved == 1 and not report.recorded
    assert {m.name: m.status for m in report.metrics} == {"errors": STATUS_STEADY, "p50": STATUS_MOVED}
    assert [m.baseline for m in report.metrics if m.name == "p50"] == [10.5]
    assert report.dataset == "drift_audit"
    assert {r["metric"] for r in core.ingest.rows["drift_audit"] if r["run_id"] == report.run_id} == {"p50", "errors"}
    # Other subjects have their own baseline.
    core.audit_drift(AuditDriftQuery("other", {"p50": 99.0}, record=True))
    assert [s.metrics["p50"] for s in core.list_audit_snapshots("svc")] == [10.0, 11.0, 10.0, 10.5]
    assert len(core.list_audit_snapshots()) == 5 and len(core.list_audit_snapshots(limit=2)) == 2
    # No metrics: the newest recorded snapshot against the ones before it.
    newest = core.audit_drift(AuditDriftQuery("svc"))
    assert newest.snapshot.metrics["p50"] == 10.5 and newest.moved == 0 and newest.baseline_snapshots == 3


def test_core_bad_input(core):
    with pytest.raises(errors.FailedPrecondition) as exc:
        core.audit_drift(AuditDriftQuery("never"))
    assert exc.value.reason == NO_SNAPSHOTS
    for query, reason in [
        (AuditDriftQuery(""), INVALID_METRIC),
        (AuditDriftQuery("s", {"x": float("nan")}), INVALID_METRIC),
        (AuditDriftQuery("s", {"": 1.0}), INVALID_METRIC),
        (AuditDriftQuery("s", {}, record=True), INVALID_DRIFT_OPTION),
        (AuditDriftQuery("s", {"x": 1.0}, relative_tolerance=-1.0), INVALID_DRIFT_OPTION),
        (AuditDriftQuery("s", {"x": 1.0}, tolerances={"x": float("inf")}), INVALID_DRIFT_OPTION),
        (AuditDriftQuery("s", {"x": 1.0}, window=-2), INVALID_DRIFT_OPTION),
    ]:
        with pytest.raises(errors.InvalidArgument) as exc:
            core.audit_drift(query)
        assert exc.value.reason == reason, query


def test_proto_round_trip(core):
    query = AuditDriftQuery(
        "s", {"x": 1.0}, record=True, timestamp=T0, window=4, relative_tolerance=0.0, tolerances={"x": 0.2}
    )
    assert audit_query_from_pb(audit_query_to_pb(query)) == query
    assert audit_query_from_pb(audit_query_to_pb(AuditDriftQuery("s"))).relative_tolerance is None
    report = core.audit_drift(query)
    assert audit_report_from_pb(audit_report_to_pb(report)) == report
