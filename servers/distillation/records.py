"""Evidence records as the scorer takes them: validated (a malformed one is refused naming
its index and field), given a content id when they have none, and as a canonical dict
(the form that is hashed, stored and exported)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from lakehouse.api.distillation import (
    INVALID_EVIDENCE,
    OUTCOMES,
    TOO_MANY_RECORDS,
    Check,
    Evidence,
)
from lakehouse.api.errors import invalid_field

MAX_ID_CHARS = 256
ID_PREFIX = "rec-"
ID_HEX_CHARS = 32


def canonical(e: Evidence) -> dict[str, Any]:
    """The record's content (no id, no time, no metadata): what its derived id hashes."""
    return {
        "source": e.source,
        "query": e.query,
        "context": list(e.context),
        "answer": e.answer,
        "citations": list(e.citations),
        "outcome": e.outcome,
        "checks": [[c.name, c.passed, c.detail] for c in e.checks],
    }


def content_id(e: Evidence) -> str:
    text = json.dumps(canonical(e), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return ID_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:ID_HEX_CHARS]


def checked(records: Sequence[Evidence], max_batch: int, max_chars: int, field: str = "records") -> list[Evidence]:
    """Each record validated, with its id filled in; the first problem is refused as
    INVALID_EVIDENCE naming ``records[i].<field>``."""
    if len(records) > max_batch:
        raise invalid_field(field, f"at most {max_batch} records in one call", TOO_MANY_RECORDS)
    return [check_one(r, f"{field}[{i}]", max_chars) for i, r in enumerate(records)]


def check_one(e: Evidence, where: str, max_chars: int) -> Evidence:
    def bad(name: str, why: str):
        return invalid_field(f"{where}.{name}", why, INVALID_EVIDENCE)

    if not e.query.strip():
        raise bad("query", "required: the run's query (the prompt)")
    for name, text in (("query", e.query), ("answer", e.answer)):
        if len(text) > max_chars:
            raise bad(name, f"at most {max_chars} characters")
    for i, passage in enumerate(e.context):
        if len(passage) > max_chars:
            raise bad(f"context[{i}]", f"at most {max_chars} characters")
    if e.outcome not in OUTCOMES:
        raise bad("outcome", f"{e.outcome!r} is not one of success, failure, rejected or empty (not known)")
    for i, c in enumerate(e.checks):
        if not c.name.strip():
            raise bad(f"checks[{i}].name", "required: what was checked")
    for i, c in enumerate(e.citations):
        if not c.strip():
            raise bad(f"citations[{i}]", "an empty citation")
    if len(e.id) > MAX_ID_CHARS or any(ch < " " for ch in e.id):
        raise bad("id", f"at most {MAX_ID_CHARS} printable characters")
    return e if e.id else replace(e, id=content_id(e))


def checks_json(checks: Sequence[Check]) -> list[dict[str, Any]]:
    return [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in checks]


def checks_from_json(value: Any) -> tuple[Check, ...]:
    items = json.loads(value) if isinstance(value, str) and value else (value or [])
    return tuple(Check(str(c.get("name", "")), bool(c.get("passed")), str(c.get("detail", ""))) for c in items)


def texts_from_json(value: Any) -> tuple[str, ...]:
    items = json.loads(value) if isinstance(value, str) and value else (value or [])
    return tuple(str(v) for v in items)


def utc(value: datetime | None, default: datetime) -> datetime:
    if value is None:
        return default
    return value if value.tzinfo else value.replace(tzinfo=UTC)
