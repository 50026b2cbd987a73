"""The pathway memory's workflow modes: ``pathway.record`` (a finished run's path, or
given steps) and ``pathway.nearest`` (the pathways of the most similar past tasks)."""

from __future__ import annotations

from typing import Any

from lakehouse.api import errors
from lakehouse.api.pathway import NearestResult, Pathway, PathwayStep, RecordRequest
from lakehouse.servers.workflows.builtin import COUNT, NUM, STR, TEXT, obj
from lakehouse.servers.workflows.modes import ModeContext, register

PATHWAY_NOT_WIRED = "PATHWAY_NOT_WIRED"
STEP = obj(
    {
        "id": TEXT,
        "mode": TEXT,
        "args": {"type": "object"},
        "depends_on": {"type": "array", "items": TEXT},
        "prompt": STR,
        "when": STR,
    },
    ["id", "mode"],
)


def _api(ctx: ModeContext) -> Any:
    if ctx.services.pathway is None:
        raise errors.FailedPrecondition("no pathway memory is wired to this workflow runner", reason=PATHWAY_NOT_WIRED)
    return ctx.services.pathway()


def _summary(p: Pathway) -> dict[str, Any]:
    return {
        "id": p.id,
        "task": p.task,
        "workflow": p.workflow,
        "modes": list(p.modes),
        "steps": len(p.steps),
        "source_run_id": p.source_run_id,
    }


@register(
    "pathway.record",
    obj(
        {
            "task": STR,
            "run_id": STR,
            "yaml": STR,
            "steps": {"type": "array", "items": STEP},
            "inputs": {"type": "object"},
            "workflow": STR,
        }
    ),
)
def pathway_record(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Records a pathway: a finished succeeded run (``run_id``) or ``steps`` with a ``task``."""
    steps = tuple(
        PathwayStep(
            id=s["id"],
            mode=s["mode"],
            args=s.get("args", {}),
            depends_on=tuple(s.get("depends_on", ())),
            prompt=s.get("prompt", ""),
            when=s.get("when", ""),
        )
        for s in a.get("steps", ())
    )
    request = RecordRequest(
        task=a.get("task", ""),
        steps=steps,
        inputs=a.get("inputs", {}),
        workflow=a.get("workflow", ""),
        run_id=a.get("run_id", ""),
        yaml=a.get("yaml", ""),
    )
    return _summary(_api(ctx).record(request))


@register(
    "pathway.nearest",
    obj({"task": TEXT, "k": COUNT, "min_score": {**NUM, "minimum": -1, "maximum": 1}}, ["task"]),
)
def pathway_nearest(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """The recorded pathways nearest a task, best first (``best`` the first, or null)."""
    result: NearestResult = _api(ctx).nearest(a["task"], a.get("k", 0), a.get("min_score"))
    matches = [{**_summary(m.pathway), "score": m.score, "rank": m.rank} for m in result.matches]
    return {
        "matches": matches,
        "count": len(matches),
        "best": matches[0] if matches else None,
        "searched": result.searched,
    }
