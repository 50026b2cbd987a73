"""The ``validator.check`` workflow mode: a check suite over a dataset version, so a
workflow can gate later nodes on data quality (``when: $check.output.passed``)."""

from __future__ import annotations

from typing import Any

from lakehouse.api.errors import Unavailable
from lakehouse.api.validation import ValidateRequest, ValidationApi
from lakehouse.servers.workflows.builtin import COUNT, STR, TEXT, obj
from lakehouse.servers.workflows.modes import ModeContext, register

VALIDATION_NOT_WIRED = "VALIDATION_NOT_WIRED"


def _validation(ctx: ModeContext) -> ValidationApi:
    if ctx.services.validation is None:
        raise Unavailable("this workflow runner has no validation service", reason=VALIDATION_NOT_WIRED)
    return ctx.services.validation()


@register(
    "validator.check",
    obj(
        {
            "dataset": TEXT,
            "version": {"type": "integer", "minimum": 0},
            "suite": STR,
            "suite_text": STR,
            "suite_spec": {"type": "object"},
            "sample_rows": COUNT,
        },
        ["dataset"],
    ),
)
def validator_check(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Data-quality checks (a stored ``suite`` by name, ``suite_text`` YAML/JSON or a
    ``suite_spec`` object) over ``dataset`` (its current version, or ``version``):
    ``passed`` (no blocking check failed), the failed check names, and every result."""
    report = _validation(ctx).validate(
        ValidateRequest(
            dataset=a["dataset"],
            version=a.get("version", 0),
            suite=a.get("suite", ""),
            suite_text=a.get("suite_text", ""),
            suite_spec=a.get("suite_spec"),
            sample_rows=a.get("sample_rows", 0),
        )
    )
    ctx.progress()
    return {
        "validation_id": report.validation_id,
        "dataset": report.dataset,
        "version": report.version,
        "passed": report.passed,
        "rows": report.rows,
        "failed": [c.name for c in report.failed],
        "warnings": [c.name for c in report.warnings],
        "checks": [
            {
                "name": c.name,
                "type": c.type,
                "blocking": c.blocking,
                "passed": c.passed,
                "failing_count": c.failing_count,
                "observed": c.observed,
                "message": c.message,
                "sample": list(c.sample),
            }
            for c in report.checks
        ],
    }
