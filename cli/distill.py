"""`lakehouse distill`: score evidence, run distillation, export SFT JSONL, scorer drift."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from google.protobuf import json_format

from lakehouse.api.distillation import (
    DriftRequest,
    EvalItem,
    ExportRequest,
    RunRequest,
    batch_to_pb,
    drift_to_pb,
    evidence_from_pb,
    export_to_pb,
    run_to_pb,
)
from lakehouse.api.errors import LakehouseError
from lakehouse.cli.common import JsonFlag, echo_json, fail, open_client
from lakehouse.v1 import distillation_pb2

distill = typer.Typer(no_args_is_help=True, help="Score recorded runs, export SFT data, measure scorer drift.")

VersionOption = Annotated[str, typer.Option("--version", help="scorer rule set (default: distillation.scorer_version)")]


def _json_lines(path: str, what: str) -> list[dict]:
    """Objects from a JSON array or JSON lines file ('-': stdin); a bad file exits 2."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    try:
        stripped = text.strip()
        if stripped.startswith("["):
            values = json.loads(stripped)
        else:
            values = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as exc:
        typer.echo(f"error: {path}: not JSON lines of {what}: {exc}", err=True)
        raise typer.Exit(2) from None
    if not all(isinstance(v, dict) for v in values):
        typer.echo(f"error: {path}: every {what} must be a JSON object", err=True)
        raise typer.Exit(2)
    return values


@distill.command("score")
def score(
    records: Annotated[str, typer.Argument(help="evidence records: JSON lines or a JSON array ('-': stdin)")],
    version: VersionOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Score evidence records (query, context, answer, citations, outcome, checks)."""
    try:
        parsed = [
            evidence_from_pb(json_format.ParseDict(r, distillation_pb2.EvidenceRecord()))
            for r in _json_lines(records, "record")
        ]
    except json_format.ParseError as exc:
        typer.echo(f"error: {records}: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        with open_client() as lh:
            batch = lh.distillation.score(parsed, version)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(batch_to_pb(batch))
        return
    for s in batch.scores:
        typer.echo(f"{s.record_id}\t{s.category}\t{s.score:.3f}\t{s.scorer_version}")


@distill.command("run")
def run(
    source: Annotated[
        list[str], typer.Option("--source", help="ask, workflow or playbook (repeatable; default all)")
    ] = [],  # noqa: B006
    max_records: Annotated[int, typer.Option("--max-records", help="per source (default the setting)")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Score everything recorded since the last run into the scored dataset."""
    try:
        with open_client() as lh:
            result = lh.distillation.run(RunRequest(tuple(source), max_records))
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(run_to_pb(result))
        return
    counts = ", ".join(f"{c.category} {c.count}" for c in result.categories) or "nothing new"
    typer.echo(
        f"run {result.run_id}: {result.scored} scored by {result.scorer_version} into {result.dataset}: {counts}"
    )
    for s in result.sources:
        detail = ", ".join(f"{c.category} {c.count}" for c in s.categories)
        note = f" ({s.note})" if s.note else (" (more waiting)" if s.truncated else "")
        typer.echo(f"  {s.source}: {s.scored}{': ' + detail if detail else ''}{note}")


@distill.command("export")
def export(
    min_category: Annotated[str, typer.Option("--min-category", help="gold, silver, needs_review or reject")] = "",
    version: Annotated[str, typer.Option("--version", help="only records scored by this rule set")] = "",
    eval_file: Annotated[str, typer.Option("--eval", help="held-out items: JSON lines of {id, text}")] = "",
    eval_dataset: Annotated[str, typer.Option("--eval-dataset", help="a dataset of held-out items")] = "",
    eval_text_column: Annotated[str, typer.Option("--eval-text-column")] = "",
    eval_id_column: Annotated[str, typer.Option("--eval-id-column")] = "",
    out: Annotated[str, typer.Option("--out", "-o", help="write the JSONL here ('-': stdout)")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Export chat-format JSONL of scored records, minus those overlapping the eval set."""
    items = tuple(
        EvalItem(str(v.get("id", "")), str(v.get("text", "")))
        for v in (_json_lines(eval_file, "item") if eval_file else [])
    )
    request = ExportRequest(min_category, version, items, eval_dataset, eval_text_column, eval_id_column)
    try:
        with open_client() as lh:
            result = lh.distillation.export(request)
    except LakehouseError as exc:
        fail(exc)
    if out == "-":
        sys.stdout.buffer.write(result.jsonl)
    elif out:
        Path(out).write_bytes(result.jsonl)
    if as_json:
        echo_json(export_to_pb(result))
        return
    report = sys.stderr if out == "-" else sys.stdout
    print(
        f"exported {result.exported} of {result.considered} records at or above {result.min_category} "
        f"({len(result.excluded)} excluded) -> {result.key}",
        file=report,
    )
    for x in result.excluded:
        print(
            f"  excluded {x.record_id}: {x.field} overlaps {x.eval_id} "
            f"(containment {x.containment:.2f}, jaccard {x.jaccard:.2f})",
            file=report,
        )


@distill.command("drift")
def drift(
    version: VersionOption = "",
    entries: Annotated[bool, typer.Option("--entries", help="list each drifted record")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Re-score the scored dataset with the current (or a named) rule set: what moved."""
    try:
        with open_client() as lh:
            report = lh.distillation.drift(DriftRequest((), version, entries))
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(drift_to_pb(report))
        return
    typer.echo(f"{report.drifted} of {report.total} drifted under {report.scorer_version} ({report.drift_rate:.1%})")
    for s in report.shifts:
        typer.echo(f"  {s.from_category} -> {s.to_category}: {s.count}")
    for e in report.entries:
        typer.echo(f"  {e.record_id}: {e.from_category} -> {e.to_category} ({e.score:.3f})")
