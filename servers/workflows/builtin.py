"""The service modes: matrix search, relevance and the downgrade gate, playbooks, SQL,
vector search, chat, and the filter a job order implies. Each is a thin call of one API
(``ctx.services``), its result reshaped into plain JSON values for later nodes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from lakehouse.api import errors
from lakehouse.api.matrix import (
    OUTCOMES,
    SUCCESS,
    Candidate,
    EntryFilter,
    MatrixHit,
    MatrixRequest,
    PlaybookEntry,
    Relevance,
)
from lakehouse.api.models import USAGE_OUTPUT, ChatMessage
from lakehouse.api.workflows import _jsonable
from lakehouse.servers.ask.derive import derive_filter
from lakehouse.servers.matrix.modes import choose_mode, weak_pattern
from lakehouse.servers.workflows.modes import ModeContext, register

STR = {"type": "string"}
TEXT = {"type": "string", "minLength": 1}
BOOL = {"type": "boolean"}
NUM = {"type": "number"}
COUNT = {"type": "integer", "minimum": 1}
STRS = {"type": "array", "items": TEXT}
FILTER = {"type": ["object", "null"]}
INVALID_CANDIDATE = "INVALID_CANDIDATE"


def obj(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    """An object schema that refuses keys it does not name (a typo is an error, not ignored)."""
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


def _hit(h: MatrixHit) -> dict[str, Any]:
    out = {
        "corpus": h.corpus,
        "id": h.id,
        "score": h.score,
        "fused_score": h.fused_score,
        "rank_in_corpus": h.rank_in_corpus,
        "metadata": _jsonable(h.metadata),
    }
    if h.text is not None:
        out["text"] = h.text
    if h.playbook_boost:
        out["playbook_boost"] = h.playbook_boost
    return out


@register(
    "matrix.search",
    obj(
        {
            "text": TEXT,
            "corpora": STRS,
            "k": COUNT,
            "k_per_corpus": COUNT,
            "filter": FILTER,
            "sql": STR,
            "sql_id_column": STR,
            "relevance": BOOL,
            "threshold": NUM,
            "margin": NUM,
            "model": STR,
            "mode": STR,
            "force_mode": STR,
            "use_playbook": BOOL,
            "include_text": BOOL,
        },
        ["text"],
    ),
)
def matrix_search(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Many corpora searched as one (MatrixService Search); ``hits`` best first."""
    request = MatrixRequest(
        text=a["text"],
        corpora=tuple(a.get("corpora", ())),
        k=a.get("k", 0),
        k_per_corpus=a.get("k_per_corpus", 0),
        filter=a.get("filter"),
        sql=a.get("sql", ""),
        sql_id_column=a.get("sql_id_column", ""),
        relevance=Relevance(a.get("relevance"), a.get("threshold"), a.get("margin")),
        model=a.get("model", ""),
        mode=a.get("mode", ""),
        force_mode=a.get("force_mode", ""),
        include_text=a.get("include_text", True),
        use_playbook=a.get("use_playbook", False),
    )
    result = ctx.services.matrix().search(request)
    return {
        "hits": [_hit(h) for h in result.hits],
        "count": len(result.hits),
        "mode": result.mode,
        "downgraded": result.downgraded,
        "mode_reason": result.mode_reason,
        "partial": result.partial,
        "filtered_out": result.filtered_out,
        "relevance_dropped": len(result.relevance_dropped),
        "corpora": [{"corpus": c.corpus, "returned": c.returned, "code": c.code} for c in result.corpora],
    }


def _candidate(i: int, item: Any) -> Candidate:
    if isinstance(item, str):
        return Candidate(text=item)
    if isinstance(item, Mapping):
        if item.get("corpus") and item.get("id"):
            return Candidate(corpus=str(item["corpus"]), id=str(item["id"]))
        if isinstance(item.get("text"), str):
            return Candidate(text=item["text"])
    raise errors.invalid_field(
        f"candidates[{i}]", "expected a text, or an object with corpus and id (a hit) or with text", INVALID_CANDIDATE
    )


