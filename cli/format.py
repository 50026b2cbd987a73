"""How the CLI shows results to a person: Arrow values by their type, short summaries of
responses. Pure functions of the messages, so they are tested without a server; `--json`
prints the responses themselves instead."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from google.protobuf import json_format

NULL = "NULL"
# Characters that would break a table row, shown escaped.
_CELL_ESCAPES = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_BYTE_STEP = 1024
# SQL types of the Sql RPC's columns whose JSON numbers are integers (DuckDB's names).
SQL_INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
# Search hits show this much of their text (or metadata) on their line.
PREVIEW_CHARS = 80
# `embed` shows this many leading components of each vector.
EMBED_PREVIEW_VALUES = 5


# Sizes and counts --------------------------------------------------------------


def human_bytes(n: int) -> str:
    """1536 -> "1.5 KiB"; plain bytes below one KiB."""
    value = float(n)
    for unit in _BYTE_UNITS:
        if abs(value) < _BYTE_STEP or unit == _BYTE_UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= _BYTE_STEP
    raise AssertionError("unreachable")


def plural(n: int, noun: str, many: str = "") -> str:
    """``many``: the plural when it is not the noun plus "s" (entry, entries)."""
    return f"{n} {noun}" if n == 1 else f"{n} {many or noun + 's'}"


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """One line of at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# Arrow values --------------------------------------------------------------------


