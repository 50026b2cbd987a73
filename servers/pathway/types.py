"""The pathway and its value types as JSON objects of the state file (docs/pathway.md,
"State file"): every field always present, so the same pathway is always the same object
and, with sorted keys, the same bytes. Reading is strict: a field of the wrong type is a
``StateError`` naming it, never a silently defaulted value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lakehouse.api.pathway import BugFingerprint, Pathway, PathwayStep, SemanticFlag, TypeHint

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class StateError(ValueError):
    """The state file does not hold what docs/pathway.md says it holds."""


def time_text(t: datetime) -> str:
    return t.astimezone(UTC).strftime(TIME_FORMAT)


def step_json(s: PathwayStep) -> dict[str, Any]:
    return {
        "id": s.id,
        "mode": s.mode,
        "args": dict(s.args),
        "depends_on": list(s.depends_on),
        "prompt": s.prompt,
        "when": s.when,
    }


def flag_json(f: SemanticFlag) -> dict[str, Any]:
    return {"step": f.step, "kind": f.kind, "detail": f.detail}


def fingerprint_json(b: BugFingerprint) -> dict[str, Any]:
    return {"mode": b.mode, "code": b.code, "reason": b.reason, "fingerprint": b.fingerprint, "count": b.count}


def hint_json(h: TypeHint) -> dict[str, Any]:
    return {"step": h.step, "field": h.field, "type": h.type}


def pathway_json(p: Pathway) -> dict[str, Any]:
    return {
        "id": p.id,
        "task": p.task,
        "vector": p.vector.hex(),
        "recorded_at": time_text(p.recorded_at),
        "workflow": p.workflow,
        "source_run_id": p.source_run_id,
        "inputs": dict(p.inputs),
        "steps": [step_json(s) for s in p.steps],
        "flags": [flag_json(f) for f in p.flags],
        "type_hints": [hint_json(h) for h in p.type_hints],
        "fingerprints": [fingerprint_json(b) for b in p.fingerprints],
        "replays": p.replays,
        "replay_failures": p.replay_failures,
    }


# Reading -------------------------------------------------------------------------


def _get(obj: Any, key: str, kind: type, where: str) -> Any:
    try:
        value = obj[key]
    except KeyError:
        raise StateError(f"{where}.{key}: missing") from None
    except (TypeError, IndexError):
        raise StateError(f"{where}: expected an object") from None
    if type(value) is not kind and not (isinstance(value, kind) and kind is not int):
        raise StateError(f"{where}.{key}: expected {kind.__name__}")
    return value


def _strs(obj: Any, key: str, where: str) -> tuple[str, ...]:
    values = _get(obj, key, list, where)
    if not all(isinstance(v, str) for v in values):
        raise StateError(f"{where}.{key}: expected a list of strings")
    return tuple(values)


def step_from_json(obj: Any, where: str) -> PathwayStep:
    return PathwayStep(
        id=_get(obj, "id", str, where),
        mode=_get(obj, "mode", str, where),
        args=_get(obj, "args", dict, where),
        depends_on=_strs(obj, "depends_on", where),
        prompt=_get(obj, "prompt", str, where),
        when=_get(obj, "when", str, where),
    )


def flag_from_json(obj: Any, where: str) -> SemanticFlag:
    return SemanticFlag(_get(obj, "step", str, where), _get(obj, "kind", str, where), _get(obj, "detail", str, where))


def fingerprint_from_json(obj: Any, where: str) -> BugFingerprint:
    code, reason = _get(obj, "code", str, where), _get(obj, "reason", str, where)
    b = BugFingerprint(_get(obj, "mode", str, where), code, reason, _get(obj, "count", int, where))
    if _get(obj, "fingerprint", str, where) != b.fingerprint:
        raise StateError(f"{where}.fingerprint: does not match its mode, code and reason")
    return b


def hint_from_json(obj: Any, where: str) -> TypeHint:
    return TypeHint(_get(obj, "step", str, where), _get(obj, "field", str, where), _get(obj, "type", str, where))


def pathway_from_json(obj: Any, where: str) -> Pathway:
    try:
        vector = bytes.fromhex(_get(obj, "vector", str, where))
        recorded_at = datetime.strptime(_get(obj, "recorded_at", str, where), TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        if isinstance(exc, StateError):
            raise
        raise StateError(f"{where}: {exc}") from None

    def each(key: str, read) -> tuple:
        return tuple(read(v, f"{where}.{key}[{i}]") for i, v in enumerate(_get(obj, key, list, where)))

    return Pathway(
        id=_get(obj, "id", str, where),
        task=_get(obj, "task", str, where),
        steps=each("steps", step_from_json),
        vector=vector,
        recorded_at=recorded_at,
        inputs=_get(obj, "inputs", dict, where),
        workflow=_get(obj, "workflow", str, where),
        source_run_id=_get(obj, "source_run_id", str, where),
        flags=each("flags", flag_from_json),
        type_hints=each("type_hints", hint_from_json),
        fingerprints=each("fingerprints", fingerprint_from_json),
        replays=_get(obj, "replays", int, where),
        replay_failures=_get(obj, "replay_failures", int, where),
    )