@register(
    "matrix.relevance",
    obj(
        {
            "text": TEXT,
            "candidates": {"type": "array", "items": {"type": ["string", "object"]}},
            "threshold": NUM,
            "margin": NUM,
            "embedding_model": STR,
        },
        ["text", "candidates"],
    ),
)
def matrix_relevance(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """The relevance filter over candidates (hits of a search, or texts): ``kept`` in their
    order with their ``relevance`` score, ``best`` the most relevant kept one (or null)."""
    items = list(a["candidates"])
    candidates = [_candidate(i, item) for i, item in enumerate(items)]
    verdicts = (
        ctx.services.matrix().filter_relevance(
            a["text"],
            candidates,
            threshold=a.get("threshold"),
            margin=a.get("margin"),
            embedding_model=a.get("embedding_model", ""),
        )
        if candidates
        else []
    )
    kept, dropped = [], []
    for v in verdicts:
        item = items[v.index] if isinstance(items[v.index], Mapping) else {"text": items[v.index]}
        judged = {**item, "relevance": v.score}
        (kept if v.kept else dropped).append(judged if v.kept else {**judged, "why": v.reason})
    best = max(kept, key=lambda x: x["relevance"]) if kept else None
    return {"kept": kept, "dropped": dropped, "kept_count": len(kept), "dropped_count": len(dropped), "best": best}


@register("matrix.downgrade", obj({"model": TEXT, "corpora": STRS, "mode": STR, "force_mode": STR}, ["model"]))
def matrix_downgrade(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """The strong-model downgrade gate's decision for ``model``: the mode and corpora a
    search read by that model would span, and why."""
    listing = ctx.services.matrix().list_corpora()
    known = {c.corpus.name: c.corpus for c in listing.corpora}
    settings = ctx.settings.matrix
    choice = choose_mode(
        tuple(a.get("corpora", ())), a.get("mode", ""), a.get("force_mode", ""), a["model"], known, settings
    )
    pattern = weak_pattern(a["model"], settings.weak_models)
    return {
        "mode": choice.name,
        "corpora": list(choice.corpora),
        "downgraded": choice.downgraded,
        "reason": choice.reason,
        "weak": pattern is not None,
        "weak_pattern": pattern or "",
    }


def _entry(e: PlaybookEntry) -> dict[str, Any]:
    return _jsonable(
        {
            "id": e.id,
            "query": e.query,
            "corpus": e.corpus,
            "item_id": e.item_id,
            "outcome": e.outcome,
            "score": e.score,
            "reason": e.reason,
            "source": e.source,
            "time": e.time,
            "metadata": e.metadata,
        }
    )


@register(
    "playbook.record",
    obj(
        {
            "query": TEXT,
            "corpus": TEXT,
            "item_id": TEXT,
            "outcome": {"enum": list(OUTCOMES)},
            "score": {"type": ["number", "null"]},
            "reason": STR,
            "source": STR,
            "metadata": {"type": "object"},
            "id": STR,
        },
        ["query", "corpus", "item_id"],
    ),
)
def playbook_record(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Record an outcome as a playbook entry; its metadata names the workflow, run and node."""
    provenance = {"workflow": ctx.workflow, "run_id": ctx.run_id, "node_id": ctx.node_id}
    entry = PlaybookEntry(
        query=a["query"],
        corpus=a["corpus"],
        item_id=a["item_id"],
        outcome=a.get("outcome", SUCCESS),
        score=a.get("score"),
        reason=a.get("reason", ""),
        source=a.get("source") or f"workflow:{ctx.workflow}",
        metadata={**a.get("metadata", {}), **provenance},
        id=a.get("id", ""),
    )
    return _entry(ctx.services.matrix().record_entry(entry))


@register("playbook.lookup", obj({"id": TEXT, "corpus": TEXT, "item_id": TEXT, "source": TEXT, "limit": COUNT}))
def playbook_lookup(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """One entry by ``id``, or the newest entries about a corpus, item or source."""
    matrix = ctx.services.matrix()
    if a.get("id"):
        entries = [matrix.get_entry(a["id"])]
    else:
        where = EntryFilter(corpus=a.get("corpus", ""), item_id=a.get("item_id", ""), source=a.get("source", ""))
        entries, _ = matrix.list_entries(where, page_size=a.get("limit", 0))
    return {"entries": [_entry(e) for e in entries], "count": len(entries)}


# Quoted strings and identifiers are matched (and kept) first, so a ':name' inside one is text.
_PARAM = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(?<![:\w]):([A-Za-z_]\w*)")
SQL_PARAM = "SQL_PARAM"


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def bind(sql: str, params: Mapping[str, Any]) -> str:
    """``:name`` placeholders replaced by SQL literals (strings quoted, quotes doubled), so
    an input or an upstream value never becomes SQL text of its own."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)
        if m.group(1) not in params:
            raise errors.invalid_field(
                f"params.{m.group(1)}", f"the SQL names :{m.group(1)}; give it in params", SQL_PARAM
            )
        return _literal(params[m.group(1)])

    return _PARAM.sub(one, sql) if params else sql


SCALAR = {"type": ["string", "number", "boolean", "null"]}


@register(
    "sql.query",
    obj(
        {
            "sql": TEXT,
            "params": {"type": "object", "additionalProperties": SCALAR},
            "max_rows": COUNT,
            "timeout_ms": COUNT,
        },
        ["sql"],
    ),
)
def sql_query(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Read-only SQL over the catalog's datasets (QueryService Sql), ``:name`` placeholders
    bound from ``params``; ``rows`` as objects. A timed-out or cancelled node cancels its query."""
    query = ctx.services.query()
    query_id = f"workflow-{ctx.run_id}-{ctx.node_id}-{ctx.attempt}"
    ctx.on_cancel(lambda: query.cancel(query_id))
    timeout_ms = a.get("timeout_ms")
    result = query.rows(
        bind(a["sql"], a.get("params", {})),
        max_rows=a.get("max_rows", ctx.settings.workflows.sql_max_rows),
        timeout_s=timeout_ms / 1000 if timeout_ms else None,
        query_id=query_id,
    )
    names = [name for name, _ in result.columns]
    return {
        "columns": names,
        "types": dict(result.columns),
        "rows": [_jsonable(dict(zip(names, row, strict=True))) for row in result.rows],
        "row_count": len(result.rows),
        "truncated": result.truncated,
    }


@register(
    "vector.search",
    obj({"corpus": TEXT, "text": TEXT, "k": COUNT, "filter": FILTER, "include_text": BOOL}, ["corpus", "text"]),
)
def vector_search(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """One corpus searched by text (VectorService Search)."""
    kwargs: dict[str, Any] = {"text": a["text"], "filter": a.get("filter"), "include_text": a.get("include_text", True)}
    if "k" in a:
        kwargs["k"] = a["k"]
    result = ctx.services.vector().search(a["corpus"], **kwargs)
    hits = [
        {"id": h.id, "score": h.score, "metadata": _jsonable(h.metadata), **({"text": h.text} if h.text else {})}
        for h in result.hits
    ]
    return {"hits": hits, "count": len(hits), "generation": result.generation, "exact": result.exact}


def chat_text(
    ctx: ModeContext,
    messages: Sequence[ChatMessage],
    provider: str,
    model: str,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> dict[str, Any]:
    """A chat reply, streamed: each piece counts as progress (the idle timeout), and a
    stopped node stops reading."""
    s = ctx.settings.workflows
    stream = ctx.services.models().chat(
        messages,
        provider,
        model,
        temperature=s.prompt_temperature if temperature is None else temperature,
        max_tokens=max_tokens or s.prompt_max_tokens,
    )
    pieces: list[str] = []
    output_tokens = 0
    try:
        for chunk in stream:
            ctx.progress()
            ctx.check_cancelled()
            if chunk.delta:
                pieces.append(chunk.delta)
            if chunk.usage:
                output_tokens = int(chunk.usage.get(USAGE_OUTPUT, 0))
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return {"text": "".join(pieces).strip(), "provider": provider, "model": model, "output_tokens": output_tokens}


MESSAGE = obj({"role": {"enum": ["system", "user", "assistant"]}, "content": STR}, ["role", "content"])


@register(
    "llm.chat",
    {
        **obj(
            {
                "prompt": TEXT,
                "messages": {"type": "array", "items": MESSAGE, "minItems": 1},
                "system": STR,
                "provider": STR,
                "model": STR,
                "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                "max_tokens": COUNT,
            }
        ),
        "oneOf": [{"required": ["prompt"]}, {"required": ["messages"]}],
    },
)
def llm_chat(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """ModelService Chat: a ``prompt`` (with an optional ``system``), or ``messages``."""
    messages = [ChatMessage("system", a["system"])] if a.get("system") else []
    if "prompt" in a:
        messages.append(ChatMessage("user", a["prompt"]))
    else:
        messages.extend(ChatMessage(m["role"], m["content"]) for m in a["messages"])
    provider = a.get("provider") or ctx.provider
    model = a.get("model") or ctx.model
    return chat_text(ctx, messages, provider, model, a.get("temperature"), a.get("max_tokens"))


@register("filter.derive", obj({"text": TEXT}, ["text"]))
def filter_derive(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """The metadata filter a job order (or question) implies, read with the vocabulary
    ingest parsed the résumés with (null when it names no known term)."""
    vocabulary = ctx.services.vocabulary
    fields = vocabulary.fields(a["text"])
    derived = derive_filter(vocabulary, a["text"])
    return {
        "filter": derived,
        "derived": derived is not None,
        "states": list(fields.states),
        "certifications": list(fields.certifications),
        "roles": list(fields.roles),
    }


@register("echo", obj({"value": {}}, ["value"]))
def echo(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Its input back: ``{"value": ...}`` (wiring, tests and the runner benchmark)."""
    return {"value": a["value"]}