def _float_text(dtype: pa.DataType) -> Callable[[float], str]:
    """Shortest text that reads back as the same value of the column's width (so a
    float32 0.1 shows as 0.1, not 0.10000000149011612)."""
    if pa.types.is_float64(dtype):
        return repr
    import numpy as np

    width = np.float16 if pa.types.is_float16(dtype) else np.float32
    return lambda v: str(width(v))


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _cell(value: Any) -> str:
    """A JSON-friendly value (servers.query.jsonvalues) as a table cell."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.translate(_CELL_ESCAPES)
    if isinstance(value, (list, dict)):
        return _json_text(value)
    return str(value)


def column_cells(column: pa.ChunkedArray | pa.Array) -> list[str]:
    """Every value of one column as text, by its Arrow type: integers as integers, floats
    as the shortest text of their width, decimals exact, temporals ISO 8601, binary as
    base64, nested values as JSON, NULL for nulls. Beyond floats this is the REST JSON
    conversion, so both show a value the same way."""
    from lakehouse.servers.query import jsonvalues

    dtype = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_floating(dtype):
        text = _float_text(dtype)
        return [NULL if v is None else text(v) for v in column.to_pylist()]
    return [_cell(v) for v in jsonvalues.column_values(column)]


def _right_aligned(dtype: pa.DataType) -> bool:
    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)


def aligned_lines(header: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[bool]) -> list[str]:
    """A header, a rule and one line per row, in columns; ``right`` marks the columns
    aligned right. The one table layout of the CLI (query results, `status`)."""
    rows = list(rows)
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(header)]

    def line(cells: Iterable[str]) -> str:
        return " | ".join(
            (c.rjust(w) if r else c.ljust(w)) for c, w, r in zip(cells, widths, right, strict=True)
        ).rstrip()

    lines = [line(header), "-+-".join("-" * w for w in widths)]
    lines.extend(line(row) for row in rows)
    return lines


def table_lines(table: pa.Table) -> list[str]:
    """A header, a rule and one line per row; numbers right-aligned."""
    columns = [column_cells(table.column(i)) for i in range(table.num_columns)]
    right = [_right_aligned(f.type) for f in table.schema]
    return aligned_lines(table.column_names, zip(*columns, strict=True), right)


def take_rows(reader: pa.RecordBatchReader, limit: int) -> tuple[pa.Table, bool]:
    """The first ``limit`` rows of a stream and whether it had more; stops reading there."""
    batches, rows = [], 0
    for batch in reader:
        if rows + batch.num_rows > limit:
            batches.append(batch.slice(0, limit - rows))
            return pa.Table.from_batches(batches, schema=reader.schema), True
        batches.append(batch)
        rows += batch.num_rows
    return pa.Table.from_batches(batches, schema=reader.schema), False


def sql_json(columns: list[tuple[str, str]], rows: list[list[Any]], truncated: bool) -> dict[str, Any]:
    """The Sql RPC's answer for `--output json`, integer columns as JSON integers (the
    RPC carries every number as a double, and integers beyond 2^53 as strings)."""
    integer = [t.upper() in SQL_INTEGER_TYPES for _, t in columns]

    def value(v: Any, is_int: bool) -> Any:
        if is_int and isinstance(v, float) and v.is_integer():
            return int(v)
        if is_int and isinstance(v, str) and v.lstrip("-").isdigit():
            return int(v)
        return v

    return {
        "columns": [list(c) for c in columns],
        "rows": [[value(v, i) for v, i in zip(row, integer, strict=True)] for row in rows],
        "truncated": truncated,
    }


# Responses -------------------------------------------------------------------------


def _written(r: Any) -> str:
    return f"{plural(r.rows, 'row')}, {human_bytes(r.bytes_in)} in -> {human_bytes(r.bytes_written)} written"


def ingest_lines(r: Any, seconds: float) -> list[str]:
    """An IngestResult in a few lines: what was committed, then how the source was read."""
    target = f"{r.dataset} v{r.version}" if r.version else r.dataset
    if r.deduplicated:  # the counts are the existing version's
        done = f"deduplicated: these {human_bytes(r.bytes_in)} were already ingested, nothing written"
    else:
        done = f"{_written(r)}, {plural(r.files, 'file')}"
    lines = [f"{target} ({r.mode}): {done}, {seconds:.2f}s"]
    how = []
    if r.header:
        how.append(f"header: {r.header}")
    if r.skipped_lines:
        how.append(f"{plural(r.skipped_lines, 'line')} skipped")
    if how:
        lines.append("  " + ", ".join(how))
    if r.renames:
        renamed = ", ".join(f"{x.original!r} -> {x.name!r} (column {x.index})" for x in r.renames)
        lines.append(f"  renamed {renamed}")
    if r.embedded:
        lines.append(f"  embedded {plural(r.embedded, 'item')}")
    for rejected in r.rejected_files:
        lines.append(f"  rejected {rejected.file_name}: {rejected.reason}: {rejected.message}")
    for warning in r.warnings:
        lines.append(f"  warning: {warning}")
    for sheet in r.sheets:
        name = sheet.read_options.sheet
        if sheet.version:
            done = "deduplicated" if sheet.deduplicated else f"{_written(sheet)}, {plural(sheet.files, 'file')}"
            lines.append(f"  sheet {name!r} -> {sheet.dataset} v{sheet.version}: {done}")
        else:
            lines.append(f"  sheet {name!r}: {sheet.reasoning or 'nothing written'}")
    return lines


def dataset_lines(d: Any) -> list[str]:
    """A Dataset: its current version, size and schema."""
    v = d.current
    files = plural(len(v.files), "file") + (f" + {plural(len(v.deltas), 'delta')}" if v.deltas else "")
    lines = [
        f"{d.name} v{v.version}: {plural(v.base_rows, 'row')}, {human_bytes(v.size_bytes)} in {files},"
        f" {plural(d.version_count, 'version')}"
    ]
    if v.schema.fields:
        lines.append("  " + ", ".join(f"{f.name} {f.type}" for f in v.schema.fields))
    if v.primary_key:
        lines.append("  primary key: " + ", ".join(v.primary_key))
    if d.HasField("update_time"):
        lines.append("  updated " + d.update_time.ToDatetime().isoformat() + "Z")
    return lines


def corpus_line(c: Any) -> str:
    """One corpus: name, items, model, dimension, metric, then its tags and description."""
    line = f"{c.name}\t{plural(c.count, 'item')}\t{c.embedding_model or '-'}\t{c.dimension}-d {c.metric}"
    tags = " ".join(f"#{t}" for t in c.tags)
    return "\t".join(filter(None, [line, tags, preview(c.description)]))


def corpus_lines(c: Any) -> list[str]:
    """One corpus in full."""
    lines = [
        corpus_line(c),
        f"  generation {c.generation} (on storage: {', '.join(map(str, c.generations)) or '-'}),"
        f" {human_bytes(c.size_bytes)}, HNSW M={c.hnsw_m} efConstruction={c.ef_construction}",
    ]
    if c.tombstones:
        lines.append(f"  {plural(c.tombstones, 'deleted item')} not yet compacted away")
    if c.building:
        lines.append("  a new generation is building")
    if c.HasField("create_time"):
        lines.append("  created " + c.create_time.ToDatetime().isoformat() + "Z")
    return lines


def trial_line(t: Any) -> str:
    """One index trial: when, corpus and generation, kind, HNSW parameters, cost and probe recall."""
    when = t.end_time.ToDatetime().isoformat(timespec="seconds") + "Z"
    head = f"{when}\t{t.corpus} gen {t.generation}\t{t.kind}\tM={t.hnsw_m} efC={t.ef_construction}"
    if t.status != "ok":
        return f"{head}\tFAILED after {t.build_seconds:.2f}s: {t.error}"
    recall = (
        f"recall@{t.probe_k}={t.recall:.3f} (ef {t.probe_ef_search}, {t.probe_queries} probes)"
        if t.probe_queries
        else "no probe"
    )
    return f"{head}\t{plural(t.items, 'item')}\t{t.build_seconds:.2f}s\t{human_bytes(t.size_bytes)}\t{recall}"


def _struct_dict(struct: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(struct)


def hit_line(hit: Any) -> str:
    """One search result: score, id, and its text (or metadata) previewed."""
    metadata = _struct_dict(hit.metadata) if hit.HasField("metadata") else {}
    text = hit.text or metadata.get("text")
    shown = text if isinstance(text, str) else (_json_text(metadata) if metadata else "")
    return f"{hit.score:.4f}\t{hit.id}\t{preview(shown)}".rstrip()


def matrix_hit_line(hit: Any) -> str:
    """One matrix result: score (with its playbook boost), corpus, id, and its text previewed."""
    score = f"{hit.score:.4f}" + (f" {hit.playbook_boost:+.2f}" if hit.playbook_boost else "")
    return f"{score}\t{hit.corpus}\t{hit_line(hit).split(chr(9), 1)[1]}"


def matrix_notes(resp: Any) -> list[str]:
    """What a matrix search should tell a person besides its results: a downgraded mode, a
    corpus that could not answer, results the relevance filter dropped."""
    notes = []
    if resp.downgraded:
        notes.append(f"mode {resp.mode}: {resp.mode_reason}")
    for stats in resp.corpora:
        if stats.code:
            notes.append(f"corpus {stats.corpus} not searched: {stats.code} {stats.reason}: {stats.message}")
    if resp.relevance_dropped:
        notes.append(f"{plural(len(resp.relevance_dropped), 'result')} dropped as irrelevant")
    return notes


def embed_lines(resp: Any, texts: list[str]) -> list[str]:
    """The model and dimension, then per text its first few components."""
    lines = [f"{resp.provider}/{resp.model}, {resp.dimension} dimensions"]
    for text, e in zip(texts, resp.embeddings, strict=True):
        shown = ", ".join(f"{v:.4f}" for v in e.values[:EMBED_PREVIEW_VALUES])
        more = ", ..." if len(e.values) > EMBED_PREVIEW_VALUES else ""
        lines.append(f"[{shown}{more}]\t{preview(text)}")
    return lines


# `status` ------------------------------------------------------------------------------

STATUS_HEADER = ("component(s)", "address", "pid", "state")
_STATUS_RIGHT = (False, False, True, False)
# The first cell of the process `up` started when its health is not known (so neither
# are its components), and of Envoy's line.
SERVER_LABEL = "server"
GATEWAY_LABEL = "gateway (envoy)"
UNKNOWN = "-"


@dataclass(frozen=True)
class _Upstream:
    """One process as `status` shows it; ``serving`` None when its health was not asked."""

    components: tuple[str, ...]
    address: str
    pid: str
    serving: bool | None
    state: str
    services: tuple[tuple[str, str], ...] = ()  # (service, status), as reported

    @property
    def label(self) -> str:
        return ",".join(self.components) or SERVER_LABEL


def _status_word(status: str) -> str:
    """SERVING -> "serving", NOT_SERVING -> "not serving"."""
    return status.lower().replace("_", " ")


def _unavailable(services: list[dict[str, Any]]) -> str:
    """Why a process's services are not all serving: their distinct details, else which
    ones are not serving (the answering process gives no detail for its own)."""
    from lakehouse.api.system import SERVING

    down = [s for s in services if s.get("status") != SERVING]
    details = list(dict.fromkeys(s["detail"] for s in down if s.get("detail")))
    reasons = details or [f"{s.get('service', '?')} {_status_word(s.get('status', ''))}" for s in down]
    return "unavailable: " + "; ".join(reasons)


def _upstreams(info: dict[str, Any]) -> list[_Upstream]:
    """The processes behind the gateway: the one `up` started (address "" in the health
    answer) first, then each ``host:port`` upstream it reported, in the answer's order."""
    from lakehouse.api.system import SERVING

    own_address = info.get("grpc_upstream") or UNKNOWN
    own_pid = str(info["server_pid"]) if "server_pid" in info else UNKNOWN
    health = info.get("health")
    if health is None:
        if info.get("server_alive"):
            return [_Upstream((), own_address, own_pid, None, "process alive, health not asked (gateway down)")]
        return [_Upstream((), own_address, own_pid, False, f"unavailable: process {own_pid} is not running")]
    if "error" in health:
        return [_Upstream((), own_address, own_pid, False, f"unavailable: health check failed: {health['error']}")]
    by_address: dict[str, list[dict[str, Any]]] = {}
    for s in health.get("services", []):
        by_address.setdefault(s.get("address", ""), []).append(s)
    by_address.setdefault("", [])  # the answering process, even if it listed no service
    order = ["", *(a for a in by_address if a)]
    out = []
    for address in order:
        services = by_address[address]
        serving = all(s.get("status") == SERVING for s in services)
        out.append(
            _Upstream(
                tuple(dict.fromkeys(s.get("component", "") for s in services if s.get("component"))),
                address or own_address,
                own_pid if address == "" else UNKNOWN,
                serving,
                "serving" if serving else _unavailable(services),
                tuple((s.get("service", "?"), s.get("status", "")) for s in services),
            )
        )
    return out


