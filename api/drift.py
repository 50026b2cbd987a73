"""DriftService's API: playbook, embedding and audit baseline drift (SPEC §3.5).

The plain types of each report, the ``DriftApi`` protocol, the proto conversions and the
remote implementation (the local one is ``servers/drift/core.py``'s DriftCore). Scorer
drift belongs to DistillationService.

Playbook drift: an entry (a success) has drifted when today's search of its corpus no
longer ranks its item in the top ``k``. Embedding drift: two-sample Kolmogorov–Smirnov
tests (``scipy.stats.ks_2samp``) per dimension and on random unit projections, their
p-values adjusted together by Benjamini–Hochberg (``scipy.stats.false_discovery_control``);
the samples drifted when any adjusted p-value is below ``alpha``. Audit drift: a metric
moved when it is beyond both tolerances from its baseline, the median of the subject's
last ``window`` snapshots.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from lakehouse.api.channel import NO_DEADLINE
from lakehouse.api.protoconv import timestamp
from lakehouse.api.remote import Remote
from lakehouse.v1 import drift_pb2, drift_pb2_grpc

METHOD_DIMENSIONS = "dimensions"
METHOD_PROJECTIONS = "projections"
METHOD_BOTH = "both"
METHODS = (METHOD_DIMENSIONS, METHOD_PROJECTIONS, METHOD_BOTH)
KIND_DIMENSION = "dimension"
KIND_PROJECTION = "projection"
CORRECTION = "benjamini-hochberg"
# AuditMetricDrift.status
STATUS_NEW = "new"
STATUS_MISSING = "missing"
STATUS_MOVED = "moved"
STATUS_STEADY = "steady"

# Stable error reasons (ErrorInfo.reason) of DriftService; corpus lookups keep
# VectorService's (CORPUS_NOT_FOUND, GENERATION_NOT_FOUND, DIMENSION_MISMATCH).
INVALID_SAMPLE = "INVALID_SAMPLE"  # INVALID_ARGUMENT: no source, ragged or non-finite vectors
EMPTY_SAMPLE = "EMPTY_SAMPLE"  # too few vectors: INVALID_ARGUMENT inline, FAILED_PRECONDITION stored
SINGLE_GENERATION = "SINGLE_GENERATION"  # FAILED_PRECONDITION: no older generation to compare with
INVALID_METHOD = "INVALID_METHOD"
INVALID_WINDOW = "INVALID_WINDOW"
INVALID_DRIFT_OPTION = "INVALID_DRIFT_OPTION"  # k, max_entries, alpha, projections ... out of range
INVALID_METRIC = "INVALID_METRIC"  # a metric name or value that cannot be recorded
NO_SNAPSHOTS = "NO_SNAPSHOTS"  # FAILED_PRECONDITION: nothing given and nothing recorded for the subject


# Playbook drift ------------------------------------------------------------------


@dataclass(frozen=True)
class PlaybookDriftQuery:
    """Zero values take the ``drift`` settings."""

    corpora: tuple[str, ...] = ()
    k: int = 0
    max_entries: int = 0
    worst: int = -1  # -1: drift.playbook_worst
    include_entries: bool = False


@dataclass(frozen=True)
class PlaybookDriftEntry:
    entry_id: str
    query: str
    corpus: str
    item_id: str
    score: float
    time: datetime | None
    rank: int  # 1-based; 0: not within drift.playbook_depth
    drifted: bool
    item_score: float = 0.0
    top_item_id: str = ""
    top_score: float = 0.0


@dataclass(frozen=True)
class PlaybookCorpusDrift:
    corpus: str
    entries: int
    drifted: int
    rate: float
    skipped: int = 0
    error_reason: str = ""


@dataclass(frozen=True)
class PlaybookDriftReport:
    run_id: str
    time: datetime
    k: int
    entries: int
    drifted: int
    rate: float
    corpora: tuple[PlaybookCorpusDrift, ...]
    worst: tuple[PlaybookDriftEntry, ...]
    entries_checked: tuple[PlaybookDriftEntry, ...] = ()
    truncated: bool = False
    dataset: str = ""


@dataclass(frozen=True)
class DriftProgress:
    checked: int
    drifted: int


PlaybookDriftEvent = DriftProgress | PlaybookDriftReport


# Embedding drift -----------------------------------------------------------------


@dataclass(frozen=True)
class GenerationSample:
    corpus: str
    generation: int = 0  # 0: see drift.proto GenerationSample


@dataclass(frozen=True)
class WindowSample:
    corpus: str
    time_field: str = ""
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class VectorSample:
    vectors: np.ndarray | Sequence[Sequence[float]]


EmbeddingSample = GenerationSample | WindowSample | VectorSample


@dataclass(frozen=True)
class EmbeddingDriftQuery:
    baseline: EmbeddingSample | None
    current: EmbeddingSample | None
    method: str = ""
    projections: int = 0
    alpha: float = 0.0
    max_sample: int = 0
    top_tests: int = -1  # -1: drift.embedding_top_tests


@dataclass(frozen=True)
class KsTest:
    kind: str  # KIND_DIMENSION or KIND_PROJECTION
    index: int
    statistic: float
    p_value: float
    adjusted_p: float
    rejected: bool


@dataclass(frozen=True)
class EmbeddingDriftReport:
    run_id: str
    time: datetime
    baseline: str
    current: str
    baseline_count: int
    current_count: int
    dimension: int
    method: str
    correction: str
    alpha: float
    tests: int
    rejected: int
    drifted: bool
    max_statistic: float
    min_adjusted_p: float
    centroid_cosine: float
    centroid_l2: float
    top: tuple[KsTest, ...]
    seed: int
    dataset: str = ""


# Audit baseline drift ------------------------------------------------------------


@dataclass(frozen=True)
class AuditSnapshot:
    """One line of audit_baselines.jsonl: ``{"timestamp", "subject", "metrics": {name: number}}``."""

    timestamp: datetime
    subject: str
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class AuditDriftQuery:
    subject: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    record: bool = False
    timestamp: datetime | None = None
    window: int = 0
    relative_tolerance: float | None = None
    absolute_tolerance: float | None = None
    tolerances: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditMetricDrift:
    name: str
    value: float
    baseline: float
    delta: float
    relative: float
    samples: int
    moved: bool
    status: str


@dataclass(frozen=True)
class AuditDriftReport:
    run_id: str
    subject: str
    snapshot: AuditSnapshot
    baseline_snapshots: int
    metrics: tuple[AuditMetricDrift, ...]
    moved: int
    recorded: bool
    baseline_key: str
    dataset: str = ""


class DriftApi(Protocol):
    """Met in-process by DriftCore and across processes by RemoteDrift."""

    def playbook_drift(self, query: PlaybookDriftQuery) -> PlaybookDriftReport: ...

    def playbook_drift_stream(self, query: PlaybookDriftQuery) -> Iterator[PlaybookDriftEvent]:
        """Progress after each batch of queries, then the report (last)."""
        ...

    def embedding_drift(self, query: EmbeddingDriftQuery) -> EmbeddingDriftReport: ...

    def audit_drift(self, query: AuditDriftQuery) -> AuditDriftReport: ...

    def list_audit_snapshots(self, subject: str = "", limit: int = 0) -> list[AuditSnapshot]:
        """Oldest first: the newest ``limit`` (default and cap drift.audit_list_max)."""
        ...


# Conversions ---------------------------------------------------------------------


def _time(m, name: str) -> datetime | None:
    return getattr(m, name).ToDatetime(tzinfo=UTC) if m.HasField(name) else None


def playbook_query_to_pb(q: PlaybookDriftQuery) -> drift_pb2.PlaybookDriftRequest:
    return drift_pb2.PlaybookDriftRequest(
        corpora=list(q.corpora),
        k=q.k,
        max_entries=q.max_entries,
        worst=max(q.worst, 0),
        include_entries=q.include_entries,
    )


def playbook_query_from_pb(m: drift_pb2.PlaybookDriftRequest) -> PlaybookDriftQuery:
    # proto3 cannot tell 0 from unset: 0 worst entries takes the default.
    return PlaybookDriftQuery(
        corpora=tuple(m.corpora),
        k=m.k,
        max_entries=m.max_entries,
        worst=m.worst or -1,
        include_entries=m.include_entries,
    )


def _entry_to_pb(e: PlaybookDriftEntry) -> drift_pb2.PlaybookDriftEntry:
    return drift_pb2.PlaybookDriftEntry(
        entry_id=e.entry_id,
        query=e.query,
        corpus=e.corpus,
        item_id=e.item_id,
        score=e.score,
        time=timestamp(e.time) if e.time else None,
        rank=e.rank,
        drifted=e.drifted,
        item_score=e.item_score,
        top_item_id=e.top_item_id,
        top_score=e.top_score,
    )


def _entry_from_pb(m: drift_pb2.PlaybookDriftEntry) -> PlaybookDriftEntry:
    return PlaybookDriftEntry(
        entry_id=m.entry_id,
        query=m.query,
        corpus=m.corpus,
        item_id=m.item_id,
        score=m.score,
        time=_time(m, "time"),
        rank=m.rank,
        drifted=m.drifted,
        item_score=m.item_score,
        top_item_id=m.top_item_id,
        top_score=m.top_score,
    )


def playbook_report_to_pb(r: PlaybookDriftReport) -> drift_pb2.PlaybookDriftReport:
    return drift_pb2.PlaybookDriftReport(
        run_id=r.run_id,
        time=timestamp(r.time),
        k=r.k,
        entries=r.entries,
        drifted=r.drifted,
        rate=r.rate,
        corpora=[
            drift_pb2.PlaybookCorpusDrift(
                corpus=c.corpus,
                entries=c.entries,
                drifted=c.drifted,
                rate=c.rate,
                skipped=c.skipped,
                error_reason=c.error_reason,
            )
            for c in r.corpora
        ],
        worst=[_entry_to_pb(e) for e in r.worst],
        entries_checked=[_entry_to_pb(e) for e in r.entries_checked],
        truncated=r.truncated,
        dataset=r.dataset,
    )


def playbook_report_from_pb(m: drift_pb2.PlaybookDriftReport) -> PlaybookDriftReport:
    return PlaybookDriftReport(
        run_id=m.run_id,
        time=m.time.ToDatetime(tzinfo=UTC),
        k=m.k,
        entries=m.entries,
        drifted=m.drifted,
        rate=m.rate,
        corpora=tuple(
            PlaybookCorpusDrift(c.corpus, c.entries, c.drifted, c.rate, c.skipped, c.error_reason) for c in m.corpora
        ),
        worst=tuple(_entry_from_pb(e) for e in m.worst),
        entries_checked=tuple(_entry_from_pb(e) for e in m.entries_checked),
        truncated=m.truncated,
        dataset=m.dataset,
    )


def playbook_event_to_pb(e: PlaybookDriftEvent) -> drift_pb2.PlaybookDriftEvent:
    if isinstance(e, DriftProgress):
        return drift_pb2.PlaybookDriftEvent(
            progress=drift_pb2.PlaybookDriftProgress(checked=e.checked, drifted=e.drifted)
        )
    return drift_pb2.PlaybookDriftEvent(report=playbook_report_to_pb(e))


def playbook_event_from_pb(m: drift_pb2.PlaybookDriftEvent) -> PlaybookDriftEvent:
    if m.WhichOneof("event") == "progress":
        return DriftProgress(m.progress.checked, m.progress.drifted)
    return playbook_report_from_pb(m.report)


def sample_to_pb(s: EmbeddingSample | None) -> drift_pb2.EmbeddingSample:
    if isinstance(s, GenerationSample):
        return drift_pb2.EmbeddingSample(
            generation=drift_pb2.GenerationSample(corpus=s.corpus, generation=s.generation)
        )
    if isinstance(s, WindowSample):
        return drift_pb2.EmbeddingSample(
            window=drift_pb2.WindowSample(
                corpus=s.corpus,
                time_field=s.time_field,
                start=timestamp(s.start) if s.start else None,
                end=timestamp(s.end) if s.end else None,
            )
        )
    if isinstance(s, VectorSample):
        return drift_pb2.EmbeddingSample(
            vectors=drift_pb2.VectorSample(
                vectors=[drift_pb2.DriftVector(values=[float(x) for x in v]) for v in s.vectors]
            )
        )
    return drift_pb2.EmbeddingSample()


def sample_from_pb(m: drift_pb2.EmbeddingSample) -> EmbeddingSample | None:
    kind = m.WhichOneof("source")
    if kind == "generation":
        return GenerationSample(m.generation.corpus, m.generation.generation)
    if kind == "window":
        w = m.window
        return WindowSample(w.corpus, w.time_field, _time(w, "start"), _time(w, "end"))
    if kind == "vectors":
        # Ragged rows stay a list of lists: the core names the first row of another length.
        return VectorSample([list(v.values) for v in m.vectors.vectors])
    return None


def embedding_query_to_pb(q: EmbeddingDriftQuery) -> drift_pb2.EmbeddingDriftRequest:
    return drift_pb2.EmbeddingDriftRequest(
        baseline=sample_to_pb(q.baseline),
        current=sample_to_pb(q.current),
        method=q.method,
        projections=q.projections,
        alpha=q.alpha,
        max_sample=q.max_sample,
        top_tests=max(q.top_tests, 0),
    )


def embedding_query_from_pb(m: drift_pb2.EmbeddingDriftRequest) -> EmbeddingDriftQuery:
    return EmbeddingDriftQuery(
        baseline=sample_from_pb(m.baseline) if m.HasField("baseline") else None,
        current=sample_from_pb(m.current) if m.HasField("current") else None,
        method=m.method,
        projections=m.projections,
        alpha=m.alpha,
        max_sample=m.max_sample,
        top_tests=m.top_tests or -1,
    )


def embedding_report_to_pb(r: EmbeddingDriftReport) -> drift_pb2.EmbeddingDriftReport:
    return drift_pb2.EmbeddingDriftReport(
        run_id=r.run_id,
        time=timestamp(r.time),
        baseline=r.baseline,
        current=r.current,
        baseline_count=r.baseline_count,
        current_count=r.current_count,
        dimension=r.dimension,
        method=r.method,
        correction=r.correction,
        alpha=r.alpha,
        tests=r.tests,
        rejected=r.rejected,
        drifted=r.drifted,
        max_statistic=r.max_statistic,
        min_adjusted_p=r.min_adjusted_p,
        centroid_cosine=r.centroid_cosine,
        centroid_l2=r.centroid_l2,
        top=[
            drift_pb2.KsTest(
                kind=t.kind,
                index=t.index,
                statistic=t.statistic,
                p_value=t.p_value,
                adjusted_p=t.adjusted_p,
                rejected=t.rejected,
            )
            for t in r.top
        ],
        seed=r.seed,
        dataset=r.dataset,
    )


def embedding_report_from_pb(m: drift_pb2.EmbeddingDriftReport) -> EmbeddingDriftReport:
    return EmbeddingDriftReport(
        run_id=m.run_id,
        time=m.time.ToDatetime(tzinfo=UTC),
        baseline=m.baseline,
        current=m.current,
        baseline_count=m.baseline_count,
        current_count=m.current_count,
        dimension=m.dimension,
        method=m.method,
        correction=m.correction,
        alpha=m.alpha,
        tests=m.tests,
        rejected=m.rejected,
        drifted=m.drifted,
        max_statistic=m.max_statistic,
        min_adjusted_p=m.min_adjusted_p,
        centroid_cosine=m.centroid_cosine,
        centroid_l2=m.centroid_l2,
        top=tuple(KsTest(t.kind, t.index, t.statistic, t.p_value, t.adjusted_p, t.rejected) for t in m.top),
        seed=m.seed,
        dataset=m.dataset,
    )


def snapshot_to_pb(s: AuditSnapshot) -> drift_pb2.AuditSnapshot:
    return drift_pb2.AuditSnapshot(timestamp=timestamp(s.timestamp), subject=s.subject, metrics=dict(s.metrics))


def snapshot_from_pb(m: drift_pb2.AuditSnapshot) -> AuditSnapshot:
    return AuditSnapshot(m.timestamp.ToDatetime(tzinfo=UTC), m.subject, dict(sorted(m.metrics.items())))


def audit_query_to_pb(q: AuditDriftQuery) -> drift_pb2.AuditDriftRequest:
    return drift_pb2.AuditDriftRequest(
        subject=q.subject,
        metrics=dict(q.metrics),
        record=q.record,
        timestamp=timestamp(q.timestamp) if q.timestamp else None,
        window=q.window,
        relative_tolerance=q.relative_tolerance,
        absolute_tolerance=q.absolute_tolerance,
        tolerances=dict(q.tolerances),
    )


def audit_query_from_pb(m: drift_pb2.AuditDriftRequest) -> AuditDriftQuery:
    return AuditDriftQuery(
        subject=m.subject,
        metrics=dict(m.metrics),
        record=m.record,
        timestamp=_time(m, "timestamp"),
        window=m.window,
        relative_tolerance=m.relative_tolerance if m.HasField("relative_tolerance") else None,
        absolute_tolerance=m.absolute_tolerance if m.HasField("absolute_tolerance") else None,
        tolerances=dict(m.tolerances),
    )


def audit_report_to_pb(r: AuditDriftReport) -> drift_pb2.AuditDriftReport:
    return drift_pb2.AuditDriftReport(
        run_id=r.run_id,
        subject=r.subject,
        snapshot=snapshot_to_pb(r.snapshot),
        baseline_snapshots=r.baseline_snapshots,
        metrics=[
            drift_pb2.AuditMetricDrift(
                name=d.name,
                value=d.value,
                baseline=d.baseline,
                delta=d.delta,
                relative=d.relative,
                samples=d.samples,
                moved=d.moved,
                status=d.status,
            )
            for d in r.metrics
        ],
        moved=r.moved,
        recorded=r.recorded,
        baseline_key=r.baseline_key,
        dataset=r.dataset,
    )


def audit_report_from_pb(m: drift_pb2.AuditDriftReport) -> AuditDriftReport:
    return AuditDriftReport(
        run_id=m.run_id,
        subject=m.subject,
        snapshot=snapshot_from_pb(m.snapshot),
        baseline_snapshots=m.baseline_snapshots,
        metrics=tuple(
            AuditMetricDrift(d.name, d.value, d.baseline, d.delta, d.relative, d.samples, d.moved, d.status)
            for d in m.metrics
        ),
        moved=m.moved,
        recorded=m.recorded,
        baseline_key=m.baseline_key,
        dataset=m.dataset,
    )


# Remote ----------------------------------------------------------------------------


class RemoteDrift(Remote):
    """DriftApi over a channel from ``lakehouse.api.channel.open_channel``."""

    stub_type = drift_pb2_grpc.DriftServiceStub

    def playbook_drift(self, query: PlaybookDriftQuery) -> PlaybookDriftReport:
        return playbook_report_from_pb(self._call("PlaybookDrift", playbook_query_to_pb(query), NO_DEADLINE))

    def playbook_drift_stream(self, query: PlaybookDriftQuery) -> Iterator[PlaybookDriftEvent]:
        for message in self._stream("PlaybookDriftStream", playbook_query_to_pb(query), NO_DEADLINE):
            yield playbook_event_from_pb(message)

    def embedding_drift(self, query: EmbeddingDriftQuery) -> EmbeddingDriftReport:
        return embedding_report_from_pb(self._call("EmbeddingDrift", embedding_query_to_pb(query), NO_DEADLINE))

    def audit_drift(self, query: AuditDriftQuery) -> AuditDriftReport:
        return audit_report_from_pb(self._call("AuditDrift", audit_query_to_pb(query)))

    def list_audit_snapshots(self, subject: str = "", limit: int = 0) -> list[AuditSnapshot]:
        reply = self._call("ListAuditSnapshots", drift_pb2.ListAuditSnapshotsRequest(subject=subject, limit=limit))
        return [snapshot_from_pb(s) for s in reply.snapshots]
