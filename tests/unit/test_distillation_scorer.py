"""The distillation scorer: each category's rule, the score's signals, versions stamped and
selectable, and malformed records refused by index and field."""

from __future__ import annotations

import pytest

from lakehouse.api.distillation import (
    GOLD,
    INVALID_EVIDENCE,
    NEEDS_REVIEW,
    REJECT,
    SILVER,
    TOO_MANY_RECORDS,
    UNKNOWN_SCORER_VERSION,
    Check,
    Evidence,
)
from lakehouse.api.errors import InvalidArgument
from lakehouse.servers.distillation.records import checked, content_id
from lakehouse.servers.distillation.scorer import Scorer, Scorers
from lakehouse.servers.settings import DistillationSettings, ScorerRules

ANSWER = "Maria Lopez is a forklift operator with OSHA-30 in Joliet [1]."
GROUNDED = Evidence(
    id="r1",
    query="Forklift operator with OSHA-30 in IL",
    context=("Maria Lopez, forklift operator, OSHA-30, Joliet IL",),
    answer=ANSWER,
    citations=("resumes/maria#0",),
    checks=(Check("grounded", True), Check("retrieved", True)),
)


def scorers() -> Scorers:
    s = DistillationSettings()
    return Scorers(s.rule_sets, s.scorer_version)


def test_a_grounded_cited_success_is_gold():
    score = scorers().get().score(Evidence(**{**GROUNDED.__dict__, "outcome": "success"}))
    assert score.category == GOLD and score.score == 1.0
    assert score.reasons[-1].startswith("gold:")


def test_unknown_outcome_is_gold_under_v1_and_silver_under_v2():
    v1, v2 = scorers().get("v1").score(GROUNDED), scorers().get("v2").score(GROUNDED)
    assert (v1.category, v1.score) == (GOLD, 0.9)
    assert (v2.category, v2.score) == (SILVER, 0.7)  # unknown outcome 0.5, one citation of two wanted
    assert (v1.scorer_version, v2.scorer_version) == ("v1", "v2")


@pytest.mark.parametrize(
    ("change", "category", "why"),
    [
        ({"outcome": "rejected"}, REJECT, "reject: the outcome is rejected"),
        ({"outcome": "failure"}, REJECT, "reject: the outcome is failure"),
        ({"answer": "   "}, REJECT, "reject: no answer"),
        # a failed check keeps it out of gold even at a high score
        ({"checks": (Check("grounded", False), Check("retrieved", True)), "outcome": "success"}, SILVER, "silver:"),
        ({"citations": (), "context": (), "checks": (Check("grounded", False),)}, NEEDS_REVIEW, "needs_review:"),
    ],
)
def test_each_rule(change, category, why):
    score = scorers().get().score(Evidence(**{**GROUNDED.__dict__, **change}))
    assert score.category == category, score.reasons
    assert score.reasons[-1].startswith(why)


def test_a_score_under_review_min_is_a_reject():
    bare = Evidence(query="q", answer="ok", checks=(Check("x", False),))
    score = Scorer("t", ScorerRules(unknown_outcome=0.5)).score(bare)
    assert score.score == 0.21 and score.category == REJECT
    assert score.reasons[-1] == "reject: score < review_min 0.3"


def test_the_score_is_the_weighted_mean_of_the_signals():
    rules = ScorerRules(weight_outcome=1, weight_checks=0, weight_citations=0, weight_context=0, weight_answer=1)
    score = Scorer("t", rules).score(Evidence(query="q", answer="x" * 10, outcome="success"))
    assert score.score == 0.75  # (1 x 1 + 1 x 10/20) / 2
    assert score.reasons[0] == "outcome success: 1.00" and "answer 10 chars" in score.reasons[4]


def test_every_score_is_stamped_with_the_version_that_gave_it():
    rule_sets = {"a": ScorerRules(), "b": ScorerRules(gold_min=1.0)}
    s = Scorers(rule_sets, "b")
    assert s.get().version == "b" and s.get().score(GROUNDED).scorer_version == "b"
    assert s.get("a").score(GROUNDED).scorer_version == "a"
    assert s.get().score(GROUNDED).category == SILVER and s.get("a").score(GROUNDED).category == GOLD


def test_an_unknown_version_is_refused():
    with pytest.raises(InvalidArgument) as err:
        scorers().get("v9")
    assert err.value.reason == UNKNOWN_SCORER_VERSION and "v1, v2" in err.value.message


def test_settings_refuse_a_current_version_with_no_rules():
    with pytest.raises(ValueError, match="not a key of rule_sets"):
        DistillationSettings(scorer_version="v9")


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (Evidence(query=" "), "records[1].query"),
        (Evidence(query="q", outcome="great"), "records[1].outcome"),
        (Evidence(query="q", checks=(Check("", True),)), "records[1].checks[0].name"),
        (Evidence(query="q", citations=("a", "")), "records[1].citations[1]"),
        (Evidence(query="q", answer="x" * 101), "records[1].answer"),
        (Evidence(query="q", context=("ok", "x" * 101)), "records[1].context[1]"),
        (Evidence(query="q", id="a\nb"), "records[1].id"),
    ],
)
def test_a_malformed_record_is_named_by_index_and_field(record, field):
    with pytest.raises(InvalidArgument) as err:
        checked([GROUNDED, record], max_batch=10, max_chars=100)
    assert err.value.reason == INVALID_EVIDENCE
    assert [v.field for v in err.value.violations] == [field]


def test_too_many_records_are_refused():
    with pytest.raises(InvalidArgument) as err:
        checked([GROUNDED] * 3, max_batch=2, max_chars=100)
    assert err.value.reason == TOO_MANY_RECORDS


def test_a_record_without_an_id_gets_its_content_id():
    bare = Evidence(query="q", answer="a")
    (got,) = checked([bare], max_batch=1, max_chars=100)
    assert got.id == content_id(bare) and got.id.startswith("rec-")
    assert content_id(Evidence(query="q", answer="a", metadata={"x": "y"})) == got.id  # metadata is not content
    assert content_id(Evidence(query="q", answer="b")) != got.id
