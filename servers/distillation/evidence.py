"""Where evidence records come from, read as SQL through the query API.

* **ask**: every Ask answer, recorded by ``RecordingAsk`` (which wraps the Ask core) into
  ``distillation.ask_runs_dataset``: the question, the cited chunks' snippets as context,
  the answer, the chunks it cites (``corpus/id``) and three checks (grounded: no citation of
  a chunk never retrieved; retrieved: at least one chunk; complete: every corpus answered).
  Ask has no feedback, so its outcome is not known. The op journal holds only an Ask call's
  key fields, never its answer, so answers are recorded here, for distillation only
  (``distillation.record_ask_runs``).
* **workflow**: runs in the op journal (``_ops``, source ``workflow``), one record per run:
  the first node's input summary as the query, the last successful node's output summary as
  the answer, a check per node (its last attempt OK), success when every check passed.
* **playbook**: entries of the playbook dataset (``matrix.playbook_dataset``): the query,
  the chosen item as answer and citation, the recorded outcome (success or rejected).

Each reader returns records with evidence time at or after ``since``, oldest first, at most
``limit``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from lakehouse.api.ask import Answer, Answered, AskApi, AskEvent, AskQuery
from lakehouse.api.catalog import DATASET_NOT_FOUND
from lakehouse.api.distillation import (
    FAILURE,
    REJECTED,
    SOURCE_ASK,
    SOURCE_PLAYBOOK,
    SOURCE_WORKFLOW,
    SUCCESS,
    UNKNOWN_OUTCOME,
    Check,
    Evidence,
)
from lakehouse.api.errors import NotFound
from lakehouse.api.ingest import IngestApi
from lakehouse.api.query import QueryApi
from lakehouse.servers.distillation.records import checks_from_json, checks_json, texts_from_json, utc
from lakehouse.servers.reports import write_report
from lakehouse.servers.sql import quote_ident, string_literal

log = logging.getLogger("lakehouse.distillation")

OPS = "_ops"
OK = "OK"
_CITED = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Recorded Ask answers kept while the dataset cannot be written, in flushes' worth.
KEPT_FLUSHES = 10

ASK_RUNS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("query", pa.string()),
        ("context", pa.string()),  # JSON list of passages
        ("answer", pa.string()),
        ("citations", pa.string()),  # JSON list of corpus/id
        ("outcome", pa.string()),
        ("checks", pa.string()),  # JSON list of {name, passed, detail}
        ("metadata", pa.string()),  # JSON object
    ]
)


def ts_literal(when: datetime) -> str:
    return f"CAST({string_literal(when.astimezone(UTC).isoformat())} AS TIMESTAMPTZ)"


def read_rows(query: QueryApi, sql: str, dataset: str) -> list[dict[str, Any]] | None:
    """The rows of ``sql``; None when ``dataset`` does not exist (yet)."""
    try:
        return query.stream(sql).read_all().to_pylist()
    except NotFound as exc:
        if exc.reason == DATASET_NOT_FOUND:
            return None
        raise


# Ask -------------------------------------------------------------------------------


def cited_numbers(answer: str) -> list[int]:
    found: dict[int, None] = {}
    for m in _CITED.finditer(answer):
        for part in re.split(r"[,;]", m.group(1)):
            found[int(part)] = None
    return list(found)


def ask_evidence(query: AskQuery, answer: Answer, when: datetime) -> Evidence:
    by_n = {c.n: c for c in answer.citations}
    cited = [by_n[n] for n in cited_numbers(answer.answer) if n in by_n]
    r = answer.retrieval
    checks = (
        Check(
            "grounded", answer.grounded, "" if answer.grounded else f"ungrounded {list(answer.ungrounded_citations)}"
        ),
        Check("retrieved", r.retrieved > 0, f"{r.retrieved} chunks"),
        Check("complete", not r.partial, "a corpus could not be searched" if r.partial else ""),
    )
    metadata = {"mode": answer.mode, "filter_source": r.filter_source}
    if answer.provider:
        metadata["provider"] = answer.provider
    if answer.model:
        metadata["model"] = answer.model
    return Evidence(
        id=f"{SOURCE_ASK}:{uuid.uuid4().hex}",
        source=SOURCE_ASK,
        query=query.question,
        context=tuple(c.snippet for c in answer.citations),
        answer=answer.answer,
        citations=tuple(f"{c.corpus}/{c.id}" for c in cited),
        outcome=UNKNOWN_OUTCOME,
        checks=checks,
        time=when,
        metadata=metadata,
    )


class AskRunLog:
    """Recorded Ask answers, buffered and appended to the ask-runs dataset every
    ``flush_rows`` answers, before each distillation run and when the process stops. A
    failed write keeps the rows for the next flush (at most ``KEPT_FLUSHES`` flushes' worth;
    older ones are dropped and counted). A crash loses the unflushed answers only."""

    def __init__(
        self, ingest: Callable[[], IngestApi], dataset: str, flush_rows: int, clock: Callable[[], datetime]
    ) -> None:
        self._ingest = ingest
        self._dataset = dataset
        self._flush_rows = flush_rows
        self._clock = clock
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self.dropped = 0

    def record(self, query: AskQuery, answer: Answer) -> None:
        e = ask_evidence(query, answer, self._clock())
        row = {
            "id": e.id,
            "time": e.time,
            "query": e.query,
            "context": json.dumps(list(e.context), ensure_ascii=False),
            "answer": e.answer,
            "citations": json.dumps(list(e.citations), ensure_ascii=False),
            "outcome": e.outcome,
            "checks": json.dumps(checks_json(e.checks), ensure_ascii=False),
            "metadata": json.dumps(dict(e.metadata), ensure_ascii=False, sort_keys=True),
        }
        with self._lock:
            self._rows.append(row)
            full = len(self._rows) >= self._flush_rows
        if full:
            self.flush()

    def flush(self) -> int:
        """Write what is buffered; returns the rows written (0 on failure: kept)."""
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                write_report(self._ingest(), self._dataset, pa.Table.from_pylist(rows, schema=ASK_RUNS_SCHEMA))
                return len(rows)
            except Exception:  # noqa: BLE001 - recording never fails an answer; kept for the next flush
                log.exception("distillation: writing %d Ask runs to %s failed", len(rows), self._dataset)
                with self._lock:
                    self._rows = rows + self._rows
                    excess = len(self._rows) - KEPT_FLUSHES * self._flush_rows
                    if excess > 0:
                        del self._rows[:excess]
                        self.dropped += excess
                return 0

    def close(self) -> None:
        self.flush()


class RecordingAsk:
    """The Ask API, each final answer also handed to an AskRunLog (never failing the call)."""

    def __init__(self, inner: AskApi, runs: AskRunLog) -> None:
        self._inner = inner
        self._runs = runs

    def ask(self, query: AskQuery) -> Answer:
        answer = self._inner.ask(query)
        self._record(query, answer)
        return answer

    def stream(self, query: AskQuery) -> Iterator[AskEvent]:
        for event in self._inner.stream(query):
            if isinstance(event, Answered):
                self._record(query, event.answer)
            yield event

    def _record(self, query: AskQuery, answer: Answer) -> None:
        try:
            self._runs.record(query, answer)
        except Exception:  # noqa: BLE001 - recording never fails the answer it records
            log.exception("distillation: recording an Ask run failed")


def read_ask(query: QueryApi, dataset: str, since: datetime | None, limit: int) -> list[Evidence] | None:
    where = f"WHERE time >= {ts_literal(since)}" if since else ""
    sql = f"SELECT * FROM {quote_ident(dataset)} {where} ORDER BY time, id LIMIT {int(limit)}"
    rows = read_rows(query, sql, dataset)
    if rows is None:
        return None
    return [
        Evidence(
            id=r["id"],
            source=SOURCE_ASK,
            query=r["query"] or "",
            context=texts_from_json(r["context"]),
            answer=r["answer"] or "",
            citations=texts_from_json(r["citations"]),
            outcome=r["outcome"] or UNKNOWN_OUTCOME,
            checks=checks_from_json(r["checks"]),
            time=utc(r["time"], EPOCH),
            metadata={str(k): str(v) for k, v in json.loads(r["metadata"] or "{}").items()},
        )
        for r in rows
    ]


# Playbooks ---------------------------------------------------------------------------


def read_playbook(query: QueryApi, dataset: str, since: datetime | None, limit: int) -> list[Evidence] | None:
    where = f"WHERE time >= {ts_literal(since)}" if since else ""
    sql = (
        f"SELECT id, query, corpus, item_id, outcome, score, reason, source, time FROM {quote_ident(dataset)} "
        f"{where} ORDER BY time, id LIMIT {int(limit)}"
    )
    rows = read_rows(query, sql, dataset)
    if rows is None:
        return None
    out = []
    for r in rows:
        item = f"{r['corpus']}/{r['item_id']}"
        reason = r["reason"] or ""
        metadata = {"corpus": r["corpus"] or "", "item_id": r["item_id"] or "", "recorded_by": r["source"] or ""}
        if r["score"] is not None:
            metadata["score"] = f"{r['score']:g}"
        out.append(
            Evidence(
                id=f"{SOURCE_PLAYBOOK}:{r['id']}",
                source=SOURCE_PLAYBOOK,
                query=r["query"] or "",
                answer=f"{item}: {reason}" if reason else item,
                citations=(item,),
                outcome=SUCCESS if r["outcome"] == SUCCESS else REJECTED,
                time=utc(r["time"], EPOCH),
                metadata=metadata,
            )
        )
    return out


# Workflow runs -------------------------------------------------------------------------


def read_workflows(query: QueryApi, since: datetime | None, until: datetime, limit: int) -> list[Evidence] | None:
    """Runs whose newest op is in [since, until] (``until``: now minus the settle time)."""

    def where(alias: str) -> str:
        conditions = [f"{alias}source = 'workflow'", f"{alias}run_id <> ''"]
        if since is not None:
            # A run may have started the day before its newest op.
            day = (since - timedelta(days=1)).strftime("%Y-%m-%d")
            conditions.append(f"{alias}date >= {string_literal(day)}")
        return " AND ".join(conditions)

    having = [f"max(time) <= {ts_literal(until)}"]
    if since is not None:
        having.append(f"max(time) >= {ts_literal(since)}")
    sql = (
        f"WITH runs AS (SELECT run_id, max(time) AS last FROM {OPS} WHERE {where('')} GROUP BY run_id "
        f"HAVING {' AND '.join(having)} ORDER BY last, run_id LIMIT {int(limit)}) "
        f"SELECT o.run_id, o.workflow, o.node_id, o.method, o.code, o.reason, o.time, o.input_summary, "
        f"o.output_summary, runs.last FROM {OPS} o JOIN runs USING (run_id) WHERE {where('o.')} "
        f"ORDER BY runs.last, o.run_id, o.time, o.node_id"
    )
    rows = read_rows(query, sql, OPS)
    if rows is None:
        return None
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        runs.setdefault(r["run_id"], []).append(r)
    return [_workflow_evidence(run_id, ops) for run_id, ops in runs.items()]


def _workflow_evidence(run_id: str, ops: list[dict[str, Any]]) -> Evidence:
    last_attempt: dict[str, dict[str, Any]] = {}
    for op in ops:  # ordered by time: a later attempt of a node replaces the earlier one
        last_attempt[op["node_id"]] = op
    checks = tuple(
        Check(node, op["code"] == OK, "" if op["code"] == OK else f"{op['code']} {op['reason'] or ''}".strip())
        for node, op in sorted(last_attempt.items())
    )
    succeeded = [op for op in ops if op["code"] == OK]
    workflow = ops[0]["workflow"] or ""
    return Evidence(
        id=f"{SOURCE_WORKFLOW}:{run_id}",
        source=SOURCE_WORKFLOW,
        query=ops[0]["input_summary"] or workflow or run_id,
        answer=(succeeded[-1]["output_summary"] or "") if succeeded else "",
        outcome=SUCCESS if all(c.passed for c in checks) else FAILURE,
        checks=checks,
        time=utc(ops[0]["last"], EPOCH),
        metadata={"workflow": workflow, "run_id": run_id, "nodes": str(len(last_attempt))},
    )