def _overall(upstreams: list[_Upstream], gateway_down: bool) -> str:
    total = len(upstreams)
    down = [u for u in upstreams if u.serving is False]
    unknown = [u for u in upstreams if u.serving is None]
    if not down and not unknown and not gateway_down:
        return f"all {plural(total, 'upstream')} serving" if total > 1 else f"{plural(total, 'upstream')} serving"
    parts = []
    if down:
        named = ", ".join(f"{u.label} at {u.address}" for u in down)
        parts.append(f"{len(down)} of {plural(total, 'upstream')} unavailable: {named}")
    if unknown:
        parts.append(f"health of {plural(len(unknown), 'upstream')} unknown")
    if gateway_down:
        parts.append("gateway unavailable")
    return "; ".join(parts)


def status_summary(info: dict[str, Any]) -> str:
    """`lakehouse status` for a person, from the dict `--json` prints (servers.supervisor's
    status plus the GetHealth answer under "health"): a line per upstream process with its
    services indented below it, the gateway's line, then one overall line."""
    if "server_pid" not in info and "health" not in info:
        return "not running: `lakehouse up` has started nothing under this LAKEHOUSE_HOME"
    upstreams = _upstreams(info)
    rows: list[tuple[str, ...]] = []
    for u in upstreams:
        rows.append((u.label, u.address, u.pid, u.state.translate(_CELL_ESCAPES)))
        rows.extend((f"  {service}", "", "", _status_word(status)) for service, status in u.services)
    gateway_down = False
    if "envoy_pid" in info:
        gateway_down = not info.get("envoy_alive", False)
        state = f"unavailable: process {info['envoy_pid']} is not running" if gateway_down else "serving"
        rows.append((GATEWAY_LABEL, info.get("grpc") or UNKNOWN, str(info["envoy_pid"]), state))
    lines = aligned_lines(STATUS_HEADER, rows, _STATUS_RIGHT)
    lines.append(_overall(upstreams, gateway_down))
    return "\n".join(lines)


