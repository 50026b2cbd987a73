"""`lakehouse`: run the system (up, down, status, serve, gateway) and use it
(ingest, sql, datasets, corpora, search, embed, ...). Every client command talks gRPC
through the gateway at LAKEHOUSE_HOST:LAKEHOUSE_PORT (default 127.0.0.1:8080), prints a
short summary, and prints the full response instead with --json."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from google.protobuf import json_format
from typer.core import TyperGroup

from lakehouse.api.errors import LakehouseError
from lakehouse.api.ingest import ObjectRef
from lakehouse.cli import format as fmt
from lakehouse.cli.auth import auth
from lakehouse.cli.common import (
    JsonFlag,
    echo_json,
    echo_lines,
    echo_listing,
    fail,
    load_settings,
    open_client,
    parse_json_option,
)
from lakehouse.cli.distill import distill
from lakehouse.cli.drift import drift
from lakehouse.cli.mcp import mcp
from lakehouse.cli.pathway import pathway
from lakehouse.cli.truth import truth
from lakehouse.cli.ui import ui
from lakehouse.cli.validate import validate

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.command()
def up(services: Annotated[str, typer.Option(help="'all' or a comma list")] = "all") -> None:
    """Start the system (one server process + Envoy) and return once it is ready."""
    from lakehouse.servers import supervisor
    from lakehouse.servers.services import parse_components

    s = load_settings()
    state = supervisor.up(s, services)
    typer.echo(f"Lakehouse is up (home {s.home_dir})")
    typer.echo(f"  REST: {state.rest_url}/v1/health")
    typer.echo(f"  gRPC: {state.gateway}")
    components = parse_components(services)
    if "ui" in components:
        typer.echo(f"  UI:   {state.rest_url}/")
    if "mcp" in components:
        typer.echo(f"  MCP:  {state.rest_url}{s.mcp.http_path} (streamable HTTP)")
    if s.auth.enabled and s.auth_bootstrap_key_file.exists():
        typer.echo(f"  auth: on; admin key in {s.auth_bootstrap_key_file} (export LAKEHOUSE_API_KEY=$(cat ...))")


@app.command()
def down() -> None:
    """Stop everything `up` started."""
    from lakehouse.servers import supervisor

    typer.echo("stopped" if supervisor.down(load_settings()) else "nothing to stop")


@app.command()
def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="print the processes and the whole health answer as JSON")
    ] = False,
) -> None:
    """Show the processes `up` started and the health they report: a line per upstream
    (components, address, pid, state) with its services below, the gateway, an overall line.

    Exits 1 when the system is not running or any upstream is unavailable (also with --json)."""
    from lakehouse.api.system import SERVING
    from lakehouse.servers import supervisor

    info = supervisor.status(load_settings())
    if info.get("running"):
        try:
            with open_client() as lh:
                info["health"] = lh.health()
        except LakehouseError as exc:
            info["health"] = {"error": str(exc)}
    typer.echo(json.dumps(info, indent=2) if as_json else fmt.status_summary(info))
    serving = info.get("running") and info["health"].get("status") == SERVING
    raise typer.Exit(0 if serving else 1)


@app.command()
def serve(
    services: Annotated[str, typer.Option(help="'all' or a comma list of storage,catalog,ingest,query")] = "all",
    grpc_port: Annotated[int | None, typer.Option(help="gRPC port (0: any free port)")] = None,
    upstream: Annotated[
        list[str],
        typer.Option(help="COMPONENT=host:port (or =local) for a component used but not hosted here, repeatable"),
    ] = [],  # noqa: B006
    ready_file: Annotated[Path | None, typer.Option(help="write {pid,address} here once serving")] = None,
    insecure: Annotated[
        bool, typer.Option(help="allow a non-loopback address with auth off (anyone reaching it can do anything)")
    ] = False,
) -> None:
    """Run a gRPC server hosting the given services in the foreground."""
    import logging

    from lakehouse.servers.app import serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from lakehouse.servers.settings import check_upstreams

    s = load_settings()
    given = dict(item.partition("=")[::2] for item in upstream)
    try:
        s = s.model_copy(update={"upstreams": check_upstreams({**s.upstreams, **given})})
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--upstream") from None
    if grpc_port is not None:
        s.server.grpc_port = grpc_port
    if insecure:
        s.auth.insecure = True

    def on_ready(server) -> None:
        typer.echo(f"serving {services} on {server.address}")
        if s.auth.enabled and s.auth_bootstrap_key_file.exists():
            typer.echo(f"auth is on; the bootstrap admin key is in {s.auth_bootstrap_key_file}")
        if ready_file is not None:
            tmp = ready_file.with_suffix(".tmp")
            http = {name: component.address for name, component in server.http.items()}
            tmp.write_text(json.dumps({"pid": os.getpid(), "address": server.address, "http": http}))
            tmp.replace(ready_file)

    serve_forever(s, services, on_ready=on_ready)


@app.command()
def gateway(
    upstream: Annotated[
        list[str],
        typer.Option(
            help="component=host:port, repeatable; 'all=host:port' for every gRPC component;"
            " ui=host:port and mcp=host:port for the HTTP ones"
        ),
    ],
) -> None:
    """Run Envoy in the foreground in front of already-running servers."""
    import signal
    import threading

    from lakehouse.gateway.config import GatewayConfig
    from lakehouse.gateway.process import pid_alive, start_envoy
    from lakehouse.servers.services import COMPONENTS, HTTP_COMPONENTS

    s = load_settings()
    upstreams: dict[str, str] = {}
    http: dict[str, str] = {}
    for item in upstream:
        name, _, address = item.partition("=")
        if name in HTTP_COMPONENTS:
            http[name] = address
            continue
        if name != "all" and name not in COMPONENTS:
            known = ["all", *COMPONENTS, *HTTP_COMPONENTS]
            raise typer.BadParameter(f"unknown component {name!r}; use one of {known}", param_hint="--upstream")
        for component in COMPONENTS if name == "all" else [name]:
            upstreams[component] = address
    config = GatewayConfig.from_settings(
        s, upstreams, name="gateway", ui_upstream=http.get("ui", ""), mcp_upstream=http.get("mcp", "")
    )
    envoy = start_envoy(config, s.run_dir, "gateway")
    typer.echo(f"gateway on {s.host}:{s.port} (admin socket {envoy.admin_socket})")
    # SIGTERM (a service manager) and SIGINT (Ctrl-C; a background job starts with it
    # ignored) both stop Envoy with us: it must not outlive the command.
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while pid_alive(envoy.pid) and not stop.wait(1):
            pass
    finally:
        envoy.stop()


@app.command()
def ingest(
    dataset: str,
    file: Path,
    format: Annotated[
        str, typer.Option(help="csv, tsv, json, ndjson, parquet, xlsx, pdf, zip (default: detect; a folder: zip)")
    ] = "",
    mode: Annotated[str, typer.Option(help="create, append, replace, upsert, delete")] = "append",
    primary_key: Annotated[list[str], typer.Option("--primary-key", "-k", help="key column, repeatable")] = [],  # noqa: B006
    schema: Annotated[str, typer.Option(help='explicit schema, e.g. "id:int64,name:string"')] = "",
    delimiter: Annotated[str, typer.Option(help="CSV field delimiter: one character, or \\t")] = "",
    quote: Annotated[str, typer.Option(help="CSV quote character, or none")] = "",
    escape: Annotated[str, typer.Option(help="CSV escape character, or none")] = "",
    header: Annotated[str, typer.Option(help="true, false or auto: is line 1 the column names?")] = "",
    skip: Annotated[int | None, typer.Option(help="leading lines to skip (a title, notes)")] = None,
    comment: Annotated[str, typer.Option(help="comment-line character, or none")] = "",
    null: Annotated[list[str], typer.Option("--null", help="string read as NULL, repeatable")] = [],  # noqa: B006
    encoding: Annotated[str, typer.Option(help="utf-8, utf-16, latin-1 or cp1252")] = "",
    compression: Annotated[str, typer.Option(help="auto, gzip, zstd or none")] = "",
    columns: Annotated[list[str], typer.Option("--column", help="column name to use, repeatable, in order")] = [],  # noqa: B006
    sheet: Annotated[str, typer.Option(help="XLSX sheet: a name, a 0-based index, or * for every sheet")] = "",
    sheet_dataset_pattern: Annotated[
        str, typer.Option(help="with --sheet '*': dataset per sheet, e.g. '{dataset}_{sheet}'")
    ] = "",
    embed_corpus: Annotated[
        str, typer.Option(help="embed-on-ingest into this corpus (documents: one item per chunk)")
    ] = "",
    embed_id_column: Annotated[str, typer.Option(help="tables: the column of item ids")] = "",
    embed_text_column: Annotated[
        list[str], typer.Option("--embed-text-column", help="tables: a column to embed, repeatable")
    ] = [],  # noqa: B006
    embed_metadata_column: Annotated[
        list[str], typer.Option("--embed-metadata-column", help="tables: a column copied to metadata, repeatable")
    ] = [],  # noqa: B006
    checks: Annotated[
        str, typer.Option("--checks", help="a stored check suite the new version must pass before it is committed")
    ] = "",
    bucket: Annotated[
        str, typer.Option("--bucket", help="FILE is an object key in this registered bucket: nothing is uploaded")
    ] = "",
    as_json: JsonFlag = False,
) -> None:
    """Upload FILE into DATASET (streamed), with progress on stderr and a summary.

    With --bucket, FILE names an object in that bucket (a raw file a team landed there),
    which the server reads itself.

    FILE may be a folder: every PDF below it goes up as one archive of résumés, and
    each file that cannot be read is listed by name while the rest land.
    --json prints the whole result instead, with the schema and every read option."""
    started = time.monotonic()
    embed = None
    if embed_corpus or embed_id_column or embed_text_column or embed_metadata_column:
        embed = {
            "embed_corpus": embed_corpus,
            "embed_id_column": embed_id_column,
            "embed_text_columns": embed_text_column,
            "embed_metadata_columns": embed_metadata_column,
        }
    try:
        with open_client() as lh:
            result = lh.ingest(
                dataset,
                ObjectRef(bucket, file.as_posix()) if bucket else file,
                format=format,
                mode=mode,
                primary_key=primary_key,
                schema=schema,
                on_progress=lambda p: typer.echo(f"  {p.phase}: {p.bytes_done} bytes, {p.rows_done} rows", err=True),
                delimiter=delimiter,
                quote=quote,
                escape=escape,
                header=header,
                skip=skip,
                comment=comment,
                null=null,
                encoding=encoding,
                compression=compression,
                columns=columns,
                sheet=sheet,
                sheet_dataset_pattern=sheet_dataset_pattern,
                embed=embed,
                checks=checks,
            )
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(result)
    else:
        echo_lines(fmt.ingest_lines(result, time.monotonic() - started))


@app.command()
def sql(
    query: str,
    max_rows: Annotated[
        int, typer.Option(help="row cap (0: the query.max_json_rows setting; for JSON the server's maximum applies)")
    ] = 0,
    output: Annotated[str, typer.Option(help="table or json")] = "table",
    as_json: Annotated[bool, typer.Option("--json", help="same as --output json")] = False,
) -> None:
    """Run one read-only SQL statement over the catalog's datasets.

    The table is read as Arrow and shown by column type; JSON is the Sql RPC's capped answer."""
    if output not in ("table", "json"):
        raise typer.BadParameter(f"{output!r} is not table or json", param_hint="--output")
    if max_rows < 0:
        raise typer.BadParameter("must not be negative", param_hint="--max-rows")
    try:
        with open_client() as lh:
            if as_json or output == "json":
                result = lh.sql(query, max_rows=max_rows)
                typer.echo(json.dumps(fmt.sql_json(result.columns, result.rows, result.truncated)))
                return
            table, truncated = fmt.take_rows(lh.query_reader(query), max_rows or load_settings().query.max_json_rows)
    except LakehouseError as exc:
        fail(exc)
    echo_lines(fmt.table_lines(table))
    if truncated:
        typer.echo(f"(truncated at {table.num_rows} rows)", err=True)


