"""DistillationService's API: evidence records, their scores, distillation runs, SFT
exports and scorer drift, the conversions to and from the contract, the
``DistillationApi`` protocol and its remote implementation.

An evidence record is one recorded run (a query, the context retrieved for it, the
answer, its citations, its outcome and any checks). The scorer
(servers/distillation/scorer.py) puts it in one of ``CATEGORIES``, best first, and
stamps the rule set's version on the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from lakehouse.api.channel import NO_DEADLINE
from lakehouse.api.protoconv import timestamp
from lakehouse.api.remote import Remote
from lakehouse.v1 import distillation_pb2, distillation_pb2_grpc

# Categories, best first.
GOLD = "gold"
SILVER = "silver"
NEEDS_REVIEW = "needs_review"
REJECT = "reject"
CATEGORIES = (GOLD, SILVER, NEEDS_REVIEW, REJECT)
RANK = {c: i for i, c in enumerate(CATEGORIES)}  # 0 is best

# EvidenceRecord.outcome ("" is not known).
SUCCESS = "success"
FAILURE = "failure"
REJECTED = "rejected"
UNKNOWN_OUTCOME = ""
OUTCOMES = (SUCCESS, FAILURE, REJECTED, UNKNOWN_OUTCOME)

# Evidence sources of RunDistillation.
SOURCE_ASK = "ask"
SOURCE_WORKFLOW = "workflow"
SOURCE_PLAYBOOK = "playbook"
SOURCES = (SOURCE_ASK, SOURCE_WORKFLOW, SOURCE_PLAYBOOK)

# ExcludedRecord.field
FIELD_QUERY = "query"
FIELD_ANSWER = "answer"

# Stable error reasons (ErrorInfo.reason) of DistillationService.
INVALID_EVIDENCE = "INVALID_EVIDENCE"  # a record is malformed (the field names it: records[3].query)
UNKNOWN_CATEGORY = "UNKNOWN_CATEGORY"
UNKNOWN_SCORER_VERSION = "UNKNOWN_SCORER_VERSION"
UNKNOWN_EVIDENCE_SOURCE = "UNKNOWN_EVIDENCE_SOURCE"
TOO_MANY_RECORDS = "TOO_MANY_RECORDS"
INVALID_EVAL_SET = "INVALID_EVAL_SET"  # an eval item or the eval dataset's columns


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class Evidence:
    """One recorded run. ``id`` "" is derived from the content; ``time`` None is "now"."""

    query: str
    id: str = ""
    source: str = ""
    context: tuple[str, ...] = ()
    answer: str = ""
    citations: tuple[str, ...] = ()
    outcome: str = UNKNOWN_OUTCOME
    checks: tuple[Check, ...] = ()
    time: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Score:
    record_id: str
    category: str
    score: float
    reasons: tuple[str, ...]
    scorer_version: str


@dataclass(frozen=True)
class ScoreBatch:
    scores: tuple[Score, ...]
    scorer_version: str


@dataclass(frozen=True)
class RunRequest:
    sources: tuple[str, ...] = ()  # () : every source
    max_records: int = 0  # 0: distillation.run_max_records


@dataclass(frozen=True)
class CategoryCount:
    category: str
    count: int


@dataclass(frozen=True)
class SourceSummary:
    source: str
    scored: int
    categories: tuple[CategoryCount, ...]
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    truncated: bool = False
    note: str = ""


@dataclass(frozen=True)
class DistillationRun:
    run_id: str
    scorer_version: str
    dataset: str
    version: int
    scored: int
    categories: tuple[CategoryCount, ...]
    sources: tuple[SourceSummary, ...]


@dataclass(frozen=True)
class EvalItem:
    id: str
    text: str


@dataclass(frozen=True)
class ExportRequest:
    min_category: str = ""  # "": distillation.export_min_category
    scorer_version: str = ""  # "": every version
    eval_items: tuple[EvalItem, ...] = ()
    eval_dataset: str = ""
    eval_text_column: str = ""
    eval_id_column: str = ""


@dataclass(frozen=True)
class Excluded:
    record_id: str
    field: str  # FIELD_QUERY or FIELD_ANSWER
    eval_id: str
    containment: float
    jaccard: float


@dataclass(frozen=True)
class Export:
    jsonl: bytes
    key: str
    sha256: str
    exported: int
    record_ids: tuple[str, ...]
    scorer_versions: tuple[str, ...]
    excluded: tuple[Excluded, ...]
    considered: int
    min_category: str
    ngram: int
    containment_threshold: float
    jaccard_threshold: float
    eval_items: int


@dataclass(frozen=True)
class ScoredPair:
    record: Evidence
    category: str
    scorer_version: str = ""


@dataclass(frozen=True)
class DriftRequest:
    pairs: tuple[ScoredPair, ...] = ()  # (): the scored dataset
    scorer_version: str = ""
    include_entries: bool = False


@dataclass(frozen=True)
class Shift:
    from_category: str
    to_category: str
    count: int


@dataclass(frozen=True)
class DriftEntry:
    record_id: str
    from_category: str
    to_category: str
    score: float
    reasons: tuple[str, ...]
    persisted_version: str


@dataclass(frozen=True)
class DriftReport:
    report_id: str
    scorer_version: str
    total: int
    drifted: int
    drift_rate: float
    shifts: tuple[Shift, ...]
    entries: tuple[DriftEntry, ...] = ()
    persisted_versions: tuple[str, ...] = ()
    truncated: bool = False


class DistillationApi(Protocol):
    """Met in-process by DistillationCore and across processes by RemoteDistillation."""

    def score(self, records: Sequence[Evidence], scorer_version: str = "") -> ScoreBatch: ...

    def run(self, request: RunRequest) -> DistillationRun: ...

    def export(self, request: ExportRequest) -> Export: ...

    def drift(self, request: DriftRequest) -> DriftReport: ...


# Conversions ---------------------------------------------------------------------


def _time(m, name: str) -> datetime | None:
    return getattr(m, name).ToDatetime(tzinfo=UTC) if m.HasField(name) else None


def evidence_to_pb(e: Evidence) -> distillation_pb2.EvidenceRecord:
    out = distillation_pb2.EvidenceRecord(
        id=e.id,
        source=e.source,
        query=e.query,
        context=list(e.context),
        answer=e.answer,
        citations=list(e.citations),
        outcome=e.outcome,
        checks=[distillation_pb2.EvidenceCheck(name=c.name, passed=c.passed, detail=c.detail) for c in e.checks],
        metadata=dict(e.metadata),
    )
    if e.time is not None:
        out.time.CopyFrom(timestamp(e.time))
    return out


def evidence_from_pb(m: distillation_pb2.EvidenceRecord) -> Evidence:
    return Evidence(
        id=m.id,
        source=m.source,
        query=m.query,
        context=tuple(m.context),
        answer=m.answer,
        citations=tuple(m.citations),
        outcome=m.outcome,
        checks=tuple(Check(c.name, c.passed, c.detail) for c in m.checks),
        time=_time(m, "time"),
        metadata=dict(m.metadata),
    )


def score_to_pb(s: Score) -> distillation_pb2.RecordScore:
    return distillation_pb2.RecordScore(
        record_id=s.record_id,
        category=s.category,
        score=s.score,
        reasons=list(s.reasons),
        scorer_version=s.scorer_version,
    )


def score_from_pb(m: distillation_pb2.RecordScore) -> Score:
    return Score(m.record_id, m.category, m.score, tuple(m.reasons), m.scorer_version)


def batch_to_pb(b: ScoreBatch) -> distillation_pb2.ScoreRecordsResponse:
    return distillation_pb2.ScoreRecordsResponse(
        scores=[score_to_pb(s) for s in b.scores], scorer_version=b.scorer_version
    )


def batch_from_pb(m: distillation_pb2.ScoreRecordsResponse) -> ScoreBatch:
    return ScoreBatch(tuple(score_from_pb(s) for s in m.scores), m.scorer_version)


def _counts_to_pb(counts: Sequence[CategoryCount]) -> list[distillation_pb2.CategoryCount]:
    return [distillation_pb2.CategoryCount(category=c.category, count=c.count) for c in counts]


def _counts_from_pb(counts) -> tuple[CategoryCount, ...]:
    return tuple(CategoryCount(c.category, c.count) for c in counts)


def run_request_to_pb(r: RunRequest) -> distillation_pb2.RunDistillationRequest:
    return distillation_pb2.RunDistillationRequest(sources=list(r.sources), max_records=r.max_records)


def run_request_from_pb(m: distillation_pb2.RunDistillationRequest) -> RunRequest:
    return RunRequest(tuple(m.sources), m.max_records)


def run_to_pb(r: DistillationRun) -> distillation_pb2.DistillationRun:
    sources = []
    for s in r.sources:
        pb = distillation_pb2.SourceSummary(
            source=s.source, scored=s.scored, categories=_counts_to_pb(s.categories), truncated=s.truncated, note=s.note
        )
        if s.watermark_before is not None:
            pb.watermark_before.CopyFrom(timestamp(s.watermark_before))
        if s.watermark_after is not None:
            pb.watermark_after.CopyFrom(timestamp(s.watermark_after))
        sources.append(pb)
    return distillation_pb2.DistillationRun(
        run_id=r.run_id,
        scorer_version=r.scorer_version,
        dataset=r.dataset,
        version=r.version,
        scored=r.scored,
        categories=_counts_to_pb(r.categories),
        sources=sources,
    )


def run_from_pb(m: distillation_pb2.DistillationRun) -> DistillationRun:
    return DistillationRun(
        run_id=m.run_id,
        scorer_version=m.scorer_version,
        dataset=m.dataset,
        version=m.version,
        scored=m.scored,
        categories=_counts_from_pb(m.categories),
        sources=tuple(
            SourceSummary(
                source=s.source,
                scored=s.scored,
                categories=_counts_from_pb(s.categories),
                watermark_before=_time(s, "watermark_before"),
                watermark_after=_time(s, "watermark_after"),
                truncated=s.truncated,
                note=s.note,
            )
            for s in m.sources
        ),
    )


def export_request_to_pb(r: ExportRequest) -> distillation_pb2.ExportSftRequest:
    return distillation_pb2.ExportSftRequest(
        min_category=r.min_category,
        scorer_version=r.scorer_version,
        eval_items=[distillation_pb2.EvalItem(id=i.id, text=i.text) for i in r.eval_items],
        eval_dataset=r.eval_dataset,
        eval_text_column=r.eval_text_column,
        eval_id_column=r.eval_id_column,
    )


def export_request_from_pb(m: distillation_pb2.ExportSftRequest) -> ExportRequest:
    return ExportRequest(
        min_category=m.min_category,
        scorer_version=m.scorer_version,
        eval_items=tuple(EvalItem(i.id, i.text) for i in m.eval_items),
        eval_dataset=m.eval_dataset,
        eval_text_column=m.eval_text_column,
        eval_id_column=m.eval_id_column,
    )


def export_to_pb(e: Export) -> distillation_pb2.ExportSftResponse:
    return distillation_pb2.ExportSftResponse(
        jsonl=e.jsonl,
        key=e.key,
        sha256=e.sha256,
        exported=e.exported,
        record_ids=list(e.record_ids),
        scorer_versions=list(e.scorer_versions),
        excluded=[
            distillation_pb2.ExcludedRecord(
                record_id=x.record_id, field=x.field, eval_id=x.eval_id, containment=x.containment, jaccard=x.jaccard
            )
            for x in e.excluded
        ],
        considered=e.considered,
        min_category=e.min_category,
        ngram=e.ngram,
        containment_threshold=e.containment_threshold,
        jaccard_threshold=e.jaccard_threshold,
        eval_items=e.eval_items,
    )


def export_from_pb(m: distillation_pb2.ExportSftResponse) -> Export:
    return Export(
        jsonl=m.jsonl,
        key=m.key,
        sha256=m.sha256,
        exported=m.exported,
        record_ids=tuple(m.record_ids),
        scorer_versions=tuple(m.scorer_versions),
        excluded=tuple(Excluded(x.record_id, x.field, x.eval_id, x.containment, x.jaccard) for x in m.excluded),
        considered=m.considered,
        min_category=m.min_category,
        ngram=m.ngram,
        containment_threshold=m.containment_threshold,
        jaccard_threshold=m.jaccard_threshold,
        eval_items=m.eval_items,
    )


def drift_request_to_pb(r: DriftRequest) -> distillation_pb2.ScorerDriftRequest:
    return distillation_pb2.ScorerDriftRequest(
        pairs=[
            distillation_pb2.ScoredPair(
                record=evidence_to_pb(p.record), category=p.category, scorer_version=p.scorer_version
            )
            for p in r.pairs
        ],
        scorer_version=r.scorer_version,
        include_entries=r.include_entries,
    )


def drift_request_from_pb(m: distillation_pb2.ScorerDriftRequest) -> DriftRequest:
    return DriftRequest(
        pairs=tuple(ScoredPair(evidence_from_pb(p.record), p.category, p.scorer_version) for p in m.pairs),
        scorer_version=m.scorer_version,
        include_entries=m.include_entries,
    )


def drift_to_pb(r: DriftReport) -> distillation_pb2.ScorerDriftReport:
    return distillation_pb2.ScorerDriftReport(
        report_id=r.report_id,
        scorer_version=r.scorer_version,
        total=r.total,
        drifted=r.drifted,
        drift_rate=r.drift_rate,
        shifts=[
            distillation_pb2.CategoryShift(from_category=s.from_category, to_category=s.to_category, count=s.count)
            for s in r.shifts
        ],
        entries=[
            distillation_pb2.DriftEntry(
                record_id=e.record_id,
                from_category=e.from_category,
                to_category=e.to_category,
                score=e.score,
                reasons=list(e.reasons),
                persisted_version=e.persisted_version,
            )
            for e in r.entries
        ],
        persisted_versions=list(r.persisted_versions),
        truncated=r.truncated,
    )


def drift_from_pb(m: distillation_pb2.ScorerDriftReport) -> DriftReport:
    return DriftReport(
        report_id=m.report_id,
        scorer_version=m.scorer_version,
        total=m.total,
        drifted=m.drifted,
        drift_rate=m.drift_rate,
        shifts=tuple(Shift(s.from_category, s.to_category, s.count) for s in m.shifts),
        entries=tuple(
            DriftEntry(e.record_id, e.from_category, e.to_category, e.score, tuple(e.reasons), e.persisted_version)
            for e in m.entries
        ),
        persisted_versions=tuple(m.persisted_versions),
        truncated=m.truncated,
    )


# Remote ----------------------------------------------------------------------


class RemoteDistillation(Remote):
    """DistillationApi over a channel from ``lakehouse.api.channel.open_channel``."""

    stub_type = distillation_pb2_grpc.DistillationServiceStub

    def score(self, records: Sequence[Evidence], scorer_version: str = "") -> ScoreBatch:
        request = distillation_pb2.ScoreRecordsRequest(
            records=[evidence_to_pb(r) for r in records], scorer_version=scorer_version
        )
        return batch_from_pb(self._call("ScoreRecords", request))

    def run(self, request: RunRequest) -> DistillationRun:
        return run_from_pb(self._call("RunDistillation", run_request_to_pb(request), NO_DEADLINE))

    def export(self, request: ExportRequest) -> Export:
        return export_from_pb(self._call("ExportSft", export_request_to_pb(request), NO_DEADLINE))

    def drift(self, request: DriftRequest) -> DriftReport:
        return drift_from_pb(self._call("ScorerDrift", drift_request_to_pb(request), NO_DEADLINE))