def playbook_line(e: Any) -> str:
    """One entry: when, outcome (and score), corpus/item, id, query previewed."""
    when = e.time.ToDatetime().isoformat(timespec="seconds") + "Z" if e.HasField("time") else "-"
    outcome = f"{e.outcome} {e.score:.2f}" if e.HasField("score") else e.outcome
    return f"{when}\t{outcome}\t{e.corpus}/{e.item_id}\t{e.id}\t{preview(e.query)}"


def playbook_stats_lines(stats: Any) -> list[str]:
    lines = [f"{plural(stats.entries, 'entry', 'entries')}"]
    for c in stats.counts:
        lines.append(
            f"  {c.corpus}\t{c.outcome}\t{plural(c.entries, 'entry', 'entries')}, {plural(c.items, 'item')}\t"
            f"age {c.newest_age_days:.1f}-{c.oldest_age_days:.1f} days (median {c.median_age_days:.1f})"
        )
    return lines


def source_line(s: Any) -> str:
    """One source: name, user@host:port/database, whether a password is stored."""
    secret = "password stored" if s.has_password else "no password"
    return f"{s.name}\t{s.user}@{s.host}:{s.port}/{s.database}\t{secret}"


def pull_lines(r: Any) -> list[str]:
    """A PullResult: what was committed, and the watermark of an incremental pull."""
    seconds = r.elapsed.ToTimedelta().total_seconds()
    if r.unchanged:
        lines = [f"{r.dataset} v{r.version}: nothing past the watermark, unchanged, {seconds:.2f}s"]
    else:
        done = f"{plural(r.rows, 'row')}, {human_bytes(r.bytes_read)} read -> {human_bytes(r.bytes_written)} written"
        lines = [f"{r.dataset} v{r.version} ({r.mode}): {done}, {plural(r.files, 'file')}, {seconds:.2f}s"]
    if r.incremental_column:
        before = r.watermark_before or "(none: every row)"
        lines.append(f"  {r.incremental_column}: {before} -> {r.watermark_after or '(no value)'}")
    return lines