@app.command()
def datasets(
    name: Annotated[str | None, typer.Argument(help="show one dataset")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List datasets, or show one with its current version."""
    from lakehouse.v1 import catalog_pb2

    try:
        with open_client() as lh:
            if name:
                dataset = lh.get_dataset(name)
                if as_json:
                    echo_json(dataset)
                else:
                    echo_lines(fmt.dataset_lines(dataset))
                return
            listed = lh.list_datasets()
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(catalog_pb2.ListDatasetsResponse(datasets=listed))
        return
    for d in listed:
        typer.echo(f"{d.name}\tv{d.current.version}\t{d.current.base_rows} rows\t{d.current.size_bytes} bytes")


# Exit status of `verify` when it found damaged or missing files (1 is an error).
VERIFY_PROBLEMS_EXIT = 2


@app.command()
def verify(
    dataset: Annotated[str | None, typer.Argument(help="one dataset (default: all)")] = None,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="every kept version")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Re-hash committed files against their manifests (like git fsck); exits 2 when any
    file is missing or differs."""
    from lakehouse.v1 import catalog_pb2

    try:
        with open_client() as lh:
            report = lh.verify_datasets(dataset or "", all_versions=all_versions)
    except LakehouseError as exc:
        fail(exc)
    problems = [
        {
            "dataset": p.dataset,
            "version": p.version,
            "path": p.path,
            "kind": catalog_pb2.FileProblemKind.Name(p.kind).removeprefix("FILE_PROBLEM_KIND_").lower(),
            "expected": p.expected,
            "actual": p.actual,
        }
        for p in report.problems
    ]
    summary = {
        "datasets_checked": report.datasets_checked,
        "files_checked": report.files_checked,
        "bytes_checked": report.bytes_checked,
        "problems": problems,
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        for p in problems:
            typer.echo(f"{p['kind']}\t{p['dataset']}\tv{p['version']}\t{p['path']}\t{p['expected']}\t{p['actual']}")
        typer.echo(
            f"{report.datasets_checked} datasets, {report.files_checked} files, {report.bytes_checked} bytes"
            f" checked: {len(problems) or 'no'} problem{'s' if len(problems) != 1 else ''}",
            err=True,
        )
    if problems:
        raise typer.Exit(VERIFY_PROBLEMS_EXIT)


_DURATION_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _duration_s(text: str) -> float:
    """Seconds in a duration such as "90", "90s", "15m", "12h" or "7d"."""
    number = text.strip().rstrip("smhd")
    unit = text.strip()[len(number) :]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if unit not in _DURATION_UNITS or value < 0:
        raise typer.BadParameter(f"{text!r} is not a duration like 0, 90s, 15m, 12h or 7d")
    return value * _DURATION_UNITS[unit]


@app.command()
def vacuum(
    dataset: Annotated[str | None, typer.Argument(help="one dataset (default: all)")] = None,
    retain_versions: Annotated[
        int | None, typer.Option(help="versions to keep besides the current one (default: server setting)")
    ] = None,
    retain_duration: Annotated[
        str | None,
        typer.Option(help="also keep versions superseded less than this ago: 0, 90s, 15m, 12h, 7d (default: server)"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report what would be removed, remove nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the response as JSON")] = False,
) -> None:
    """Expire old versions and delete the files no kept version names."""
    seconds = None if retain_duration is None else _duration_s(retain_duration)
    try:
        with open_client() as lh:
            resp = lh.vacuum_datasets(
                dataset or "", retain_versions=retain_versions, retain_duration_s=seconds, dry_run=dry_run
            )
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        typer.echo(
            json_format.MessageToJson(resp, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
        )
        return
    for d in resp.datasets:
        expired = ",".join(f"v{v}" for v in d.expired_versions) or "-"
        typer.echo(f"{d.dataset}\texpired {expired}\t{d.files_deleted} files\t{d.bytes_deleted} bytes")
    if resp.dry_run:
        typer.echo("(dry run: nothing was removed)", err=True)


@app.command()
def compact(
    dataset: str,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Fold DATASET's deltas into new base files, committed as a new version."""
    try:
        with open_client() as lh:
            result = lh.compact_dataset(dataset)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        typer.echo(json_format.MessageToJson(result, preserving_proto_field_name=True))
    elif result.deduplicated:
        typer.echo(f"{dataset} v{result.version} has no deltas: nothing to compact")
    else:
        typer.echo(f"{dataset} compacted into v{result.version}: {result.rows} rows, {result.files} files")


class _ShowByDefault(TyperGroup):
    """`corpora NAME` means `corpora show NAME` (a corpus named like a command: use show)."""

    def resolve_command(self, ctx, args):
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            args = ["show", *args]
        return super().resolve_command(ctx, args)


corpora = typer.Typer(
    cls=_ShowByDefault,
    invoke_without_command=True,
    help="Vector corpora: list (the default), show NAME (or just NAME), create, delete, trials, rebuild, swap,"
    " rollback.",
)
app.add_typer(corpora, name="corpora")


@corpora.callback()
def corpora_default(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="with no command: print the list as JSON")] = False,
) -> None:
    """List corpora (`corpora NAME` shows one)."""
    if ctx.invoked_subcommand is None:
        corpora_list(as_json)


@corpora.command("list")
def corpora_list(as_json: JsonFlag = False) -> None:
    """One line per corpus: name, items, embedding model, dimension and metric."""
    from lakehouse.v1 import vector_pb2

    echo_listing(
        lambda lh: lh.list_corpora(),
        lambda x: vector_pb2.ListCorporaResponse(corpora=x),
        fmt.corpus_line,
        "corpora",
        as_json,
    )


@corpora.command("show")
def corpora_show(name: str, as_json: JsonFlag = False) -> None:
    """One corpus with its generations, size and HNSW parameters."""
    _echo_corpus(lambda lh: lh.get_corpus(name), as_json)


@corpora.command("create")
def corpora_create(
    name: str,
    model: Annotated[
        str, typer.Option(help="embedding model: provider/model or a provider (default: the configured one)")
    ] = "",
    dimension: Annotated[int, typer.Option(help="vector dimension (default: the model's)")] = 0,
    metric: Annotated[str, typer.Option(help="cosine, l2 or ip (default: cosine)")] = "",
    description: Annotated[str, typer.Option(help="what the corpus holds and what it is for")] = "",
    tag: Annotated[list[str] | None, typer.Option("--tag", help="a label (repeat for several)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an empty corpus; items come from the client (add_items) or build_corpus."""
    try:
        with open_client() as lh:
            corpus = lh.create_corpus(
                name,
                embedding_model=model,
                dimension=dimension,
                metric=metric,
                description=description,
                tags=tag or [],
            )
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(corpus)
    else:
        typer.echo("created " + fmt.corpus_line(corpus))


@corpora.command("trials")
def corpora_trials(
    name: Annotated[str, typer.Argument(help="one corpus (default: every corpus you see)")] = "",
    limit: Annotated[int, typer.Option(help="newest this many (0: the server's default)")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Index trials, newest first: each build and rebuild with its parameters, time, size and probe recall."""
    from lakehouse.v1 import vector_pb2

    echo_listing(
        lambda lh: lh.list_index_trials(name, limit),
        lambda x: vector_pb2.ListIndexTrialsResponse(trials=x),
        fmt.trial_line,
        "index trials",
        as_json,
    )


@corpora.command("rebuild")
def corpora_rebuild(
    name: str,
    hnsw_m: Annotated[int, typer.Option(help="new HNSW M (0: unchanged)")] = 0,
    ef_construction: Annotated[int, typer.Option(help="new efConstruction (0: unchanged)")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Build a new generation in the background; `corpora swap` makes it active."""
    _echo_corpus(lambda lh: lh.rebuild_corpus(name, hnsw_m=hnsw_m, ef_construction=ef_construction), as_json)


@corpora.command("swap")
def corpora_swap(
    name: str,
    generation: Annotated[int, typer.Option(help="generation to activate (0: the newest built)")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Make the newest built (or the given) generation active."""
    _echo_corpus(lambda lh: lh.swap_generation(name, generation), as_json)


@corpora.command("rollback")
def corpora_rollback(name: str, as_json: JsonFlag = False) -> None:
    """Make the previous generation active again."""
    _echo_corpus(lambda lh: lh.rollback_generation(name), as_json)


def _echo_corpus(run, as_json: bool) -> None:
    """A command whose answer is a corpus (show, rebuild, swap, rollback)."""
    try:
        with open_client() as lh:
            corpus = run(lh)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(corpus)
    else:
        echo_lines(fmt.corpus_lines(corpus))


@corpora.command("delete")
def corpora_delete(name: str, as_json: JsonFlag = False) -> None:
    """Delete a corpus and its files."""
    try:
        with open_client() as lh:
            lh.delete_corpus(name)
    except LakehouseError as exc:
        fail(exc)
    typer.echo("{}" if as_json else f"deleted corpus {name}")


@app.command()
def search(
    args: Annotated[
        list[str], typer.Argument(help="CORPUS TEXT (one corpus), or TEXT (a matrix search)", show_default=False)
    ],
    k: Annotated[int, typer.Option("--k", "-k", help="results wanted (default: the server's)")] = 0,
    corpora_list: Annotated[
        str, typer.Option("--corpora", help="matrix search over these corpora (comma list; 'all' for every one)")
    ] = "",
    filter_json: Annotated[
        str, typer.Option("--filter", help='metadata filter as JSON, e.g. \'{"state": ["IL", "WI"]}\'')
    ] = "",
    sql: Annotated[str, typer.Option(help="SQL gate: only the ids this read-only query selects")] = "",
    fusion: Annotated[str, typer.Option(help="matrix fusion: score or rrf (default: the server's)")] = "",
    model: Annotated[str, typer.Option(help="the model that will read the results (downgrade gate)")] = "",
    use_playbook: Annotated[
        bool, typer.Option("--use-playbook", help="learn from recorded outcomes of similar queries (the matrix)")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Nearest items to TEXT, best first: in one CORPUS (`search CORPUS TEXT`), or across
    corpora with the matrix (`search TEXT --corpora a,b`, or all corpora; --sql also goes
    through the matrix)."""
    if not 1 <= len(args) <= 2:
        typer.echo("error: give CORPUS TEXT, or TEXT with --corpora", err=True)
        raise typer.Exit(2)
    where = parse_json_option(filter_json, "--filter")
    corpus, text = (args[0], args[1]) if len(args) == 2 else ("", args[0])
    matrix = not corpus or bool(corpora_list or sql or fusion or model or use_playbook)
    try:
        with open_client() as lh:
            if matrix:
                names = [c for c in corpora_list.split(",") if c and c != "all"] + ([corpus] if corpus else [])
                options = {"k": k, "sql": sql, "fusion": fusion, "model": model, "include_text": True}
                options["use_playbook"] = use_playbook
                resp = lh.matrix_search(text, corpora=list(dict.fromkeys(names)), filter=where, **options)
            else:
                resp = lh.search(corpus, text=text, k=k, filter=where)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(resp)
        return
    for hit in resp.results:
        typer.echo(fmt.matrix_hit_line(hit) if matrix else fmt.hit_line(hit))
    if not resp.results:
        typer.echo("(no results)", err=True)
    if matrix:
        for line in fmt.matrix_notes(resp):
            typer.echo(line, err=True)


@app.command()
def demo(
    workers: Annotated[int, typer.Option(help="workers in the PostgreSQL table pulled in")] = 500_000,
    resumes: Annotated[int, typer.Option(help="résumé PDFs generated and ingested")] = 15_000,
    seed: Annotated[int, typer.Option(help="the world's seed (the same seed, the same people)")] = 0,
    postgres: Annotated[
        bool, typer.Option("--postgres/--no-postgres", help="pull workers from a throwaway PostgreSQL")
    ] = True,
) -> None:
    """Load the staffing demo into the running system (`lakehouse up` first): workers
    pulled from PostgreSQL, résumé PDFs with every chunk searchable, job orders,
    placements in the playbook and labelled questions. Then prints what to try."""
    from lakehouse.demo.loader import DemoLoader
    from lakehouse.demo.world import SEED, World

    world = World(seed or SEED, workers=workers, resumes=resumes)
    try:
        with open_client() as lh:
            report = DemoLoader(lh, world, lambda line: typer.echo(line, err=True), use_postgres=postgres).run()
    except LakehouseError as exc:
        fail(exc)
    typer.echo(f"demo loaded in {report.seconds:.1f}s. Try:")
    first = report.questions[0] if report.questions else "Forklift operator with OSHA-30 in IL"
    echo_lines(fmt.demo_next_steps(first))


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question, in words", show_default=False)],
    corpora_list: Annotated[str, typer.Option("--corpora", help="retrieve from these corpora (comma list)")] = "",
    filter_json: Annotated[
        str, typer.Option("--filter", help="metadata filter as JSON; replaces the derived one ('{}': none)")
    ] = "",
    sql: Annotated[str, typer.Option(help="SQL gate: only the ids this read-only query selects")] = "",
    k: Annotated[int, typer.Option("--k", "-k", help="chunks retrieved and numbered (default: the server's)")] = 0,
    use_playbook: Annotated[bool, typer.Option("--use-playbook", help="learn from recorded outcomes")] = False,
    provider: Annotated[str, typer.Option(help="chat provider (ollama, openai, anthropic): a generative answer")] = "",
    model: Annotated[str, typer.Option(help="chat model: a generative answer")] = "",
    extractive: Annotated[bool, typer.Option("--extractive", help="answer without a model")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Answer QUESTION from retrieved chunks only, citing each by its number (\\[n]): streamed to the
    terminal as it is written, then the sources. With no chat model configured the answer
    is extractive: the best candidates with their matching sentences."""
    from lakehouse.api.ask import fallback_of

    options = {
        "corpora": [c for c in corpora_list.split(",") if c],
        "filter": parse_json_option(filter_json, "--filter"),
        "sql": sql,
        "k": k,
        "use_playbook": use_playbook,
        "provider": provider,
        "model": model,
        "extractive": extractive,
    }
    answer = None
    try:
        with open_client() as lh:
            if as_json:
                echo_json(lh.ask(question, **options))
                return
            streamed = False
            for event in lh.ask_stream(question, **options):
                kind = event.WhichOneof("event")
                if kind == "retrieval":
                    typer.echo(fmt.retrieval_line(event.retrieval), err=True)
                elif kind == "token":
                    typer.echo(event.token, nl=False)
                    streamed = True
                else:
                    answer = event.answer
            if answer is not None:
                if not streamed:
                    typer.echo(answer.answer, nl=False)
                typer.echo()
    except LakehouseError as exc:
        fallback = fallback_of(exc)
        if fallback is None:
            fail(exc)
        typer.echo(f"error: {exc.code} {exc.reason}: {exc.message}", err=True)
        typer.echo(fallback.answer)
        echo_lines(fmt.citation_lines(fallback.citations))
        raise typer.Exit(1) from None
    if answer is not None:
        echo_lines(fmt.answer_notes(answer))


sources = typer.Typer(
    invoke_without_command=True,
    help="PostgreSQL sources to pull from: list (the default), add, show, delete.",
)
app.add_typer(sources, name="sources")


@sources.callback()
def sources_default(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="with no command: print the list as JSON")] = False,
) -> None:
    """List sources (never their passwords)."""
    if ctx.invoked_subcommand is None:
        sources_list(as_json)


@sources.command("list")
def sources_list(as_json: JsonFlag = False) -> None:
    """One line per source: name, user@host:port/database, whether a password is stored."""
    from lakehouse.v1 import sources_pb2

    echo_listing(
        lambda lh: lh.list_sources(),
        lambda x: sources_pb2.ListSourcesResponse(sources=x),
        fmt.source_line,
        "sources",
        as_json,
    )


@sources.command("add")
def sources_add(
    name: str,
    host: Annotated[str, typer.Option(help="PostgreSQL host name or IP address")],
    database: Annotated[str, typer.Option(help="database name")],
    user: Annotated[str, typer.Option(help="user name")],
    port: Annotated[int, typer.Option(help="TCP port")] = 5432,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from the first line of stdin")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="replace an existing source of this name")] = False,
    check: Annotated[bool, typer.Option("--check", help="sign in once before registering")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register a source. The password is asked for (not echoed) unless --password-stdin;
    the server keeps it in a file only its user can read and never shows it again."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", default="", hide_input=True, show_default=False)
    try:
        with open_client() as lh:
            created = lh.create_source(
                name,
                host=host,
                port=port,
                database=database,
                user=user,
                password=password,
                replace=replace,
                check_connection=check,
            )
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(created)
    else:
        typer.echo(("replaced " if replace else "added ") + fmt.source_line(created))


@sources.command("show")
def sources_show(name: str, as_json: JsonFlag = False) -> None:
    """One source."""
    try:
        with open_client() as lh:
            source = lh.get_source(name)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(source)
    else:
        typer.echo(fmt.source_line(source))


@sources.command("delete")
def sources_delete(name: str, as_json: JsonFlag = False) -> None:
    """Forget a source and its password (datasets pulled from it stay)."""
    try:
        with open_client() as lh:
            lh.delete_source(name)
    except LakehouseError as exc:
        fail(exc)
    typer.echo("{}" if as_json else f"deleted source {name}")


@app.command()
def pull(
    dataset: str,
    source: Annotated[str, typer.Option(help="a registered source (lakehouse sources)")],
    table: Annotated[str, typer.Option(help="table or schema.table to pull")] = "",
    query: Annotated[str, typer.Option(help="a read-only query whose rows to pull (instead of --table)")] = "",
    mode: Annotated[
        str, typer.Option(help="replace, append or upsert (default: replace; append with --incremental-column)")
    ] = "",
    key: Annotated[list[str] | None, typer.Option("--key", "-k", help="key column for upsert, repeatable")] = None,
    incremental_column: Annotated[
        str, typer.Option(help="read only rows past the last pull's largest value of this column")
    ] = "",
    reset_watermark: Annotated[
        bool, typer.Option("--reset-watermark", help="ignore the remembered watermark: read every row")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Pull a PostgreSQL table (or a read-only query's rows) into DATASET as a new version."""
    if bool(table) == bool(query):
        typer.echo("error: give --table or --query (one of them)", err=True)
        raise typer.Exit(2)
    try:
        with open_client() as lh:
            result = lh.pull(
                dataset,
                source,
                table=table,
                query=query,
                mode=mode,
                key=key or [],
                incremental_column=incremental_column,
                reset_watermark=reset_watermark,
            )
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(result)
    else:
        echo_lines(fmt.pull_lines(result))


playbook = typer.Typer(help="Recorded outcomes that matrix searches learn from.", no_args_is_help=True)
app.add_typer(playbook, name="playbook")
# Entries sent per bulk call: the file is read and sent a chunk at a time.
PLAYBOOK_CHUNK = 5000


@playbook.command("record")
def playbook_record(
    query: Annotated[str, typer.Option(help="the query the outcome answers")],
    corpus: Annotated[str, typer.Option(help="the corpus of the chosen item")],
    item: Annotated[str, typer.Option(help="the chosen item's id")],
    outcome: Annotated[str, typer.Option(help="success or rejected")] = "success",
    score: Annotated[float | None, typer.Option(help="for a success: how good, 0-1 (default 1)")] = None,
    reason: Annotated[str, typer.Option(help="for a rejection: why")] = "",
    source: Annotated[str, typer.Option(help="who or what records it")] = "cli",
    entry_id: Annotated[str, typer.Option("--id", help="makes recording idempotent")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Record one outcome."""
    entry = {"query": query, "corpus": corpus, "item_id": item, "outcome": outcome, "reason": reason}
    entry |= {"source": source, "id": entry_id} | ({"score": score} if score is not None else {})
    try:
        with open_client() as lh:
            recorded = lh.record_playbook_entry(entry)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(recorded)
    else:
        typer.echo(fmt.playbook_line(recorded))


@playbook.command("bulk")
def playbook_bulk(
    path: Annotated[Path, typer.Argument(help="entries as NDJSON (one object per line) or a JSON array")],
    as_json: JsonFlag = False,
) -> None:
    """Record every entry of PATH; a bad entry is reported by its position and never stops the rest."""
    from lakehouse.v1 import matrix_pb2

    try:
        entries = _read_entries(path)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {path}: {exc}", err=True)
        raise typer.Exit(2) from None
    total = matrix_pb2.RecordPlaybookEntriesResponse()
    try:
        with open_client() as lh:
            for start in range(0, len(entries), PLAYBOOK_CHUNK):
                reply = lh.record_playbook_entries(entries[start : start + PLAYBOOK_CHUNK])
                total.recorded += reply.recorded
                total.failed += reply.failed
                for result in reply.results:
                    result.index += start
                    total.results.append(result)
                typer.echo(f"{start + len(reply.results)}/{len(entries)} entries sent", err=True)
    except LakehouseError as exc:
        fail(exc)
    _echo_bulk(total, as_json)


@playbook.command("import")
def playbook_import(
    dataset: Annotated[str, typer.Argument(help="catalog dataset of past outcomes, one per row")],
    query_column: Annotated[str, typer.Option(help="column of the query text")],
    item_column: Annotated[str, typer.Option(help="column of the chosen item's id")],
    corpus: Annotated[str, typer.Option(help="the corpus of every row (or --corpus-column)")] = "",
    corpus_column: Annotated[str, typer.Option(help="column of each row's corpus")] = "",
    outcome_column: Annotated[str, typer.Option(help="column of success/rejected (default: all successes)")] = "",
    score_column: Annotated[str, typer.Option(help="column of the score")] = "",
    reason_column: Annotated[str, typer.Option(help="column of the rejection reason")] = "",
    time_column: Annotated[str, typer.Option(help="column of the outcome's date or time")] = "",
    id_column: Annotated[str, typer.Option(help="column of entry ids (default: a hash of the row)")] = "",
    metadata_column: Annotated[list[str] | None, typer.Option(help="a column copied into metadata (repeat)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Record one entry per row of DATASET (e.g. a SQL table of past placements)."""
    mapping = {
        "query_column": query_column,
        "item_id_column": item_column,
        "corpus": corpus,
        "corpus_column": corpus_column,
        "outcome_column": outcome_column,
        "score_column": score_column,
        "reason_column": reason_column,
        "time_column": time_column,
        "id_column": id_column,
        "metadata_columns": metadata_column or [],
    }
    try:
        with open_client() as lh:
            reply = lh.import_playbook(dataset, **mapping)
    except LakehouseError as exc:
        fail(exc)
    _echo_bulk(reply, as_json)


def _echo_bulk(reply, as_json: bool) -> None:
    """A bulk result: counts, then each failed entry (1-based) on stderr; exit 1 if any failed."""
    if as_json:
        echo_json(reply)
        return
    typer.echo(f"recorded {reply.recorded}, failed {reply.failed}")
    for result in reply.results:
        if result.HasField("error"):
            e = result.error
            typer.echo(f"  entry {result.index + 1}: {e.code} {e.reason} {e.field}: {e.message}", err=True)
    if reply.failed:
        raise typer.Exit(1)


def _read_entries(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        entries = json.loads(text)
    else:
        entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not all(isinstance(e, dict) for e in entries):
        raise ValueError("every entry must be a JSON object")
    return entries


@playbook.command("list")
def playbook_list(
    corpus: Annotated[str, typer.Option(help="only entries about this corpus")] = "",
    item: Annotated[str, typer.Option(help="only entries about this item (with --corpus)")] = "",
    source: Annotated[str, typer.Option(help="only entries from this source")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Entries, newest first."""
    from lakehouse.v1 import matrix_pb2

    try:
        with open_client() as lh:
            entries = lh.list_playbook_entries(corpus=corpus, item_id=item, source=source)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(matrix_pb2.ListPlaybookEntriesResponse(entries=entries))
        return
    for entry in entries:
        typer.echo(fmt.playbook_line(entry))
    if not entries:
        typer.echo("(no entries)", err=True)


@playbook.command("stats")
def playbook_stats(as_json: JsonFlag = False) -> None:
    """Entries per corpus and outcome, and how old they are."""
    try:
        with open_client() as lh:
            stats = lh.playbook_stats()
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(stats)
    else:
        echo_lines(fmt.playbook_stats_lines(stats))


@playbook.command("delete")
def playbook_delete(
    entry_id: Annotated[str, typer.Argument(help="the entry's id (or give --corpus and --item)")] = "",
    corpus: Annotated[str, typer.Option(help="delete every entry about this corpus's --item")] = "",
    item: Annotated[str, typer.Option(help="the item (with --corpus)")] = "",
) -> None:
    """Delete one entry, or everything recorded about an item."""
    try:
        with open_client() as lh:
            deleted = lh.delete_playbook_entries(entry_id, corpus=corpus, item_id=item)
    except LakehouseError as exc:
        fail(exc)
    typer.echo(f"deleted {fmt.plural(deleted, 'entry', 'entries')}")


@app.command()
def embed(
    texts: Annotated[list[str], typer.Argument(help="texts to embed, in order")],
    provider: Annotated[str, typer.Option(help="local, ollama, openai or hash (default: the configured one)")] = "",
    model: Annotated[str, typer.Option(help="model name (default: the provider's)")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Embed TEXTS with ModelService: the model and dimension, then each vector's first values."""
    from lakehouse.v1 import models_pb2

    try:
        with open_client() as lh:
            resp = lh._call(lh.models.Embed, models_pb2.EmbedRequest(texts=texts, provider=provider, model=model))
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(resp)
    else:
        echo_lines(fmt.embed_lines(resp, texts))


def _since(text: str):
    """--since: a duration back from now ("15m", "2h", "7d") or an ISO 8601 time (UTC when
    it names no zone)."""
    from datetime import UTC, datetime, timedelta

    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return datetime.now(UTC) - timedelta(seconds=_duration_s(text))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@app.command()
def ops(
    service: Annotated[str, typer.Option(help="service, full or short name (QueryService)")] = "",
    method: Annotated[str, typer.Option(help="method name (Sql)")] = "",
    source: Annotated[str, typer.Option(help="grpc, rest, workflow, mcp or ui")] = "",
    status: Annotated[str, typer.Option(help='a status code name (NOT_FOUND), or "error" for every failure')] = "",
    since: Annotated[str, typer.Option(help="only ops since: a duration back (15m, 2h) or an ISO time")] = "",
    limit: Annotated[int, typer.Option(help="at most this many (0: the server's default)")] = 0,
    run_id: Annotated[str, typer.Option(help="only the ops of this workflow run")] = "",
    tail: Annotated[bool, typer.Option("--tail", help="follow new ops until Ctrl-C (filters apply)")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the response as JSON (--tail: one op per line)")
    ] = False,
) -> None:
    """Recorded operations, newest first: time, source, method, status, latency, sizes, key fields."""
    from lakehouse.api.observer import op_to_pb, page_to_pb

    try:
        with open_client() as lh:
            if tail:
                ops_iter = lh.tail_ops(service=service, method=method, source=source, status=status, run_id=run_id)
                try:
                    for op in ops_iter:
                        if as_json:
                            typer.echo(
                                json_format.MessageToJson(op_to_pb(op), preserving_proto_field_name=True, indent=None)
                            )
                        else:
                            typer.echo(fmt.op_line(op))
                except KeyboardInterrupt:
                    pass
                finally:
                    ops_iter.close()
                return
            page = lh.list_ops(
                service=service,
                method=method,
                source=source,
                status=status,
                since=_since(since),
                limit=limit,
                run_id=run_id,
            )
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(page_to_pb(page))
        return
    if page.ops:
        echo_lines(fmt.ops_lines(page.ops))
    else:
        typer.echo("(no ops)", err=True)
    if page.partial:
        typer.echo("note: the journal could not be read; only the server's recent ops are listed", err=True)


@app.command()
def stats(
    window: Annotated[str, typer.Option(help="how far back: 90s, 15m, 2h (default: the server's)")] = "",
    service: Annotated[str, typer.Option(help="only this service (full or short name)")] = "",
    source: Annotated[str, typer.Option(help="only this source")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Calls, errors by code and p50/p95/p99 latency per method and source, over a window."""
    from lakehouse.api.observer import stats_to_pb

    window_s = int(_duration_s(window)) if window else 0
    try:
        with open_client() as lh:
            result = lh.observer_stats(window_s, service=service, source=source)
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(stats_to_pb(result), always_print_fields_with_no_presence=True)
    else:
        echo_lines(fmt.stats_lines(result))


workflow = typer.Typer(no_args_is_help=True, help="Workflows: list, run FILE_OR_NAME, show RUN_ID, cancel RUN_ID.")
app.add_typer(workflow, name="workflow")
app.add_typer(auth, name="auth")
app.add_typer(distill, name="distill")
app.add_typer(drift, name="drift")
app.add_typer(truth, name="truth")
app.add_typer(pathway, name="pathway")
app.add_typer(ui, name="ui")
app.command("validate")(validate)
app.command("mcp")(mcp)
# Exit code of `workflow run` / `show` when the run did not succeed (failed or cancelled).
RUN_NOT_SUCCEEDED_EXIT = 1


def _input_values(pairs: list[str]) -> dict:
    """--input k=v: a JSON value when v parses as one (5, true, [1, 2]), else the text."""
    values: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--input")
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    return values


@workflow.command("list")
def workflow_list(as_json: JsonFlag = False) -> None:
    """Known workflows: LAKEHOUSE_HOME/workflows/*.yaml and the shipped examples."""
    from lakehouse.api.workflows import listing_to_pb

    try:
        with open_client() as lh:
            listing = lh.list_workflows()
    except LakehouseError as exc:
        fail(exc)
    if as_json:
        echo_json(listing_to_pb(listing))
    elif listing.workflows or listing.invalid:
        echo_lines(fmt.workflow_lines(listing))
    else:
        typer.echo("(no workflows)", err=True)


def _echo_run(run, as_json: bool) -> None:
    from lakehouse.api.workflows import SUCCEEDED, run_to_pb

    if as_json:
        echo_json(run_to_pb(run))
    else:
        echo_lines(fmt.run_lines(run))
    if run.status != SUCCEEDED:
        raise typer.Exit(RUN_NOT_SUCCEEDED_EXIT)


@workflow.command("run")
def workflow_run(
    source: Annotated[str, typer.Argument(help="a YAML file, or the name of a known workflow")],
    inputs: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="NAME=VALUE (VALUE as JSON when it parses), repeatable")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a workflow, node events on stderr as they happen, then the run (exit 1 unless
    it succeeded). Ctrl-C cancels the run."""
    from lakehouse.api.workflows import NodeEvent

    values = _input_values(inputs or [])
    run = None
    try:
        with open_client() as lh:
            events = lh.run_workflow_stream(source, inputs=values)
            try:
                for event in events:
                    if isinstance(event, NodeEvent):
                        typer.echo(fmt.node_event_line(event.node), err=True)
                    else:
                        run = event.run
            except KeyboardInterrupt:
                typer.echo("cancelled", err=True)
                raise typer.Exit(130) from None
            finally:
                events.close()
    except LakehouseError as exc:
        fail(exc)
    if run is not None:
        _echo_run(run, as_json)


@workflow.command("show")
def workflow_show(run_id: str, as_json: JsonFlag = False) -> None:
    """A past (or running) run: every node's result and the ops it produced."""
    try:
        with open_client() as lh:
            run = lh.get_workflow_run(run_id)
    except LakehouseError as exc:
        fail(exc)
    _echo_run(run, as_json)


@workflow.command("cancel")
def workflow_cancel(run_id: str, as_json: JsonFlag = False) -> None:
    """Cancel a running run (running nodes are stopped, pending ones skipped)."""
    try:
        with open_client() as lh:
            run = lh.cancel_workflow_run(run_id)
    except LakehouseError as exc:
        fail(exc)
    _echo_run(run, as_json)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
