"""`lakehouse auth ...`: principals, API keys, profiles, and who the current key is.

Commands send the key in LAKEHOUSE_API_KEY (the bootstrap admin key is in
<home>/auth/admin.key after the first start with auth on)."""

from __future__ import annotations

from typing import Annotated

import typer

from lakehouse.api import auth as api
from lakehouse.api.errors import LakehouseError
from lakehouse.cli.common import JsonFlag, echo_json, fail, open_client
from lakehouse.v1 import auth_pb2

auth = typer.Typer(no_args_is_help=True, help=__doc__)
principal = typer.Typer(no_args_is_help=True, help="Users and services that hold keys.")
key = typer.Typer(no_args_is_help=True, help="API keys: created (shown once) and revoked.")
profile = typer.Typer(no_args_is_help=True, help="What a principal may see and do.")
auth.add_typer(principal, name="principal")
auth.add_typer(key, name="key")
auth.add_typer(profile, name="profile")


def _run(fn):
    try:
        with open_client() as lh:
            return fn(lh.auth)
    except LakehouseError as exc:
        fail(exc)


def _profile_line(p: api.Profile) -> str:
    scope = "  ".join(
        f"{k}={','.join(v) or '-'}"
        for k, v in (("buckets", p.buckets), ("datasets", p.datasets), ("corpora", p.corpora))
    )
    return f"{p.name}  {p.principal}  {p.role}  {scope}"


@principal.command("create")
def principal_create(
    name: str,
    kind: Annotated[str, typer.Option(help="user or service")] = api.USER,
    as_json: JsonFlag = False,
) -> None:
    """Create a principal."""
    made = _run(lambda a: a.create_principal(name, kind))
    echo_json(api.principal_to_pb(made)) if as_json else typer.echo(f"created {made.kind} {made.name}")


@principal.command("list")
def principal_list(as_json: JsonFlag = False) -> None:
    """Every principal."""
    listed = _run(lambda a: a.list_principals())
    if as_json:
        echo_json(auth_pb2.ListPrincipalsResponse(principals=[api.principal_to_pb(p) for p in listed]))
        return
    for p in listed:
        typer.echo(f"{p.name}  {p.kind}")


@key.command("create")
def key_create(
    principal_name: Annotated[str, typer.Argument(metavar="PRINCIPAL")],
    ttl: Annotated[int, typer.Option(help="seconds until it expires (0: the server's default)")] = 0,
    description: Annotated[str, typer.Option(help="what the key is for")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create a key; its secret is printed once (on stdout, alone, so it can be captured)."""
    made = _run(lambda a: a.create_key(principal_name, ttl, description))
    if as_json:
        echo_json(auth_pb2.CreatedKey(key=api.key_to_pb(made.key), secret=made.secret))
        return
    typer.echo(f"key {made.key.key_id} for {made.key.principal}; the secret is shown only now:", err=True)
    typer.echo(made.secret)


@key.command("revoke")
def key_revoke(key_id: str, as_json: JsonFlag = False) -> None:
    """Revoke a key by its id."""
    revoked = _run(lambda a: a.revoke_key(key_id))
    echo_json(api.key_to_pb(revoked)) if as_json else typer.echo(f"revoked {revoked.key_id}")


@profile.command("create")
def profile_create(
    name: str,
    principal_name: Annotated[str, typer.Option("--principal", help="who it binds")],
    role: Annotated[str, typer.Option(help="reader, writer or admin")] = api.READER,
    bucket: Annotated[list[str], typer.Option("--bucket", help="a bucket, repeatable ('*': all)")] = [],  # noqa: B006
    dataset: Annotated[list[str], typer.Option("--dataset", help="a dataset, repeatable ('*': all)")] = [],  # noqa: B006
    corpus: Annotated[list[str], typer.Option("--corpus", help="a corpus, repeatable ('*': all)")] = [],  # noqa: B006
    as_json: JsonFlag = False,
) -> None:
    """Create a profile binding a principal to buckets, datasets and corpora with a role."""
    wanted = api.Profile(name, principal_name, role, tuple(bucket), tuple(dataset), tuple(corpus))
    made = _run(lambda a: a.create_profile(wanted))
    echo_json(api.profile_to_pb(made)) if as_json else typer.echo(f"created profile {_profile_line(made)}")


@profile.command("list")
def profile_list(
    principal_name: Annotated[str, typer.Option("--principal", help="only this principal's")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Profiles, by name."""
    listed = _run(lambda a: a.list_profiles(principal_name))
    if as_json:
        echo_json(auth_pb2.ListProfilesResponse(profiles=[api.profile_to_pb(p) for p in listed]))
        return
    for p in listed:
        typer.echo(_profile_line(p))


@profile.command("delete")
def profile_delete(name: str) -> None:
    """Delete a profile."""
    _run(lambda a: a.delete_profile(name))
    typer.echo(f"deleted profile {name}")


@auth.command("whoami")
def whoami(as_json: JsonFlag = False) -> None:
    """The principal, key and profiles of LAKEHOUSE_API_KEY."""
    who = _run(lambda a: a.whoami())
    if as_json:
        echo_json(api.identity_to_pb(who))
        return
    if not who.auth_enabled:
        typer.echo("auth is off: every caller is anonymous and unscoped")
        return
    typer.echo(
        f"{who.principal.name} ({who.principal.kind}), key {who.key.key_id if who.key else '-'}, role {who.role or '-'}"
    )
    for p in who.profiles:
        typer.echo(f"  {_profile_line(p)}")