def retrieval_line(r: Any) -> str:
    """How Ask found its chunks: the filter (and where it came from), counts, mode."""
    flt = json_format.MessageToDict(r.filter) if r.HasField("filter") else None
    where = f"filter ({r.filter_source}): {json.dumps(flt)}" if flt else "no filter"
    dropped = f", {r.relevance_dropped} dropped as irrelevant" if r.relevance_dropped else ""
    return f"retrieved {plural(r.retrieved, 'chunk')} ({where}; mode {r.search_mode}{dropped}, {r.latency_ms:.0f} ms)"


def citation_lines(citations: Any) -> list[str]:
    lines = []
    for c in citations:
        where = ", ".join(x for x in (c.file_name or c.id, f"p.{c.page}" if c.page else "") if x)
        snippet = " ".join(c.snippet.split())
        lines.append(f"  [{c.n}] {where} ({c.corpus}, {c.score:.3f}): {snippet}")
    return lines


def answer_notes(a: Any) -> list[str]:
    """After the answer: its sources, and any citation that names none."""
    lines = [f"sources ({a.mode}):", *citation_lines(a.citations)] if a.citations else []
    if a.ungrounded_citations:
        cited = ", ".join(f"[{n}]" for n in a.ungrounded_citations)
        lines.append(f"warning: the answer cites {cited}, which no retrieved chunk has: not grounded")
    return lines


def demo_next_steps(question: str) -> list[str]:
    return [
        f'  lakehouse ask "{question}"',
        f'  lakehouse ask "{question}" --use-playbook',
        '  lakehouse search "forklift operator OSHA-30" --corpora resumes --filter \'{"state": "IL"}\'',
        '  lakehouse sql "SELECT state, count(*) AS workers FROM workers GROUP BY state ORDER BY workers DESC"',
        '  lakehouse sql "SELECT question, len(relevant) AS answers FROM demo_questions"',
    ]


# Recorded ops (`lakehouse ops`, `lakehouse stats`) ----------------------------------

OP_ATTRIBUTE_CHARS = 60
OPS_HEADER = ("time", "source", "method", "status", "ms", "in", "out", "attributes")
STATS_HEADER = ("method", "source", "calls", "errors", "p50 ms", "p95 ms", "p99 ms")


def _short_service(service: str) -> str:
    """lakehouse.v1.QueryService -> QueryService."""
    return service.rsplit(".", 1)[-1]


def _op_cells(op: Any) -> list[str]:
    status = op.code if not op.reason else f"{op.code} {op.reason}"
    attributes = " ".join(f"{k}={v}" for k, v in sorted(op.attributes.items()))
    return [
        op.time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        op.source,
        f"{_short_service(op.service)}.{op.method}",
        status,
        f"{op.latency_ms:.2f}",
        human_bytes(op.request_bytes),
        human_bytes(op.response_bytes),
        preview(attributes, OP_ATTRIBUTE_CHARS),
    ]


