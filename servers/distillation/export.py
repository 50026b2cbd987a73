"""SFT export: scored records as chat-format JSONL, byte for byte the same for the same
records.

One line per record, ordered by record id::

    {"messages": [{"role": "system", ...}?, {"role": "user", "content": <prompt>},
                  {"role": "assistant", "content": <answer>}],
     "metadata": {"record_id", "source", "category", "score", "scorer_version", "citations"}}

The prompt is the query, preceded by the retrieved context as numbered passages
(``[1] ...``, the numbers an answer's citations use) when
``distillation.export_include_context``. Keys are sorted, separators fixed, text kept as
UTF-8 (no ASCII escapes) and every line ends in ``\\n``: nothing depends on dict order,
the platform or the time of the export.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from lakehouse.api.distillation import Evidence, Score


def prompt_of(e: Evidence, include_context: bool) -> str:
    if not include_context or not e.context:
        return e.query
    passages = "\n".join(f"[{n}] {text}" for n, text in enumerate(e.context, start=1))
    return f"Context:\n{passages}\n\nQuestion: {e.query}"


def line_of(e: Evidence, s: Score, system_prompt: str, include_context: bool) -> dict[str, Any]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += [
        {"role": "user", "content": prompt_of(e, include_context)},
        {"role": "assistant", "content": e.answer},
    ]
    metadata = {
        "record_id": e.id,
        "source": e.source,
        "category": s.category,
        "score": s.score,
        "scorer_version": s.scorer_version,
        "citations": list(e.citations),
    }
    return {"messages": messages, "metadata": metadata}


def jsonl(records: Iterable[tuple[Evidence, Score]], system_prompt: str, include_context: bool) -> bytes:
    ordered = sorted(records, key=lambda pair: pair[0].id)
    lines = [
        json.dumps(
            line_of(e, s, system_prompt, include_context), ensure_ascii=False, sort_keys=True, separators=(",", ":")
        )
        + "\n"
        for e, s in ordered
    ]
    return "".join(lines).encode()
