"""`lakehouse truth check|list`: truth rules checked on a record or a dataset from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakehouse.api.errors import LakehouseError
from lakehouse.api.truth import CheckRequest, CheckResult, listing_to_pb, result_to_pb
from lakehouse.cli.common import JsonFlag, echo_json, echo_lines, fail, open_client, parse_json_option

truth = typer.Typer(no_args_is_help=True, help="Truth rules: check a record or a dataset, list the rule sets.")
# Exit code of `truth check` when some rule is broken (the check itself succeeded).
VIOLATIONS_EXIT = 3


def result_lines(result: CheckResult) -> list[str]:
    target = f"dataset {result.dataset} v{result.dataset_version}" if result.dataset else "record"
    lines = [
        f"{result.violation_count} violations of rule set {result.rule_set} in {result.records} records ({target})"
    ]
    width = max((len(c.rule_id) for c in result.counts), default=0)
    lines += [
        f"  {c.rule_id:<{width}}  {c.severity:<7}  {c.violations} of {c.applicable} applicable" for c in result.counts
    ]
    lines += [f"  {v.severity}: {v.rule_id} {v.key}".rstrip() for v in result.violations]
    if result.truncated:
        lines.append(f"  ... {result.violation_count - len(result.violations)} more (raise --limit)")
    if result.report_dataset:
        lines.append(f"report: {result.report_dataset} v{result.report_version}")
    return lines


@truth.command("check")
def truth_check(
    rules: Annotated[Path | None, typer.Option("--rules", help="a TOML rule file", dir_okay=False)] = None,
    rule_set: Annotated[str, typer.Option("--rule-set", help="a known rule set (see `truth list`)")] = "",
    dataset: Annotated[str, typer.Option(help="check every row of this dataset")] = "",
    record: Annotated[str, typer.Option(help='check this record, a JSON object: \'{"state": "IL"}\'')] = "",
    key: Annotated[str, typer.Option(help="the field naming a record (default: the rule set's key)")] = "",
    limit: Annotated[int, typer.Option(help="violations listed (default: the server's)")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Check a record or a dataset against rules; exits 3 when a rule is broken."""
    text = ""
    if rules is not None:
        try:
            text = rules.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            typer.echo(f"error: --rules: cannot read {rules}: {exc}", err=True)
            raise typer.Exit(2) from None
    parsed = parse_json_option(record, "--record")
    request = CheckRequest(
        rules=text,
        rules_source=str(rules) if rules is not None else "",
        rule_set=rule_set,
        record=parsed,
        dataset=dataset,
        key=key,
        limit=limit,
    )
    try:
        with open_client() as lh:
            result = lh.truth.check(request)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(result_to_pb(result))
    else:
        echo_lines(result_lines(result))
    if not result.ok:
        raise typer.Exit(VIOLATIONS_EXIT)


@truth.command("list")
def truth_list(as_json: JsonFlag = False) -> None:
    """Known rule sets: LAKEHOUSE_HOME/rules/*.toml and the shipped examples."""
    try:
        with open_client() as lh:
            listing = lh.truth.list_rule_sets()
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(listing_to_pb(listing))
        return
    echo_lines([f"{i.name}  ({i.origin}, {len(i.rules)} rules)  {i.description}" for i in listing.rule_sets])
    for line in listing.invalid:
        typer.echo(f"invalid: {line}", err=True)