def ops_lines(ops: Sequence[Any]) -> list[str]:
    """Recorded ops (lakehouse.api.observer.ObservedOp) as a table, in the order given."""
    right = [False, False, False, False, True, True, True, False]
    return aligned_lines(OPS_HEADER, [_op_cells(op) for op in ops], right)


def op_line(op: Any) -> str:
    """One op on one line (`ops --tail`)."""
    return "  ".join(_op_cells(op)).rstrip()


def stats_lines(stats: Any) -> list[str]:
    """GetStats (lakehouse.api.observer.OpStats): a row per method and source, then the
    recorder's counters."""
    rows = [
        [
            f"{_short_service(m.service)}.{m.method}",
            m.source,
            str(m.count),
            " ".join(f"{code}={n}" for code, n in sorted(m.errors.items())) or "-",
            f"{m.p50_ms:.2f}",
            f"{m.p95_ms:.2f}",
            f"{m.p99_ms:.2f}",
        ]
        for m in stats.methods
    ]
    lines = aligned_lines(STATS_HEADER, rows, [False, False, True, False, True, True, True]) if rows else []
    lines.append(
        f"window {stats.window_s}s; recorded {stats.recorded}, journaled {stats.journaled}, pending {stats.pending},"
        f" journal failures {stats.journal_failures}, dropped {stats.dropped}"
    )
    return lines


# Workflows ---------------------------------------------------------------------------

WORKFLOWS_HEADER = ["NAME", "ORIGIN", "NODES", "INPUTS", "DESCRIPTION"]
RUN_NODES_HEADER = ["NODE", "KIND", "STATUS", "ATTEMPTS", "MS", "WHY"]
OUTPUT_CHARS = 2000


def workflow_lines(listing: Any) -> list[str]:
    """ListWorkflows (lakehouse.api.workflows.WorkflowListing): a row per workflow, then the
    files that do not load."""
    rows = [[i.name, i.origin, str(len(i.nodes)), ", ".join(i.inputs) or "-", i.description] for i in listing.workflows]
    lines = aligned_lines(WORKFLOWS_HEADER, rows, [False, False, True, False, False]) if rows else []
    lines += [f"invalid: {why}" for why in listing.invalid]
    return lines


def node_event_line(node: Any) -> str:
    """One node event of a running workflow (stderr of `workflow run`)."""
    line = f"  {node.node_id}: {node.status}"
    if node.status == "running":
        return f"{line} ({node.kind})"
    if node.latency_ms:
        line += f" in {node.latency_ms:.0f} ms"
    if node.attempts > 1:
        line += f" after {node.attempts} attempts"
    if node.reason:
        line += f" - {node.reason}: {node.error}"
    elif node.output_summary:
        line += f": {preview(node.output_summary)}"
    return line


def run_lines(run: Any) -> list[str]:
    """A workflow run: its status, a row per node, and the output of the last node that
    succeeded (a prompt's text as it is)."""
    took = ""
    if run.finished is not None:
        took = f" in {(run.finished - run.started).total_seconds() * 1000:.0f} ms"
    lines = [f"run {run.run_id} of {run.workflow}: {run.status}{took}"]
    if run.error:
        lines.append(f"  {run.error}")
    rows = [
        [n.node_id, n.kind, n.status, str(n.attempts), f"{n.latency_ms:.1f}", f"{n.reason} {n.error}".strip() or "-"]
        for n in run.nodes
    ]
    lines += aligned_lines(RUN_NODES_HEADER, rows, [False, False, False, True, True, False])
    last = next((n for n in reversed(run.nodes) if n.status == "succeeded" and n.output is not None), None)
    if last is not None:
        lines += ["", f"output of {last.node_id}:"]
        output = dict(last.output)
        text = output["text"] if set(output) == {"text"} else json.dumps(output, indent=2, ensure_ascii=False)
        lines.append(text if len(text) <= OUTPUT_CHARS else text[: OUTPUT_CHARS - 1] + "\u2026")
    lines.append(f"({len(run.ops)} ops recorded)")
    return lines
