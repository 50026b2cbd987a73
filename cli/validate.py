"""`lakehouse validate DATASET --suite FILE|NAME`: run a check suite over a dataset version
and print one line per check (a failed check with its failing count and a few sample rows)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lakehouse.api.errors import LakehouseError
from lakehouse.api.validation import ValidateRequest, ValidationReport, report_to_pb
from lakehouse.cli.common import JsonFlag, echo_json, fail, open_client

# Exit code when a blocking check failed (a refused call exits 1, like every command).
CHECKS_FAILED_EXIT = 2
# Sample rows printed per failed check (--json prints all the service returned).
SHOWN_SAMPLE_ROWS = 3


def validate(
    dataset: Annotated[str, typer.Argument(help="the dataset to check", show_default=False)],
    suite: Annotated[
        str,
        typer.Option("--suite", help="a suite file (YAML or JSON), or the name of a stored suite", show_default=False),
    ],
    version: Annotated[int, typer.Option(help="the version to check (0: the current one)")] = 0,
    sample_rows: Annotated[int, typer.Option(help="failing rows sampled per failed check (0: the default)")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Run the checks of SUITE over DATASET: one line per check, PASS, FAIL or WARN (a
    failed non-blocking check). Exits 2 when a blocking check failed."""
    path = Path(suite)
    if path.is_file():
        request = ValidateRequest(
            dataset, version, suite_text=path.read_text(encoding="utf-8"), sample_rows=sample_rows
        )
    else:
        request = ValidateRequest(dataset, version, suite=suite, sample_rows=sample_rows)
    try:
        with open_client() as lh:
            report = lh.validation.validate(request)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(report_to_pb(report))
    else:
        for line in report_lines(report):
            typer.echo(line)
    if not report.passed:
        raise typer.Exit(CHECKS_FAILED_EXIT)


def report_lines(report: ValidationReport) -> list[str]:
    verdict = "passed" if report.passed else f"FAILED ({len(report.failed)} blocking)"
    warned = f", {len(report.warnings)} warning(s)" if report.warnings else ""
    suite = f" suite {report.suite!r}" if report.suite else ""
    lines = [f"{report.dataset} v{report.version}: {report.rows} rows,{suite} {verdict}{warned}"]
    for check in report.checks:
        mark = "PASS" if check.passed else ("FAIL" if check.blocking else "WARN")
        lines.append(f"  {mark}  {check.name}: {check.message}")
        for row in check.sample[:SHOWN_SAMPLE_ROWS]:
            lines.append(f"          {json.dumps(row, default=str, sort_keys=True)}")
    if report.warning:
        lines.append(f"  note: {report.warning}")
    return lines
