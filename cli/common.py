"""What every CLI command shares: the settings, a client through the gateway, how a
refused call and a response are printed. A command group lives in its own module
(``cli/<group>.py``, a ``typer.Typer``) and is added to the app in ``cli/app.py``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from google.protobuf import json_format

from lakehouse.api.errors import LakehouseError
from lakehouse.servers.settings import Settings

JsonFlag = Annotated[bool, typer.Option("--json", help="print the full response as JSON")]


def load_settings() -> Settings:
    return Settings()


def open_client():
    from lakehouse.client import LakehouseClient

    s = load_settings()
    return LakehouseClient(f"{s.host}:{s.port}", settings=s.gateway_channel)


def fail(exc: LakehouseError) -> None:
    typer.echo(f"error: {exc.code} {exc.reason}: {exc.message}", err=True)
    raise typer.Exit(1)


def parse_json_option(raw: str, option: str) -> dict | None:
    """A JSON-object option (``--filter``); a bad one exits like a refused request."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        typer.echo(f"error: {option}: not JSON: {exc}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(value, dict):
        typer.echo(f'error: {option}: expected a JSON object, e.g. \'{{"state": "IL"}}\'', err=True)
        raise typer.Exit(2)
    return value


def echo_json(message, **kw) -> None:
    """A response message as JSON, with the proto's field names."""
    typer.echo(json_format.MessageToJson(message, preserving_proto_field_name=True, **kw))


def echo_lines(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)


def echo_listing(fetch, as_response, line, plural_name: str, as_json: bool) -> None:
    """A list command: one line per entry (a note on stderr when there is none), or --json."""
    try:
        with open_client() as lh:
            listed = fetch(lh)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(as_response(listed))
        return
    for entry in listed:
        typer.echo(line(entry))
    if not listed:
        typer.echo(f"(no {plural_name})", err=True)
