"""Workflow modes of distillation: ``distillation.score`` (score evidence records) and
``drift.scorer`` (re-score history with today's rules). Both call the distillation API
through ``ctx.services.distillation``; records are the JSON shape of EvidenceRecord."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from lakehouse.api import errors
from lakehouse.api.distillation import (
    CATEGORIES,
    Check,
    DistillationApi,
    DriftRequest,
    Evidence,
    ScoredPair,
)
from lakehouse.servers.distillation.core import category_counts
from lakehouse.servers.workflows.modes import ModeContext, register

STR = {"type": "string"}
STRS = {"type": "array", "items": STR}
CHECK = {
    "type": "object",
    "properties": {"name": {"type": "string", "minLength": 1}, "passed": {"type": "boolean"}, "detail": STR},
    "required": ["name", "passed"],
    "additionalProperties": False,
}
RECORD = {
    "type": "object",
    "properties": {
        "id": STR,
        "source": STR,
        "query": {"type": "string", "minLength": 1},
        "context": STRS,
        "answer": STR,
        "citations": STRS,
        "outcome": {"enum": ["success", "failure", "rejected", ""]},
        "checks": {"type": "array", "items": CHECK},
        "time": {"type": "string", "format": "date-time"},
        "metadata": {"type": "object", "additionalProperties": STR},
    },
    "required": ["query"],
    "additionalProperties": False,
}
PAIR = {
    "type": "object",
    "properties": {"record": RECORD, "category": {"enum": list(CATEGORIES)}, "scorer_version": STR},
    "required": ["record", "category"],
    "additionalProperties": False,
}


def _api(ctx: ModeContext) -> DistillationApi:
    factory = ctx.services.distillation
    if factory is None:
        raise errors.FailedPrecondition("distillation is not available to this workflow runner")
    return factory()


def evidence_of(d: Mapping[str, Any]) -> Evidence:
    when = d.get("time")
    return Evidence(
        query=d["query"],
        id=d.get("id", ""),
        source=d.get("source", ""),
        context=tuple(d.get("context", ())),
        answer=d.get("answer", ""),
        citations=tuple(d.get("citations", ())),
        outcome=d.get("outcome", ""),
        checks=tuple(Check(c["name"], c["passed"], c.get("detail", "")) for c in d.get("checks", ())),
        time=datetime.fromisoformat(when) if when else None,
        metadata=dict(d.get("metadata", {})),
    )


@register(
    "distillation.score",
    {
        "type": "object",
        "properties": {"records": {"type": "array", "items": RECORD}, "scorer_version": STR},
        "required": ["records"],
        "additionalProperties": False,
    },
    "Scores evidence records: each gets a category (gold, silver, needs_review, reject), a score and reasons.",
)
def distillation_score(ctx: ModeContext, args: dict[str, Any]) -> dict[str, Any]:
    batch = _api(ctx).score([evidence_of(r) for r in args["records"]], args.get("scorer_version", ""))
    return {
        "scorer_version": batch.scorer_version,
        "scores": [{**asdict(s), "reasons": list(s.reasons)} for s in batch.scores],
        "categories": {c.category: c.count for c in category_counts(s.category for s in batch.scores)},
    }


@register(
    "drift.scorer",
    {
        "type": "object",
        "properties": {
            "pairs": {"type": "array", "items": PAIR},
            "scorer_version": STR,
            "include_entries": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
    "Re-scores historical (record, category) pairs (default: the scored dataset) and reports the shifts.",
)
def drift_scorer(ctx: ModeContext, args: dict[str, Any]) -> dict[str, Any]:
    pairs = tuple(
        ScoredPair(evidence_of(p["record"]), p["category"], p.get("scorer_version", "")) for p in args.get("pairs", ())
    )
    report = _api(ctx).drift(
        DriftRequest(pairs, args.get("scorer_version", ""), bool(args.get("include_entries", False)))
    )
    return {
        "report_id": report.report_id,
        "scorer_version": report.scorer_version,
        "total": report.total,
        "drifted": report.drifted,
        "drift_rate": report.drift_rate,
        "shifts": [asdict(s) for s in report.shifts],
        "entries": [{**asdict(e), "reasons": list(e.reasons)} for e in report.entries],
        "persisted_versions": list(report.persisted_versions),
        "truncated": report.truncated,
    }
