"""DistillationCore: score evidence, score what is new into the scored dataset, export SFT
JSONL behind the contamination firewall, and measure scorer drift.

Everything it keeps is on the lake, written through the ingest API (the normal commit
rule) and read back with SQL through the query API:

* the scored dataset (``distillation.scored_dataset``), one row per record, upserted by
  ``record_id``: the record, its category, score, reasons, scorer version and the run
  that scored it. It is also the watermark: a run reads each source from its newest
  ``evidence_time`` (minus ``overlap_s``, skipping ids already scored), so the watermark is
  committed with the scores, never apart from them;
* the exports dataset: one row per export (its sha256, key, records, versions, what the
  firewall excluded and why); the JSONL itself goes to the lake bucket under
  ``distillation.export_prefix`` + sha256 + ``.jsonl`` and back in the response;
* the scorer drift dataset: one summary row per report.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from lakehouse.api.distillation import (
    CATEGORIES,
    INVALID_EVAL_SET,
    RANK,
    SOURCE_ASK,
    SOURCE_PLAYBOOK,
    SOURCES,
    TOO_MANY_RECORDS,
    UNKNOWN_CATEGORY,
    UNKNOWN_EVIDENCE_SOURCE,
    CategoryCount,
    DistillationRun,
    DriftReport,
    DriftRequest,
    EvalItem,
    Evidence,
    Export,
    ExportRequest,
    RunRequest,
    Score,
    ScoreBatch,
    ScoredPair,
    SourceSummary,
)
from lakehouse.api.errors import invalid_field
from lakehouse.api.ingest import IngestApi
from lakehouse.api.query import QueryApi
from lakehouse.servers.distillation import evidence as sources
from lakehouse.servers.distillation.drift import scorer_drift
from lakehouse.servers.distillation.export import jsonl
from lakehouse.servers.distillation.firewall import Firewall
from lakehouse.servers.distillation.records import (
    check_one,
    checked,
    checks_from_json,
    checks_json,
    texts_from_json,
    utc,
)
from lakehouse.servers.distillation.scorer import Scorers
from lakehouse.servers.reports import report_table, write_report
from lakehouse.servers.settings import DistillationSettings
from lakehouse.servers.sql import quote_ident, string_literal

JSONL_CONTENT_TYPE = "application/x-ndjson"
DEFAULT_EVAL_ID_COLUMN = "id"
DEFAULT_EVAL_TEXT_COLUMN = "text"
KEY = ("record_id",)

SCORED_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("source", pa.string()),
        ("evidence_time", pa.timestamp("us", tz="UTC")),
        ("query", pa.string()),
        ("context", pa.string()),  # JSON list
        ("answer", pa.string()),
        ("citations", pa.string()),  # JSON list
        ("outcome", pa.string()),
        ("checks", pa.string()),  # JSON list of {name, passed, detail}
        ("metadata", pa.string()),  # JSON object
        ("category", pa.string()),
        ("score", pa.float64()),
        ("reasons", pa.string()),  # JSON list
        ("scorer_version", pa.string()),
        ("run_id", pa.string()),
        ("scored_at", pa.timestamp("us", tz="UTC")),
    ]
)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def category_counts(categories: Iterable[str]) -> tuple[CategoryCount, ...]:
    counts = Counter(categories)
    return tuple(CategoryCount(c, counts[c]) for c in CATEGORIES if counts[c])


def check_category(value: str, field: str) -> str:
    if value not in RANK:
        raise invalid_field(field, f"unknown category {value!r}; one of {', '.join(CATEGORIES)}", UNKNOWN_CATEGORY)
    return value


class DistillationCore:
    """Handed the query and ingest APIs and the lake (resolved on first use), the playbook
    dataset's name, and ``before_run``: what makes the evidence of this process durable
    before a run reads it (the Ask run log and the op journal are flushed)."""

    def __init__(
        self,
        settings: DistillationSettings,
        query: Callable[[], QueryApi],
        ingest: Callable[[], IngestApi],
        lake: Callable[[], Any],
        playbook_dataset: str,
        before_run: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._s = settings
        self._query = query
        self._ingest = ingest
        self._lake = lake
        self._playbook_dataset = playbook_dataset
        self._before_run = before_run
        self._clock = clock
        self.scorers = Scorers(settings.rule_sets, settings.scorer_version)
        self._run_lock = threading.Lock()  # one run at a time per process: watermarks are read then written

    # ScoreRecords ------------------------------------------------------------

    def score(self, records: Sequence[Evidence], scorer_version: str = "") -> ScoreBatch:
        scorer = self.scorers.get(scorer_version)
        good = checked(records, self._s.max_batch, self._s.max_text_chars)
        return ScoreBatch(tuple(scorer.score(e) for e in good), scorer.version)

    # RunDistillation ---------------------------------------------------------

    def run(self, request: RunRequest) -> DistillationRun:
        wanted = self._sources(request.sources)
        if request.max_records < 0:
            raise invalid_field("max_records", "must not be negative")
        limit = min(request.max_records or self._s.run_max_records, self._s.run_max_records)
        scorer = self.scorers.get()
        with self._run_lock:
            self._before_run()
            run_id = uuid.uuid4().hex
            now = self._clock()
            marks = self._watermarks()
            rows: list[dict[str, Any]] = []
            summaries = []
            for source in wanted:
                before = marks.get(source)
                since = before - timedelta(seconds=self._s.overlap_s) if before else None
                seen = self._seen(source, since) if before else set()
                found = self._read(source, since, now, limit + len(seen) + 1)
                if found is None:
                    summaries.append(SourceSummary(source, 0, (), before, before, note=self._missing(source)))
                    continue
                new = [e for e in found if e.id not in seen]
                truncated = len(new) > limit
                new = new[:limit]
                scores = [scorer.score(e) for e in new]
                rows += [self._row(e, s, run_id, now) for e, s in zip(new, scores, strict=True)]
                times = [t for t in (before, *(e.time for e in new)) if t is not None]
                after = max(times) if times else None
                summaries.append(
                    SourceSummary(
                        source, len(new), category_counts(s.category for s in scores), before, after, truncated
                    )
                )
            version = 0
            if rows:
                table = pa.Table.from_pylist(rows, schema=SCORED_SCHEMA)
                result = write_report(self._ingest(), self._s.scored_dataset, table, primary_key=KEY)
                version = result.version if result is not None else 0
        return DistillationRun(
            run_id=run_id,
            scorer_version=scorer.version,
            dataset=self._s.scored_dataset,
            version=version,
            scored=len(rows),
            categories=category_counts(r["category"] for r in rows),
            sources=tuple(summaries),
        )

    def _sources(self, names: Sequence[str]) -> list[str]:
        for i, name in enumerate(names):
            if name not in SOURCES:
                raise invalid_field(
                    f"sources[{i}]",
                    f"unknown evidence source {name!r}; one of {', '.join(SOURCES)}",
                    UNKNOWN_EVIDENCE_SOURCE,
                )
        return [s for s in SOURCES if s in names] if names else list(SOURCES)

    def _missing(self, source: str) -> str:
        dataset = {SOURCE_ASK: self._s.ask_runs_dataset, SOURCE_PLAYBOOK: self._playbook_dataset}.get(
            source, sources.OPS
        )
        return f"{dataset} does not exist yet"

    def _read(self, source: str, since: datetime | None, now: datetime, limit: int) -> list[Evidence] | None:
        q = self._query()
        if source == SOURCE_ASK:
            return sources.read_ask(q, self._s.ask_runs_dataset, since, limit)
        if source == SOURCE_PLAYBOOK:
            return sources.read_playbook(q, self._playbook_dataset, since, limit)
        return sources.read_workflows(q, since, now - timedelta(seconds=self._s.settle_s), limit)

    def _watermarks(self) -> dict[str, datetime]:
        ds = quote_ident(self._s.scored_dataset)
        sql = f"SELECT source, max(evidence_time) AS mark FROM {ds} GROUP BY source"
        rows = sources.read_rows(self._query(), sql, self._s.scored_dataset) or []
        return {r["source"]: utc(r["mark"], sources.EPOCH) for r in rows if r["mark"] is not None}

    def _seen(self, source: str, since: datetime | None) -> set[str]:
        ds = quote_ident(self._s.scored_dataset)
        where = f"source = {string_literal(source)}"
        if since is not None:
            where += f" AND evidence_time >= {sources.ts_literal(since)}"
        rows = sources.read_rows(self._query(), f"SELECT record_id FROM {ds} WHERE {where}", self._s.scored_dataset)
        return {r["record_id"] for r in rows or ()}

    @staticmethod
    def _row(e: Evidence, s: Score, run_id: str, now: datetime) -> dict[str, Any]:
        return {
            "record_id": e.id,
            "source": e.source,
            "evidence_time": utc(e.time, now),
            "query": e.query,
            "context": _json(list(e.context)),
            "answer": e.answer,
            "citations": _json(list(e.citations)),
            "outcome": e.outcome,
            "checks": _json(checks_json(e.checks)),
            "metadata": _json(dict(e.metadata)),
            "category": s.category,
            "score": s.score,
            "reasons": _json(list(s.reasons)),
            "scorer_version": s.scorer_version,
            "run_id": run_id,
            "scored_at": now,
        }

    def _scored(self, where: str, limit: int) -> tuple[list[tuple[Evidence, Score]], bool]:
        """Rows of the scored dataset as (record, persisted score), by record id; and
        whether ``limit`` cut the read."""
        ds = quote_ident(self._s.scored_dataset)
        clause = f"WHERE {where}" if where else ""
        sql = f"SELECT * FROM {ds} {clause} ORDER BY record_id LIMIT {int(limit) + 1}"
        rows = sources.read_rows(self._query(), sql, self._s.scored_dataset) or []
        out = []
        for r in rows[:limit]:
            e = Evidence(
                id=r["record_id"],
                source=r["source"] or "",
                query=r["query"] or "",
                context=texts_from_json(r["context"]),
                answer=r["answer"] or "",
                citations=texts_from_json(r["citations"]),
                outcome=r["outcome"] or "",
                checks=checks_from_json(r["checks"]),
                time=utc(r["evidence_time"], sources.EPOCH),
                metadata={str(k): str(v) for k, v in json.loads(r["metadata"] or "{}").items()},
            )
            s = Score(e.id, r["category"], float(r["score"]), texts_from_json(r["reasons"]), r["scorer_version"] or "")
            out.append((e, s))
        return out, len(rows) > limit

    # ExportSft ---------------------------------------------------------------

    def export(self, request: ExportRequest) -> Export:
        s = self._s
        floor = check_category(request.min_category or s.export_min_category, "min_category")
        if request.scorer_version:
            self.scorers.get(request.scorer_version)
        firewall = Firewall(self._eval_items(request), s.firewall_ngram, s.firewall_containment, s.firewall_jaccard)
        allowed = ", ".join(string_literal(c) for c in CATEGORIES[: RANK[floor] + 1])
        where = f"category IN ({allowed})"
        if request.scorer_version:
            where += f" AND scorer_version = {string_literal(request.scorer_version)}"
        scored, _ = self._scored(where, s.export_max_records)
        kept, excluded = [], []
        for e, score in scored:
            why = firewall.check(e)
            if why is None:
                kept.append((e, score))
            else:
                excluded.append(why)
        body = jsonl(kept, s.export_system_prompt, s.export_include_context)
        digest = hashlib.sha256(body).hexdigest()
        key = f"{s.export_prefix}{digest}.jsonl"
        self._lake().put(key, [body], JSONL_CONTENT_TYPE)
        record_ids = tuple(sorted(e.id for e, _ in kept))
        versions = tuple(sorted({score.scorer_version for _, score in kept}))
        result = Export(
            jsonl=body,
            key=key,
            sha256=digest,
            exported=len(kept),
            record_ids=record_ids,
            scorer_versions=versions,
            excluded=tuple(excluded),
            considered=len(scored),
            min_category=floor,
            ngram=s.firewall_ngram,
            containment_threshold=s.firewall_containment,
            jaccard_threshold=s.firewall_jaccard,
            eval_items=firewall.items,
        )
        report = {
            "export_id": uuid.uuid4().hex,
            "time": self._clock(),
            "sha256": digest,
            "key": key,
            "bytes": len(body),
            "min_category": floor,
            "scorer_version_filter": request.scorer_version,
            "exported": len(kept),
            "considered": len(scored),
            "record_ids": list(record_ids),
            "scorer_versions": list(versions),
            "excluded": [
                {
                    "record_id": x.record_id,
                    "field": x.field,
                    "eval_id": x.eval_id,
                    "containment": x.containment,
                    "jaccard": x.jaccard,
                }
                for x in excluded
            ],
            "eval_items": firewall.items,
            "ngram": s.firewall_ngram,
        }
        write_report(self._ingest(), s.exports_dataset, report_table([report]))
        return result

    def _eval_items(self, request: ExportRequest) -> list[EvalItem]:
        items = []
        for i, item in enumerate(request.eval_items):
            if not item.text.strip():
                raise invalid_field(f"eval_items[{i}].text", "required: the held-out text", INVALID_EVAL_SET)
            items.append(item if item.id else replace(item, id=f"eval_items[{i}]"))
        if request.eval_dataset:
            items += self._eval_dataset(request)
        return items

    def _eval_dataset(self, request: ExportRequest) -> list[EvalItem]:
        id_col = request.eval_id_column or DEFAULT_EVAL_ID_COLUMN
        text_col = request.eval_text_column or DEFAULT_EVAL_TEXT_COLUMN
        ds = quote_ident(request.eval_dataset)
        describe = self._query().rows(f"SELECT * FROM {ds} LIMIT 0")
        columns = {name for name, _ in describe.columns}
        for field, column in (("eval_id_column", id_col), ("eval_text_column", text_col)):
            if column not in columns:
                raise invalid_field(field, f"{request.eval_dataset} has no column {column!r}", INVALID_EVAL_SET)
        cap = self._s.firewall_max_eval_items
        sql = (
            f"SELECT CAST({quote_ident(id_col)} AS VARCHAR) AS id, CAST({quote_ident(text_col)} AS VARCHAR) AS text "
            f"FROM {ds} ORDER BY 1 LIMIT {cap + 1}"
        )
        rows = self._query().stream(sql).read_all().to_pylist()
        if len(rows) > cap:
            raise invalid_field(
                "eval_dataset", f"more than distillation.firewall_max_eval_items ({cap}) items", INVALID_EVAL_SET
            )
        return [EvalItem(str(r["id"]), r["text"] or "") for r in rows if r["text"]]

    # ScorerDrift -------------------------------------------------------------

    def drift(self, request: DriftRequest) -> DriftReport:
        scorer = self.scorers.get(request.scorer_version)
        truncated = False
        if request.pairs:
            if len(request.pairs) > self._s.drift_max_records:
                raise invalid_field("pairs", f"at most {self._s.drift_max_records} pairs", TOO_MANY_RECORDS)
            pairs = [self._pair(i, p) for i, p in enumerate(request.pairs)]
            origin = "inline"
        else:
            scored, truncated = self._scored("", self._s.drift_max_records)
            pairs = [ScoredPair(e, s.category, s.scorer_version) for e, s in scored]
            origin = self._s.scored_dataset
        report = scorer_drift(
            pairs,
            scorer,
            report_id=uuid.uuid4().hex,
            include_entries=request.include_entries,
            max_entries=self._s.drift_max_entries,
            truncated=truncated,
        )
        row = {
            "report_id": report.report_id,
            "time": self._clock(),
            "scorer_version": report.scorer_version,
            "input": origin,
            "total": report.total,
            "drifted": report.drifted,
            "drift_rate": report.drift_rate,
            "shifts": [{"from": s.from_category, "to": s.to_category, "count": s.count} for s in report.shifts],
            "persisted_versions": list(report.persisted_versions),
            "truncated": report.truncated,
        }
        write_report(self._ingest(), self._s.drift_dataset, report_table([row]))
        return report

    def _pair(self, i: int, p: ScoredPair) -> ScoredPair:
        where = f"pairs[{i}]"
        check_category(p.category, f"{where}.category")
        return replace(p, record=check_one(p.record, f"{where}.record", self._s.max_text_chars))
