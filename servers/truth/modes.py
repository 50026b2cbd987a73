"""The ``truth.check`` workflow mode: a rule set checked on records from earlier nodes
(e.g. the candidates of a search, before one is recorded as a placement) or on a dataset.

Records may keep their fields under a path (``fields: metadata`` for search hits); each
record is checked on its own, so ``results`` lines up with the input and ``passed`` holds
the records that break no rule, in their order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakehouse.api.truth import CheckRequest, CheckResult, RuleCount, TruthApi
from lakehouse.servers.truth.evaluate import lookup
from lakehouse.servers.workflows.builtin import COUNT, STR, obj
from lakehouse.servers.workflows.modes import ModeContext, register

RECORD = {"type": ["object", "null"]}


def _truth(ctx: ModeContext) -> TruthApi:
    if ctx.services.truth is not None:
        return ctx.services.truth()
    from lakehouse.servers.truth.core import TruthCore

    return TruthCore(ctx.settings, ctx.services.query)


def _violations(result: CheckResult) -> list[dict[str, Any]]:
    return [
        {"rule_id": v.rule_id, "severity": v.severity, "description": v.description, "key": v.key}
        for v in result.violations
    ]


def _counts(counts: list[RuleCount]) -> list[dict[str, Any]]:
    return [
        {"rule_id": c.rule_id, "severity": c.severity, "applicable": c.applicable, "violations": c.violations}
        for c in counts
    ]


@register(
    "truth.check",
    obj(
        {
            "rules": STR,
            "rule_set": STR,
            "record": RECORD,
            "records": {"type": "array", "items": {"type": "object"}},
            "dataset": STR,
            "fields": STR,
            "key": STR,
            "limit": COUNT,
        }
    ),
)
def truth_check(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Rules (``rules`` TOML text or a ``rule_set`` name) checked on ``record``, ``records``
    (their fields at the path ``fields``, when given) or a ``dataset``: the violations, a
    count per rule, the ids of the rules broken (``rule_ids``) and, for records, a result
    per record and the ones that passed (``passed``). A null ``record`` checks nothing."""
    truth = _truth(ctx)
    source = {"rules": a.get("rules", ""), "rule_set": a.get("rule_set", ""), "key": a.get("key", "")}
    if a.get("dataset"):
        result = truth.check(CheckRequest(**source, dataset=a["dataset"], limit=a.get("limit", 0)))
        return {
            "rule_set": result.rule_set,
            "records": result.records,
            "violations": _violations(result),
            "counts": _counts(list(result.counts)),
            "violation_count": result.violation_count,
            "truncated": result.truncated,
            "rule_ids": [c.rule_id for c in result.counts if c.violations],
            "ok": result.ok,
            "report_dataset": result.report_dataset,
            "report_version": result.report_version,
        }
    items = a.get("records", [])
    if "record" in a:
        items = [] if a["record"] is None else [a["record"]]
    path = a["fields"].split(".") if a.get("fields") else None
    results, passed, violations = [], [], []
    totals: dict[str, RuleCount] = {}
    name = ""
    for item in items:
        ctx.check_cancelled()
        fields = lookup(item, path) if path else item
        record = dict(fields) if isinstance(fields, Mapping) else {}
        result = truth.check(CheckRequest(**source, record=record))
        name = result.rule_set
        for c in result.counts:
            seen = totals.get(c.rule_id)
            totals[c.rule_id] = RuleCount(
                c.rule_id,
                c.severity,
                c.applicable + (seen.applicable if seen else 0),
                c.violations + (seen.violations if seen else 0),
            )
        broken = [v.rule_id for v in result.violations]
        results.append({"ok": result.ok, "rule_ids": broken})
        violations.extend(_violations(result))
        if result.ok:
            passed.append(item)
    broken_ids = [rule_id for rule_id, c in totals.items() if c.violations]
    return {
        "rule_set": name,
        "records": len(items),
        "violations": violations,
        "counts": _counts(list(totals.values())),
        "violation_count": len(violations),
        "rule_ids": broken_ids,
        "ok": not violations,
        "results": results,
        "passed": passed,
        "passed_count": len(passed),
        "flagged_count": len(items) - len(passed),
    }
