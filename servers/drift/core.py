"""DriftCore: playbook, embedding and audit baseline drift, each report also a lake dataset.

A plain-Python core handed the matrix API (playbook entries, today's search, and the
corpus listing across every vector host), the ingest API (reports are appended to the
``drift.*_dataset`` datasets through ``servers/reports.write_report``, the normal commit
rule) and the lake bucket (generations' vectors and the audit baseline file are read
directly, as every engine reads the lake). Everything but ``run_id`` and ``time`` of a
report is a function of its inputs: sampling and projections are seeded by the settings,
and every list has a total order.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from lakehouse.api import errors
from lakehouse.api.drift import (
    CORRECTION,
    INVALID_DRIFT_OPTION,
    INVALID_METHOD,
    INVALID_SAMPLE,
    METHODS,
    NO_SNAPSHOTS,
    AuditDriftQuery,
    AuditDriftReport,
    AuditSnapshot,
    EmbeddingDriftQuery,
    EmbeddingDriftReport,
    PlaybookDriftEvent,
    PlaybookDriftQuery,
    PlaybookDriftReport,
    VectorSample,
)
from lakehouse.api.errors import invalid_field
from lakehouse.api.ingest import IngestApi
from lakehouse.api.matrix import MatrixApi
from lakehouse.api.vector import CORPUS_NOT_FOUND, CorpusInfo
from lakehouse.servers.drift import audit, embedding, playbook
from lakehouse.servers.drift.samples import MIN_VECTORS, SampleReader, check_dimensions
from lakehouse.servers.reports import write_report
from lakehouse.servers.settings import DriftSettings
from lakehouse.servers.storage.model import ObjectStore


class DriftCore:
    def __init__(
        self,
        store: ObjectStore,
        matrix: Callable[[], MatrixApi],
        ingest: Callable[[], IngestApi],
        settings: DriftSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``matrix`` and ``ingest`` are resolved on first use (they may live in other processes)."""
        self._matrix = matrix
        self._ingest = ingest
        self._settings = settings
        self._clock = clock
        self._samples = SampleReader(store, self._corpus, settings.embedding_time_field)
        self._baseline = audit.BaselineFile(store, settings.audit_key)

    # Playbook drift --------------------------------------------------------------

    def playbook_drift(self, query: PlaybookDriftQuery) -> PlaybookDriftReport:
        *_, report = self.playbook_drift_stream(query)
        assert isinstance(report, PlaybookDriftReport)
        return report

    def playbook_drift_stream(self, query: PlaybookDriftQuery) -> Iterator[PlaybookDriftEvent]:
        s = self._settings
        k = _option("k", query.k, s.playbook_k)
        if k > s.playbook_depth:  # items are looked for within the depth: a deeper k means nothing
            raise invalid_field(
                "k", f"at most drift.playbook_depth ({s.playbook_depth}), got {k}", INVALID_DRIFT_OPTION
            )
        limit = min(_option("max_entries", query.max_entries, s.playbook_max_entries), s.playbook_max_entries)
        worst = s.playbook_worst if query.worst < 0 else query.worst
        if isinstance(query.corpora, str):
            raise invalid_field("corpora", "must be a list of corpus names, not one string", INVALID_DRIFT_OPTION)
        matrix = self._matrix()
        entries, truncated = playbook.read_entries(matrix, query.corpora, limit)
        run = playbook.Check(matrix, entries, k=k, depth=s.playbook_depth, batch=s.playbook_batch)
        yield from run.batches()
        checked = run.checked
        corpora = playbook.summarise(entries, checked, run.missing)
        drifted = sum(c.drifted for c in checked)
        report = PlaybookDriftReport(
            run_id=uuid.uuid4().hex,
            time=self._clock(),
            k=k,
            entries=len(checked),
            drifted=drifted,
            rate=drifted / len(checked) if checked else 0.0,
            corpora=tuple(corpora),
            worst=tuple(playbook.worst(checked, worst)),
            entries_checked=tuple(checked) if query.include_entries else (),
            truncated=truncated,
        )
        rows = [
            {
                "run_id": report.run_id,
                "time": report.time,
                "k": k,
                "corpus": c.corpus,
                "entries": c.entries,
                "drifted": c.drifted,
                "rate": float(c.rate),
                "skipped": c.skipped,
                "error_reason": c.error_reason,
                "truncated": truncated,
            }
            for c in corpora
        ]
        yield _with_dataset(report, self._write(s.playbook_dataset, rows))

    # Embedding drift ---------------------------------------------------------------

    def embedding_drift(self, query: EmbeddingDriftQuery) -> EmbeddingDriftReport:
        s = self._settings
        method = query.method or s.embedding_method
        if method not in METHODS:
            raise invalid_field("method", f"must be one of {', '.join(METHODS)}, got {method!r}", INVALID_METHOD)
        projections = _option("projections", query.projections, s.embedding_projections)
        if projections > s.embedding_max_projections:
            message = f"at most {s.embedding_max_projections}, got {projections}"
            raise invalid_field("projections", message, INVALID_DRIFT_OPTION)
        alpha = query.alpha or s.embedding_alpha
        if not (isinstance(alpha, int | float) and math.isfinite(alpha) and 0 < alpha < 1):
            raise invalid_field("alpha", f"must be in (0, 1), got {alpha!r}", INVALID_DRIFT_OPTION)
        limit = min(_option("max_sample", query.max_sample, s.embedding_max_sample), s.embedding_max_sample)
        if limit < MIN_VECTORS:
            raise invalid_field("max_sample", f"must be at least {MIN_VECTORS}", INVALID_DRIFT_OPTION)
        top_tests = s.embedding_top_tests if query.top_tests < 0 else query.top_tests
        if query.current is None:
            raise invalid_field("current", "required: the sample compared with the baseline", INVALID_SAMPLE)
        if query.baseline is None:
            raise invalid_field("baseline", "required: the reference sample", INVALID_SAMPLE)
        current = self._samples.resolve(query.current, "current", s.embedding_max_inline)
        baseline = self._samples.resolve(query.baseline, "baseline", s.embedding_max_inline, after=current)
        inline = isinstance(query.baseline, VectorSample) or isinstance(query.current, VectorSample)
        check_dimensions(baseline, current, inline)
        a = embedding.subsample(baseline.vectors, limit, s.embedding_seed, embedding.STREAM_BASELINE)
        b = embedding.subsample(current.vectors, limit, s.embedding_seed, embedding.STREAM_CURRENT)
        result = embedding.compare(
            a,
            b,
            method=method,
            projection_count=projections,
            alpha=alpha,
            seed=s.embedding_seed,
            chunk_columns=s.embedding_chunk_columns,
            workers=s.embedding_workers,
        )
        report = EmbeddingDriftReport(
            run_id=uuid.uuid4().hex,
            time=self._clock(),
            baseline=baseline.label,
            current=current.label,
            baseline_count=len(a),
            current_count=len(b),
            dimension=int(a.shape[1]),
            method=method,
            correction=CORRECTION,
            alpha=float(alpha),
            tests=len(result.tests),
            rejected=result.rejected,
            drifted=result.rejected > 0,
            max_statistic=max(t.statistic for t in result.tests),
            min_adjusted_p=min(t.adjusted_p for t in result.tests),
            centroid_cosine=result.centroid_cosine,
            centroid_l2=result.centroid_l2,
            top=tuple(result.top(top_tests)),
            seed=s.embedding_seed,
        )
        row = {
            name: getattr(report, name)
            for name in EmbeddingDriftReport.__dataclass_fields__
            if name not in ("top", "dataset")
        }
        return _with_dataset(report, self._write(s.embedding_dataset, [row]))

    def _corpus(self, name: str) -> CorpusInfo:
        """A corpus of any vector host (the matrix listing)."""
        listing = self._matrix().list_corpora()
        for hosted in listing.corpora:
            if hosted.corpus.name == name:
                return hosted.corpus
        unreachable = f" ({len(listing.unreachable)} vector hosts unreachable)" if listing.unreachable else ""
        raise errors.NotFound(
            f"corpus {name!r} not found{unreachable}", reason=CORPUS_NOT_FOUND, metadata={"corpus": name}
        )

    # Audit baseline drift -------------------------------------------------------------

    def audit_drift(self, query: AuditDriftQuery) -> AuditDriftReport:
        s = self._settings
        metrics = dict(query.metrics)
        audit.check_snapshot(query.subject, metrics)
        window = _option("window", query.window, s.audit_window)
        relative = audit.check_tolerance(
            "relative_tolerance",
            s.audit_relative_tolerance if query.relative_tolerance is None else query.relative_tolerance,
        )
        absolute = audit.check_tolerance(
            "absolute_tolerance",
            s.audit_absolute_tolerance if query.absolute_tolerance is None else query.absolute_tolerance,
        )
        per_metric = {n: audit.check_tolerance(f"tolerances.{n}", v) for n, v in query.tolerances.items()}
        if query.record and not metrics:
            raise invalid_field("metrics", "record needs the metrics to record", INVALID_DRIFT_OPTION)
        history = [x for x in self._baseline.read() if x.subject == query.subject]
        if metrics:
            when = query.timestamp or self._clock()
            snapshot = AuditSnapshot(when.astimezone(UTC), query.subject, dict(sorted(metrics.items())))
        elif history:
            snapshot, history = history[-1], history[:-1]
        else:
            raise errors.FailedPrecondition(
                f"subject {query.subject!r} has no recorded snapshot and the request gives no metrics",
                reason=NO_SNAPSHOTS,
                metadata={"subject": query.subject},
            )
        compared, samples = audit.compare(
            snapshot, history, window=window, relative=relative, absolute=absolute, per_metric=per_metric
        )
        if query.record:
            self._baseline.append(snapshot)
        report = AuditDriftReport(
            run_id=uuid.uuid4().hex,
            subject=query.subject,
            snapshot=snapshot,
            baseline_snapshots=samples,
            metrics=tuple(compared),
            moved=sum(m.moved for m in compared),
            recorded=query.record,
            baseline_key=self._baseline.key,
        )
        now = self._clock()
        rows = [
            {
                "run_id": report.run_id,
                "time": now,
                "snapshot_time": snapshot.timestamp,
                "subject": query.subject,
                "metric": m.name,
                "value": m.value,
                "baseline": m.baseline,
                "delta": m.delta,
                "relative": m.relative,
                "samples": m.samples,
                "moved": m.moved,
                "status": m.status,
                "recorded": query.record,
            }
            for m in compared
        ]
        return _with_dataset(report, self._write(s.audit_dataset, rows))

    def list_audit_snapshots(self, subject: str = "", limit: int = 0) -> list[AuditSnapshot]:
        cap = self._settings.audit_list_max
        limit = min(_option("limit", limit, cap), cap)
        snapshots = [x for x in self._baseline.read() if not subject or x.subject == subject]
        return snapshots[-limit:]

    # Reports -------------------------------------------------------------------------

    def _write(self, dataset: str, rows: list[dict[str, Any]]) -> str:
        """Append the rows to the report dataset; its name, or "" when there was nothing to write."""
        return dataset if write_report(self._ingest(), dataset, rows) is not None else ""


def _option(name: str, value: int, default: int) -> int:
    """A request's count: 0 takes the default; negative is refused."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_field(name, f"must be a whole number >= 0 (0: default), got {value!r}", INVALID_DRIFT_OPTION)
    return value or default


def _with_dataset(report: Any, dataset: str) -> Any:
    return replace(report, dataset=dataset)
