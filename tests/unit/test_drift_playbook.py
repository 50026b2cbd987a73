"""Playbook drift over a fake matrix: holding and drifted entries, ranks beyond k and
beyond the search depth, rejections skipped, a vanished corpus, the worst-first order,
the entry bound, progress, and the per-corpus report rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lakehouse.api import errors
from lakehouse.api.drift import (
    INVALID_DRIFT_OPTION,
    DriftProgress,
    PlaybookDriftQuery,
    PlaybookDriftReport,
    playbook_report_from_pb,
    playbook_report_to_pb,
)
from lakehouse.api.matrix import REJECTED, SUCCESS, PlaybookEntry
from lakehouse.api.vector import CORPUS_NOT_FOUND
from lakehouse.servers.drift.core import DriftCore
from lakehouse.servers.settings import DriftSettings
from tests.support.drift import FakeIngest, FakeMatrix

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def entry(n: int, corpus: str, item: str, outcome: str = SUCCESS, score: float | None = None) -> PlaybookEntry:
    return PlaybookEntry(
        query=f"q{n}",
        corpus=corpus,
        item_id=item,
        outcome=outcome,
        score=score if outcome == SUCCESS else None,
        time=T0 + timedelta(hours=n),
        id=f"e{n:02d}",
    )


def filler(n: int) -> list[str]:
    return [f"other-{i}" for i in range(n)]


ENTRIES = [
    entry(1, "workers", "w1"),  # rank 1: holds
    entry(2, "workers", "w2", score=0.5),  # rank 4 > k=3: drifted
    entry(3, "workers", "w3", score=0.9),  # beyond the depth: drifted, rank 0
    entry(4, "workers", "w4", REJECTED),  # not checked
    entry(5, "resumes", "r5"),  # rank 3: holds
    entry(6, "resumes", "r6", score=0.9),  # rank 5: drifted
    entry(7, "gone", "g7"),  # its corpus no longer exists: drifted
]
RANKING = {
    "q1": ["w1", *filler(9)],
    "q2": [*filler(3), "w2"],
    "q3": filler(20) + ["w3"],
    "q5": [*filler(2), "r5"],
    "q6": [*filler(4), "r6"],
}


def core_over(matrix: FakeMatrix, **settings) -> tuple[DriftCore, FakeIngest]:
    ingest = FakeIngest()
    s = DriftSettings(**({"playbook_k": 3, "playbook_depth": 10, "playbook_batch": 2} | settings))
    return DriftCore(None, lambda: matrix, lambda: ingest, s, clock=lambda: T0), ingest  # type: ignore[arg-type]


def test_drift_per_corpus_and_worst_first():
    matrix = FakeMatrix(ENTRIES, RANKING, gone={"gone"})
    core, ingest = core_over(matrix)
    report = core.playbook_drift(PlaybookDriftQuery(include_entries=True))
    assert (report.k, report.entries, report.drifted) == (3, 6, 4)
    assert report.rate == pytest.approx(4 / 6)
    by = {c.corpus: c for c in report.corpora}
    assert [c.corpus for c in report.corpora] == ["gone", "resumes", "workers"]
    assert (by["workers"].entries, by["workers"].drifted, by["workers"].skipped) == (3, 2, 1)
    assert (by["resumes"].entries, by["resumes"].drifted, by["resumes"].rate) == (2, 1, 0.5)
    assert (by["gone"].drifted, by["gone"].error_reason) == (1, CORPUS_NOT_FOUND)
    # Not ranked at all first (the higher recorded score first: e07 has 1), then the lowest rank.
    assert [(e.entry_id, e.rank) for e in report.worst] == [("e07", 0), ("e03", 0), ("e06", 5), ("e02", 4)]
    checked = {e.entry_id: e for e in report.entries_checked}
    assert [e.entry_id for e in report.entries_checked] == ["e07", "e06", "e05", "e03", "e02", "e01"]  # newest first
    assert checked["e01"].rank == 1 and not checked["e01"].drifted and checked["e01"].top_item_id == "w1"
    assert checked["e05"].rank == 3 and not checked["e05"].drifted and checked["e05"].item_score == pytest.approx(0.98)
    assert "e04" not in checked
    assert all(r.k == 10 and r.k_per_corpus == 10 for r, _ in matrix.requests)  # searched to the depth
    # One row per corpus in the report dataset.
    assert report.dataset == "drift_playbook"
    rows = ingest.rows["drift_playbook"]
    assert [(r["corpus"], r["entries"], r["drifted"]) for r in rows] == [
        ("gone", 1, 1),
        ("resumes", 2, 1),
        ("workers", 3, 2),
    ]
    assert {r["run_id"] for r in rows} == {report.run_id}


def test_stable_across_runs():
    core, _ = core_over(FakeMatrix(ENTRIES, RANKING, gone={"gone"}))
    first = core.playbook_drift(PlaybookDriftQuery(include_entries=True))
    second = core.playbook_drift(PlaybookDriftQuery(include_entries=True))
    assert (first.corpora, first.worst, first.entries_checked) == (second.corpora, second.worst, second.entries_checked)


def test_a_larger_k_holds_more():
    core, _ = core_over(FakeMatrix(ENTRIES, RANKING, gone={"gone"}))
    report = core.playbook_drift(PlaybookDriftQuery(k=5))
    assert report.drifted == 2  # e03 (beyond the depth) and e07 (corpus gone)


def test_corpora_filter_and_the_entry_bound():
    matrix = FakeMatrix(ENTRIES, RANKING)
    core, _ = core_over(matrix, playbook_max_entries=3)
    report = core.playbook_drift(PlaybookDriftQuery(corpora=("workers",), include_entries=True))
    assert report.truncated and [e.entry_id for e in report.entries_checked] == ["e03", "e02"]  # e04 rejected
    assert {c.corpus: c.skipped for c in report.corpora} == {"workers": 1}
    assert not core.playbook_drift(PlaybookDriftQuery(corpora=("resumes",))).truncated
    small = core.playbook_drift(PlaybookDriftQuery(max_entries=1, include_entries=True))
    assert [e.entry_id for e in small.entries_checked] == ["e07"] and small.truncated
    # max_entries cannot lift the settings' bound.
    assert core.playbook_drift(PlaybookDriftQuery(max_entries=100)).entries <= 3


def test_progress_after_each_batch():
    core, _ = core_over(FakeMatrix(ENTRIES, RANKING, gone={"gone"}))
    events = list(core.playbook_drift_stream(PlaybookDriftQuery()))
    progress = [e for e in events if isinstance(e, DriftProgress)]
    assert isinstance(events[-1], PlaybookDriftReport)
    assert [p.checked for p in progress] == [1, 3, 5, 6]  # batches of 2: gone 1; resumes 2; workers 2 + 1
    assert progress[-1].drifted == events[-1].drifted


def test_nothing_recorded():
    core, ingest = core_over(FakeMatrix([], {}))
    report = core.playbook_drift(PlaybookDriftQuery())
    assert (report.entries, report.drifted, report.rate, report.corpora, report.dataset) == (0, 0, 0.0, (), "")
    assert ingest.rows == {}


def test_other_failures_fail_the_run():
    class Down(FakeMatrix):
        def search_batch(self, request, queries):
            raise errors.Unavailable("vector host down", reason="CORPUS_HOST_UNREACHABLE")

    core, _ = core_over(Down(ENTRIES, RANKING))
    with pytest.raises(errors.Unavailable):
        core.playbook_drift(PlaybookDriftQuery())


@pytest.mark.parametrize("bad", [{"k": -1}, {"k": 11}, {"max_entries": -5}, {"corpora": "workers"}])
def test_bad_options(bad):
    core, _ = core_over(FakeMatrix(ENTRIES, RANKING))
    with pytest.raises(errors.InvalidArgument) as exc:
        core.playbook_drift(PlaybookDriftQuery(**bad))
    assert exc.value.reason == INVALID_DRIFT_OPTION


def test_proto_round_trip():
    core, _ = core_over(FakeMatrix(ENTRIES, RANKING, gone={"gone"}))
    report = core.playbook_drift(PlaybookDriftQuery(include_entries=True))
    assert playbook_report_from_pb(playbook_report_to_pb(report)) == report
