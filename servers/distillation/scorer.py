"""The distillation scorer: an evidence record in, a category, a score and the reasons out.

The rules (one ``ScorerRules`` per version in ``distillation.rule_sets``; the version in
``distillation.scorer_version`` scores and is stamped on every score):

Signals, each in [0, 1]:

* outcome: success 1; not known ``unknown_outcome``; failure or rejected 0;
* checks: the share of the record's checks that passed (no checks: ``no_checks``);
* citations: min(1, citations / ``min_citations``) (``min_citations`` 0: 1);
* context: 1 when any context was retrieved, else 0;
* answer: min(1, answer characters / ``min_answer_chars``).

score = sum(weight x signal) / sum(weights), rounded to 6 places. The category is the
first rule that matches:

1. **reject**: the outcome is failure or rejected; or the answer is empty; or
   score < ``review_min``;
2. **gold**: score >= ``gold_min``, every check passed, and at least
   ``gold_min_citations`` citations;
3. **silver**: score >= ``silver_min``;
4. **needs_review**: anything else.

Changing any of these is a new version (a new key of ``rule_sets``), never an edit of a
shipped one, so a persisted category always names the rules that gave it; ScorerDrift
re-scores history with the new version to show what moved.
"""

from __future__ import annotations

from collections.abc import Mapping

from lakehouse.api.distillation import (
    FAILURE,
    GOLD,
    NEEDS_REVIEW,
    REJECT,
    REJECTED,
    SILVER,
    SUCCESS,
    UNKNOWN_SCORER_VERSION,
    Evidence,
    Score,
)
from lakehouse.api.errors import invalid_field
from lakehouse.servers.settings import ScorerRules

PLACES = 6
REJECT_OUTCOMES = (FAILURE, REJECTED)


class Scorer:
    """One version's rules. ``score`` is pure: the same record gives the same score."""

    def __init__(self, version: str, rules: ScorerRules) -> None:
        self.version = version
        self.rules = rules
        r = rules
        self._weights = (r.weight_outcome, r.weight_checks, r.weight_citations, r.weight_context, r.weight_answer)
        self._total = sum(self._weights)

    def score(self, e: Evidence) -> Score:
        r = self.rules
        if e.outcome == SUCCESS:
            outcome = 1.0
        elif e.outcome in REJECT_OUTCOMES:
            outcome = 0.0
        else:
            outcome = r.unknown_outcome
        passed = sum(1 for c in e.checks if c.passed)
        checks = passed / len(e.checks) if e.checks else r.no_checks
        n_cited = len(e.citations)
        citations = min(1.0, n_cited / r.min_citations) if r.min_citations else 1.0
        context = 1.0 if any(p.strip() for p in e.context) else 0.0
        answer_chars = len(e.answer.strip())
        answer = min(1.0, answer_chars / r.min_answer_chars)
        signals = (outcome, checks, citations, context, answer)
        value = round(sum(w * s for w, s in zip(self._weights, signals, strict=True)) / self._total, PLACES)
        reasons = [
            f"outcome {e.outcome or 'not known'}: {outcome:.2f}",
            f"checks {passed}/{len(e.checks)} passed: {checks:.2f}",
            f"citations {n_cited} (of {r.min_citations} wanted): {citations:.2f}",
            f"context {len(e.context)} passages: {context:.2f}",
            f"answer {answer_chars} chars (of {r.min_answer_chars} wanted): {answer:.2f}",
            f"score {value:.{PLACES}f}",
        ]
        category, why = self._category(e, value, passed, n_cited, answer_chars)
        reasons.append(why)
        return Score(e.id, category, value, tuple(reasons), self.version)

    def _category(self, e: Evidence, value: float, passed: int, n_cited: int, answer_chars: int) -> tuple[str, str]:
        r = self.rules
        if e.outcome in REJECT_OUTCOMES:
            return REJECT, f"{REJECT}: the outcome is {e.outcome}"
        if answer_chars == 0:
            return REJECT, f"{REJECT}: no answer"
        if value < r.review_min:
            return REJECT, f"{REJECT}: score < review_min {r.review_min}"
        if value >= r.gold_min and passed == len(e.checks) and n_cited >= r.gold_min_citations:
            return (
                GOLD,
                f"{GOLD}: score >= gold_min {r.gold_min}, every check passed, >= {r.gold_min_citations} citations",
            )
        if value >= r.silver_min:
            return SILVER, f"{SILVER}: score >= silver_min {r.silver_min}"
        return NEEDS_REVIEW, f"{NEEDS_REVIEW}: review_min {r.review_min} <= score < silver_min {r.silver_min}"


class Scorers:
    """Every configured version, built once; ``get("")`` is the current one."""

    def __init__(self, rule_sets: Mapping[str, ScorerRules], current: str) -> None:
        self.current = current
        self._scorers = {version: Scorer(version, rules) for version, rules in rule_sets.items()}

    def get(self, version: str = "", field: str = "scorer_version") -> Scorer:
        scorer = self._scorers.get(version or self.current)
        if scorer is None:
            known = ", ".join(sorted(self._scorers))
            raise invalid_field(field, f"unknown scorer version {version!r}; known: {known}", UNKNOWN_SCORER_VERSION)
        return scorer

    def versions(self) -> list[str]:
        return sorted(self._scorers)
