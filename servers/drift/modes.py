"""Workflow modes of drift: ``drift.playbook``, ``drift.embedding`` and ``drift.audit``.

Each calls the drift core (``ctx.services.drift``) and returns its report as plain JSON
values. A sample of ``drift.embedding`` is ``{"corpus", "generation"}``, ``{"corpus",
"time_field", "start", "end"}`` (ISO 8601 times) or ``{"vectors": [[...], ...]}``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from lakehouse.api import errors
from lakehouse.api.drift import (
    METHODS,
    AuditDriftQuery,
    DriftApi,
    EmbeddingDriftQuery,
    EmbeddingSample,
    GenerationSample,
    PlaybookDriftQuery,
    PlaybookDriftReport,
    VectorSample,
    WindowSample,
)
from lakehouse.api.workflows import _jsonable
from lakehouse.servers.workflows.builtin import BOOL, COUNT, NUM, STR, STRS, TEXT, obj
from lakehouse.servers.workflows.modes import ModeContext, register

DRIFT_NOT_HOSTED = "DRIFT_NOT_HOSTED"
WHOLE = {"type": "integer", "minimum": 0}
SAMPLE = {
    "oneOf": [
        obj({"corpus": TEXT, "generation": WHOLE}, ["corpus"]),
        obj({"corpus": TEXT, "time_field": STR, "start": STR, "end": STR}, ["corpus", "start"]),
        obj({"corpus": TEXT, "time_field": STR, "end": STR}, ["corpus", "end"]),
        obj({"vectors": {"type": "array", "items": {"type": "array", "items": NUM}}}, ["vectors"]),
    ]
}


def _drift(ctx: ModeContext) -> DriftApi:
    if ctx.services.drift is None:
        raise errors.Unavailable("drift is not served by this process", reason=DRIFT_NOT_HOSTED)
    return ctx.services.drift()


@register(
    "drift.playbook",
    obj({"corpora": STRS, "k": COUNT, "max_entries": COUNT, "worst": WHOLE, "include_entries": BOOL}),
)
def drift_playbook(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Playbook entries whose recorded item today's search no longer ranks in the top k:
    ``rate`` overall and per corpus, the ``worst`` entries."""
    query = PlaybookDriftQuery(
        corpora=tuple(a.get("corpora", ())),
        k=a.get("k", 0),
        max_entries=a.get("max_entries", 0),
        worst=a.get("worst", -1),
        include_entries=a.get("include_entries", False),
    )
    for event in _drift(ctx).playbook_drift_stream(query):
        ctx.check_cancelled()
        ctx.progress()
        if isinstance(event, PlaybookDriftReport):
            return _jsonable(asdict(event))
    raise errors.Internal("the playbook drift run ended without a report")


def _sample(value: dict[str, Any], field: str) -> EmbeddingSample:
    if "vectors" in value:
        return VectorSample(value["vectors"])
    if "start" in value or "end" in value:
        return WindowSample(
            value["corpus"], value.get("time_field", ""), _when(value, "start", field), _when(value, "end", field)
        )
    return GenerationSample(value["corpus"], value.get("generation", 0))


def _when(value: dict[str, Any], name: str, field: str) -> datetime | None:
    if name not in value:
        return None
    try:
        when = datetime.fromisoformat(value[name])
    except ValueError as exc:
        raise errors.invalid_field(f"{field}.{name}", f"not an ISO 8601 time: {value[name]!r}") from exc
    if when.tzinfo is None:
        raise errors.invalid_field(f"{field}.{name}", "must carry a time zone")
    return when


@register(
    "drift.embedding",
    obj(
        {
            "baseline": SAMPLE,
            "current": SAMPLE,
            "method": {"enum": list(METHODS)},
            "projections": COUNT,
            "alpha": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "max_sample": COUNT,
            "top_tests": WHOLE,
        },
        ["baseline", "current"],
    ),
)
def drift_embedding(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Two vector samples compared: KS tests per dimension and on projections
    (Benjamini–Hochberg corrected), ``drifted``, and the centroid shift."""
    query = EmbeddingDriftQuery(
        baseline=_sample(a["baseline"], "baseline"),
        current=_sample(a["current"], "current"),
        method=a.get("method", ""),
        projections=a.get("projections", 0),
        alpha=a.get("alpha", 0.0),
        max_sample=a.get("max_sample", 0),
        top_tests=a.get("top_tests", -1),
    )
    return _jsonable(asdict(_drift(ctx).embedding_drift(query)))


@register(
    "drift.audit",
    obj(
        {
            "subject": TEXT,
            "metrics": {"type": "object", "additionalProperties": NUM},
            "record": BOOL,
            "window": COUNT,
            "relative_tolerance": {"type": "number", "minimum": 0},
            "absolute_tolerance": {"type": "number", "minimum": 0},
            "tolerances": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
        },
        ["subject"],
    ),
)
def drift_audit(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Metrics of a subject against its baseline (the median of its last snapshots):
    ``moved`` counts those beyond the tolerances; ``record`` appends the snapshot."""
    query = AuditDriftQuery(
        subject=a["subject"],
        metrics=a.get("metrics", {}),
        record=a.get("record", False),
        window=a.get("window", 0),
        relative_tolerance=a.get("relative_tolerance"),
        absolute_tolerance=a.get("absolute_tolerance"),
        tolerances=a.get("tolerances", {}),
    )
    return _jsonable(asdict(_drift(ctx).audit_drift(query)))
