"""`lakehouse drift playbook|embedding|audit|snapshots`: drift reports from the command line
(scorer drift is `lakehouse distill ... drift`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from lakehouse.api.drift import (
    AuditDriftQuery,
    EmbeddingDriftQuery,
    EmbeddingSample,
    GenerationSample,
    PlaybookDriftQuery,
    VectorSample,
    WindowSample,
    audit_report_to_pb,
    embedding_report_to_pb,
    playbook_report_to_pb,
    snapshot_to_pb,
)
from lakehouse.api.errors import LakehouseError
from lakehouse.cli.common import JsonFlag, echo_json, echo_lines, fail, open_client
from lakehouse.v1 import drift_pb2

drift = typer.Typer(no_args_is_help=True, help="Drift: playbook, embedding, audit (and the audit snapshots).")


@drift.command("playbook")
def drift_playbook(
    corpus: Annotated[list[str], typer.Option("--corpus", help="only this corpus (repeatable)")] = [],  # noqa: B006
    k: Annotated[int, typer.Option(help="an entry holds in the top k (default: the server's)")] = 0,
    max_entries: Annotated[int, typer.Option(help="entries checked, newest first")] = 0,
    worst: Annotated[int, typer.Option(help="drifted entries listed")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Playbook entries whose recorded item today's search no longer ranks in the top k."""
    query = PlaybookDriftQuery(tuple(corpus), k, max_entries, worst or -1)
    try:
        with open_client() as lh:
            report = lh.drift.playbook_drift(query)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(playbook_report_to_pb(report))
        return
    lines = [f"{report.drifted}/{report.entries} entries drifted ({report.rate:.1%}) at k={report.k}"]
    lines += [
        f"  {c.corpus}: {c.drifted}/{c.entries} ({c.rate:.1%}){' ' + c.error_reason if c.error_reason else ''}"
        for c in report.corpora
    ]
    lines += [
        f"  worst: {e.corpus}/{e.item_id} rank {e.rank or '-'} for {e.query!r} (entry {e.entry_id})"
        for e in report.worst
    ]
    echo_lines(lines)


def _sample(corpus: str, generation: int, start: str, end: str, time_field: str, vectors: Path | None, side: str):
    if vectors is not None:
        return VectorSample(np.load(vectors) if vectors.suffix == ".npy" else np.loadtxt(vectors, ndmin=2))
    if not corpus:
        typer.echo(f"error: give --corpus (or --{side}-vectors FILE)", err=True)
        raise typer.Exit(2)
    if start or end:
        return WindowSample(corpus, time_field, _time(start, f"--{side}-start"), _time(end, f"--{side}-end"))
    return GenerationSample(corpus, generation)


def _time(raw: str, option: str) -> datetime | None:
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        typer.echo(f"error: {option}: not an ISO 8601 time: {raw!r}", err=True)
        raise typer.Exit(2) from None
    if when.tzinfo is None:
        typer.echo(f"error: {option}: give a time zone (e.g. 2026-01-01T00:00:00Z)", err=True)
        raise typer.Exit(2)
    return when


@drift.command("embedding")
def drift_embedding(
    corpus: Annotated[str, typer.Option(help="the corpus of both samples")] = "",
    baseline_generation: Annotated[int, typer.Option(help="0: the generation before the current one")] = 0,
    current_generation: Annotated[int, typer.Option(help="0: the active generation")] = 0,
    baseline_start: Annotated[str, typer.Option(help="window of item times, ISO 8601")] = "",
    baseline_end: str = "",
    current_start: str = "",
    current_end: str = "",
    time_field: Annotated[str, typer.Option(help="metadata field of an item's time")] = "",
    baseline_vectors: Annotated[Path | None, typer.Option(help=".npy or text file of vectors")] = None,
    current_vectors: Annotated[Path | None, typer.Option(help=".npy or text file of vectors")] = None,
    method: Annotated[str, typer.Option(help="dimensions, projections or both")] = "",
    alpha: float = 0.0,
    as_json: JsonFlag = False,
) -> None:
    """Two vector samples compared (KS per dimension and on projections, BH corrected)."""
    baseline: EmbeddingSample = _sample(
        corpus, baseline_generation, baseline_start, baseline_end, time_field, baseline_vectors, "baseline"
    )
    current: EmbeddingSample = _sample(
        corpus, current_generation, current_start, current_end, time_field, current_vectors, "current"
    )
    try:
        with open_client() as lh:
            report = lh.drift.embedding_drift(EmbeddingDriftQuery(baseline, current, method=method, alpha=alpha))
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(embedding_report_to_pb(report))
        return
    verdict = "DRIFTED" if report.drifted else "no drift"
    echo_lines(
        [
            f"{verdict}: {report.rejected}/{report.tests} tests rejected ({report.correction}, alpha {report.alpha})",
            f"  baseline: {report.baseline} ({report.baseline_count} vectors)",
            f"  current:  {report.current} ({report.current_count} vectors)",
            f"  centroid: cosine {report.centroid_cosine:.4f}, L2 {report.centroid_l2:.4f}",
            *(f"  {t.kind} {t.index}: D={t.statistic:.4f} adjusted p={t.adjusted_p:.3g}" for t in report.top),
        ]
    )


def _metrics(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        try:
            out[name] = float(raw)
        except ValueError:
            sep = ""
        if not sep or not name:
            typer.echo(f"error: --metric {pair!r}: expected NAME=NUMBER", err=True)
            raise typer.Exit(2)
    return out


@drift.command("audit")
def drift_audit(
    subject: str,
    metric: Annotated[list[str], typer.Option("--metric", help="NAME=NUMBER (repeatable)")] = [],  # noqa: B006
    record: Annotated[bool, typer.Option(help="append the snapshot to the baseline file")] = False,
    window: Annotated[int, typer.Option(help="snapshots the baseline is the median of")] = 0,
    relative_tolerance: Annotated[float | None, typer.Option()] = None,
    absolute_tolerance: Annotated[float | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """Metrics of SUBJECT against its baseline; --record appends them to it."""
    query = AuditDriftQuery(
        subject,
        _metrics(metric),
        record=record,
        window=window,
        relative_tolerance=relative_tolerance,
        absolute_tolerance=absolute_tolerance,
    )
    try:
        with open_client() as lh:
            report = lh.drift.audit_drift(query)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(audit_report_to_pb(report))
        return
    lines = [f"{report.moved} of {len(report.metrics)} metrics moved (baseline: {report.baseline_snapshots} snapshots)"]
    lines += [f"  {m.status:7} {m.name}: {m.value:g} vs {m.baseline:g} ({m.relative:+.1%})" for m in report.metrics]
    echo_lines(lines)


@drift.command("snapshots")
def drift_snapshots(
    subject: Annotated[str, typer.Option(help="only this subject")] = "",
    limit: Annotated[int, typer.Option(help="the newest this many")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """The audit baseline file's snapshots, oldest first."""
    try:
        with open_client() as lh:
            snapshots = lh.drift.list_audit_snapshots(subject, limit)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(drift_pb2.ListAuditSnapshotsResponse(snapshots=[snapshot_to_pb(s) for s in snapshots]))
        return
    echo_lines([f"{s.timestamp.isoformat()} {s.subject} {dict(s.metrics)}" for s in snapshots])
