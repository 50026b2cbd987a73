"""Scorer drift (G3.5.A-B): re-scoring history with today's rules; the six cases of the
issue (no drift, a shift, several shifts sorted, the entries flag, empty input, version
stamping) and the gate: bumping the version with changed rules drifts a fixture of
historical scored runs."""

from __future__ import annotations

import json
from dataclasses import asdict

from lakehouse.api.distillation import GOLD, NEEDS_REVIEW, REJECT, SILVER, Check, Evidence, ScoredPair
from lakehouse.servers.distillation.drift import scorer_drift
from lakehouse.servers.distillation.scorer import Scorer, Scorers
from lakehouse.servers.settings import DistillationSettings, ScorerRules

S = DistillationSettings()
V1 = Scorers(S.rule_sets, "v1").get()
V2 = Scorers(S.rule_sets, "v2").get()


def rec(i: int, **kw) -> Evidence:
    base = dict(
        id=f"r{i:03d}",
        query=f"question {i}",
        context=("a passage",),
        answer="an answer long enough to count [1]",
        citations=("c/1",),
        checks=(Check("grounded", True),),
    )
    return Evidence(**{**base, **kw})


# Historical scored runs: what v1 said about each (the fixture of the G3.5.A gate).
HISTORY = [
    rec(1),  # unknown outcome, one citation: v1 gold, v2 silver
    rec(2),
    rec(3, outcome="success", citations=("c/1", "c/2")),  # gold under both
    rec(4, outcome="rejected"),  # reject under both
    rec(5, citations=(), context=()),  # v1 silver (0.6), v2 needs_review (0.5)
]


def history(scorer: Scorer = V1) -> list[ScoredPair]:
    return [ScoredPair(e, scorer.score(e).category, scorer.version) for e in HISTORY]


def report(pairs, scorer, **kw):
    return scorer_drift(pairs, scorer, report_id="rep", **kw)


def test_no_drift_when_the_rules_are_the_same():
    r = report(history(), V1)
    assert (r.total, r.drifted, r.drift_rate, r.shifts, r.entries) == (5, 0, 0.0, (), ())
    assert r.persisted_versions == ("v1",)


def test_the_gate_bumping_the_version_with_changed_rules_drifts():
    r = report(history(), V2)
    assert r.scorer_version == "v2" and r.total == 5 and r.drifted > 0
    assert [(s.from_category, s.to_category) for s in r.shifts][0] == (GOLD, SILVER)


def test_a_detected_shift():
    pairs = [ScoredPair(rec(1), GOLD, "v1")]
    stricter = Scorer("v3", ScorerRules(gold_min=0.95))
    r = report(pairs, stricter)
    assert (r.total, r.drifted, r.drift_rate) == (1, 1, 1.0)
    assert [asdict(s) for s in r.shifts] == [{"from_category": GOLD, "to_category": SILVER, "count": 1}]


def test_several_shifts_sorted_by_count_then_alphabetically():
    good = rec(1)  # v1: gold
    pairs = [
        ScoredPair(good, REJECT),
        ScoredPair(good, SILVER),
        ScoredPair(good, SILVER),
        ScoredPair(good, NEEDS_REVIEW),
        ScoredPair(good, NEEDS_REVIEW),
        ScoredPair(rec(4, outcome="rejected"), GOLD),
        ScoredPair(good, GOLD),  # no change
    ]
    r = report(pairs, V1)
    assert [(s.from_category, s.to_category, s.count) for s in r.shifts] == [
        (NEEDS_REVIEW, GOLD, 2),
        (SILVER, GOLD, 2),
        (GOLD, REJECT, 1),
        (REJECT, GOLD, 1),
    ]
    assert (r.total, r.drifted) == (7, 6)
    # Stable JSON: the same history gives the same bytes.
    dump = lambda x: json.dumps([asdict(s) for s in x.shifts])  # noqa: E731
    assert dump(r) == dump(report(list(reversed(pairs)), V1))


def test_entries_only_on_request_ordered_by_record_id():
    pairs = [
        ScoredPair(rec(9), GOLD, "v1"),
        ScoredPair(rec(2), GOLD, "v1"),
        ScoredPair(rec(3, outcome="success", citations=("a", "b")), GOLD),
    ]
    without = report(pairs, V2)
    assert without.drifted == 2 and without.entries == ()
    with_ = report(pairs, V2, include_entries=True, max_entries=10)
    assert [e.record_id for e in with_.entries] == ["r002", "r009"]
    e = with_.entries[0]
    assert (e.from_category, e.to_category, e.persisted_version) == (GOLD, SILVER, "v1")
    assert e.score == 0.7 and e.reasons[-1].startswith("silver:")
    assert len(report(pairs, V2, include_entries=True, max_entries=1).entries) == 1


def test_empty_input_is_an_empty_report():
    r = report([], V2, include_entries=True, max_entries=10)
    assert (r.total, r.drifted, r.drift_rate, r.shifts, r.entries, r.persisted_versions) == (0, 0, 0.0, (), (), ())
    assert r.scorer_version == "v2"


def test_version_stamping_the_report_names_both_sides():
    pairs = history(V1) + [ScoredPair(rec(7), GOLD, "v0")]
    r = report(pairs, V2, include_entries=True, max_entries=10)
    assert r.scorer_version == "v2" and r.persisted_versions == ("v0", "v1")
    assert {e.persisted_version for e in r.entries} == {"v0", "v1"}
