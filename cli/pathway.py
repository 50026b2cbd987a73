"""`lakehouse pathway record|nearest|replay|hash|list`: the pathway memory from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lakehouse.api.errors import LakehouseError
from lakehouse.api.pathway import (
    Pathway,
    PathwayStep,
    RecordRequest,
    ReplayResult,
    bucket_vector_to_pb,
    nearest_to_pb,
    pathway_to_pb,
    replay_to_pb,
)
from lakehouse.cli.common import JsonFlag, echo_json, echo_lines, fail, open_client

pathway = typer.Typer(no_args_is_help=True, help="Pathway memory: record, nearest, replay, hash, list.")
# Exit code of `pathway replay` when a step did not succeed (the replay itself ran).
REPLAY_FAILED_EXIT = 1
Inputs = Annotated[
    list[str] | None, typer.Option("--input", "-i", help="NAME=VALUE (VALUE as JSON when it parses), repeatable")
]


def _inputs(pairs: list[str] | None) -> dict:
    values: dict = {}
    for pair in pairs or ():
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--input")
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    return values


def _read(path: Path | None, option: str) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"error: {option}: cannot read {path}: {exc}", err=True)
        raise typer.Exit(2) from None


def _steps(text: str) -> tuple[PathwayStep, ...]:
    """--steps: a JSON list of {id, mode, args?, depends_on?, prompt?, when?}."""
    if not text:
        return ()
    try:
        raw = json.loads(text)
        return tuple(
            PathwayStep(
                id=s["id"],
                mode=s["mode"],
                args=s.get("args", {}),
                depends_on=tuple(s.get("depends_on", ())),
                prompt=s.get("prompt", ""),
                when=s.get("when", ""),
            )
            for s in raw
        )
    except (ValueError, TypeError, KeyError) as exc:
        typer.echo(f"error: --steps: expected a JSON list of steps with id and mode: {exc}", err=True)
        raise typer.Exit(2) from None


def pathway_line(p: Pathway) -> str:
    return f"{p.id}  {len(p.steps)} steps  {' > '.join(p.modes)}  {p.task}"


def replay_lines(r: ReplayResult) -> list[str]:
    ok = "ok" if r.ok else "FAILED"
    lines = [f"replay of {r.pathway_id}: {ok} (run {r.run_id or 'none'})"]
    for s in r.steps:
        why = f" {s.reason}: {s.error}" if s.reason or s.error else ""
        lines.append(f"  {s.step:<16} {s.mode:<20} {s.status}{why}")
    lines += [f"  flag {f.kind} on {f.step}: {f.detail}" for f in r.flags]
    return lines


@pathway.command("record")
def pathway_record(
    task: Annotated[str, typer.Option(help="the task in words (default for a run: its workflow and text inputs)")] = "",
    run: Annotated[str, typer.Option("--run", help="record this finished, succeeded workflow run")] = "",
    yaml: Annotated[Path | None, typer.Option(help="the run's workflow file (a run of YAML text)")] = None,
    workflow: Annotated[str, typer.Option(help="run this workflow (a file or a known name), then record it")] = "",
    steps: Annotated[Path | None, typer.Option(help="a JSON file of steps to record as they are")] = None,
    inputs: Inputs = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a pathway: a workflow run (--run, or --workflow to run one now) or --steps."""
    from lakehouse.api.workflows import SUCCEEDED, RunRequest

    yaml_text = _read(yaml, "--yaml")
    values = _inputs(inputs)
    try:
        with open_client() as lh:
            if workflow:
                path = Path(workflow)
                source = RunRequest(yaml=_read(path, "--workflow")) if path.is_file() else RunRequest(name=workflow)
                done = lh.workflows.run(RunRequest(yaml=source.yaml, name=source.name, inputs=values))
                if done.status != SUCCEEDED:
                    typer.echo(f"error: the run {done.run_id} {done.status}: {done.error}", err=True)
                    raise typer.Exit(1)
                request = RecordRequest(task=task, run_id=done.run_id, yaml=source.yaml)
            elif run:
                request = RecordRequest(task=task, run_id=run, yaml=yaml_text)
            else:
                request = RecordRequest(task=task, steps=_steps(_read(steps, "--steps")), inputs=values)
            recorded = lh.pathways.record(request)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(pathway_to_pb(recorded))
    else:
        typer.echo(pathway_line(recorded))


@pathway.command("nearest")
def pathway_nearest(
    task: str,
    k: Annotated[int, typer.Option(help="pathways returned (0: the server's default)")] = 0,
    min_score: Annotated[float | None, typer.Option(help="only above this cosine (default: the server's)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The recorded pathways nearest a task, best first."""
    try:
        with open_client() as lh:
            result = lh.pathways.nearest(task, k, min_score)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(nearest_to_pb(result))
        return
    echo_lines([f"{m.rank:>3}  {m.score:.4f}  {pathway_line(m.pathway)}" for m in result.matches])
    if not result.matches:
        typer.echo(f"(no pathway is near; {result.searched} compared)", err=True)


@pathway.command("replay")
def pathway_replay(pathway_id: str, inputs: Inputs = None, as_json: JsonFlag = False) -> None:
    """Run a recorded pathway again; exit 1 unless every step succeeded."""
    try:
        with open_client() as lh:
            result = lh.pathways.replay(pathway_id, _inputs(inputs))
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(replay_to_pb(result))
    else:
        echo_lines(replay_lines(result))
    if not result.ok:
        raise typer.Exit(REPLAY_FAILED_EXIT)


@pathway.command("hash")
def pathway_hash(
    text: Annotated[str, typer.Argument(help="the text (or --file)")] = "",
    file: Annotated[Path | None, typer.Option(help="hash this file's text instead")] = None,
    as_json: JsonFlag = False,
) -> None:
    """A text's bucket vector: 128 bytes of little-endian float32, in hex."""
    body = _read(file, "--file") if file is not None else text
    try:
        with open_client() as lh:
            vector = lh.pathways.bucket_vector(body)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(bucket_vector_to_pb(vector))
    else:
        typer.echo(vector.hex)


@pathway.command("list")
def pathway_list(
    page_size: Annotated[int, typer.Option(help="pathways per page (0: the server's default)")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Recorded pathways, in recording order."""
    from lakehouse.v1 import pathway_pb2

    listed: list[Pathway] = []
    try:
        with open_client() as lh:
            token = ""
            while True:
                page, token, _ = lh.pathways.list(page_size, token)
                listed += page
                if not token:
                    break
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(pathway_pb2.ListPathwaysResponse(pathways=[pathway_to_pb(p) for p in listed], total=len(listed)))
        return
    echo_lines([pathway_line(p) for p in listed])
    if not listed:
        typer.echo("(no pathways)", err=True)
