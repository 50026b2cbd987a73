"""The MCP tools: typed inputs, structured outputs, Lakehouse reached only through the
Python client (so every call is an ordinary gRPC call through the gateway, recorded by the
observer with source ``mcp``).

Each tool is a method of ``LakehouseTools``; the server (``server.py``) registers them
and turns a refused call (a ``LakehouseError``) into an MCP tool error. Outputs are capped
by ``McpSettings`` (rows, hits, text length): an agent's context is small, and a tool says
when it cut something (``truncated``).
"""

# No `from __future__ import annotations`: the SDK reads these signatures to build the
# tools' input and output JSON schemas, and wants real types.

from dataclasses import asdict, is_dataclass
from typing import Annotated, Any, Literal

from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct
from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python

from lakehouse.api.errors import invalid_field
from lakehouse.api.observer import SOURCE_MCP
from lakehouse.servers.settings import McpSettings

# Reasons of the refusals the tools make themselves (the rest come from the services).
TEXT_TOO_LARGE = "TEXT_TOO_LARGE"
EMPTY_TEXT = "EMPTY_TEXT"
NO_WORKFLOW = "NO_WORKFLOW"

# ingest_text formats: the IngestService names.
TEXT_FORMATS = ("ndjson", "csv")


# Outputs ----------------------------------------------------------------------------


class Column(BaseModel):
    name: str
    type: str


class SqlOutput(BaseModel):
    columns: list[Column]
    rows: list[list[Any]]
    row_count: int
    truncated: bool = Field(description="more rows matched than were returned")


class DatasetSummary(BaseModel):
    name: str
    version: int
    rows: int = Field(description="rows of the current version's base files (deltas not counted)")
    size_bytes: int
    version_count: int
    updated: str = Field(description="RFC 3339 time of the last commit")


class DatasetList(BaseModel):
    datasets: list[DatasetSummary]
    truncated: bool


class DatasetDescription(BaseModel):
    name: str
    version: int
    rows: int
    size_bytes: int
    version_count: int
    primary_key: list[str]
    columns: list[Column]
    created: str
    updated: str


class Hit(BaseModel):
    id: str
    score: float
    text: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class SearchOutput(BaseModel):
    corpus: str
    hits: list[Hit]
    generation: int
    exact: bool = Field(description="the search was exhaustive (a filter left few candidates)")


class MatrixHit(Hit):
    corpus: str
    fused_score: float
    playbook_boost: float = 0.0


class MatrixSearchOutput(BaseModel):
    hits: list[MatrixHit]
    mode: str
    partial: bool = Field(description="some corpus could not be searched")
    sql_selected: int = Field(description="ids the sql argument selected (0: no sql)")


class Citation(BaseModel):
    n: int
    corpus: str
    id: str
    doc_id: str = ""
    file_name: str = ""
    page: int = 0
    snippet: str = ""
    score: float = 0.0


class AskOutput(BaseModel):
    answer: str
    mode: str = Field(description="extractive or generative")
    grounded: bool
    citations: list[Citation]
    ungrounded_citations: list[int]
    filter: dict[str, Any] = Field(description="the metadata filter the retrieval used")
    filter_source: str
    provider: str = ""
    model: str = ""


class IngestOutput(BaseModel):
    dataset: str
    version: int
    mode: str
    rows: int
    deduplicated: bool = Field(description="the same text was ingested before: nothing changed")
    columns: list[Column]
    warnings: list[str]


class PlaybookOutput(BaseModel):
    id: str
    query: str
    corpus: str
    item_id: str
    outcome: str
    score: float
    reason: str
    source: str
    time: str


class NodeOutput(BaseModel):
    node_id: str
    status: str
    kind: str
    output: dict[str, Any] | None = None
    error: str = ""
    reason: str = ""
    latency_ms: float = 0.0


class WorkflowOutput(BaseModel):
    run_id: str
    workflow: str
    status: str
    error: str = ""
    nodes: list[NodeOutput]


class DriftOutput(BaseModel):
    kind: str
    run_id: str
    total: int = Field(description="entries (playbook) or scored records (scorer) checked")
    drifted: int
    rate: float
    report: dict[str, Any] = Field(description="the full report, as the DriftService / distillation returns it")


# Conversions ------------------------------------------------------------------------


def _struct(message: Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def _time(message: Any, name: str) -> str:
    return getattr(message, name).ToJsonString() if message.HasField(name) else ""


def _columns(schema: Any) -> list[Column]:
    return [Column(name=f.name, type=f.type) for f in schema.fields]


def _jsonable(value: Any) -> dict[str, Any]:
    """A report dataclass as JSON values (datetimes as ISO text, tuples as lists)."""
    return to_jsonable_python(asdict(value) if is_dataclass(value) else value)


class LakehouseTools:
    """``lh``: a LakehouseClient (or anything with its methods); ``settings``: the caps."""

    def __init__(self, lh: Any, settings: McpSettings) -> None:
        self.lh = lh
        self.settings = settings

    def _clip(self, text: str) -> str:
        return text[: self.settings.max_text_chars]

    def _k(self, k: int) -> int:
        return min(k, self.settings.max_hits) if k > 0 else 0

    # SQL and the catalog ------------------------------------------------------------

    def sql(
        self,
        sql: Annotated[str, Field(description="one read-only DuckDB SELECT over the lake's datasets (by name)")],
        max_rows: Annotated[int, Field(ge=0, description="rows to return at most (0: the server's MCP cap)")] = 0,
    ) -> SqlOutput:
        """Run a read-only SQL query over the lake's datasets; file and network access is refused."""
        cap = self.settings.max_rows
        result = self.lh.sql(sql, max_rows=min(max_rows, cap) if max_rows else cap)
        return SqlOutput(
            columns=[Column(name=n, type=t) for n, t in result.columns],
            rows=result.rows,
            row_count=len(result.rows),
            truncated=result.truncated,
        )

    def list_datasets(self) -> DatasetList:
        """Every dataset in the catalog: its current version, rows and size."""
        datasets = self.lh.list_datasets()
        cap = self.settings.max_datasets
        return DatasetList(
            datasets=[
                DatasetSummary(
                    name=d.name,
                    version=d.current.version,
                    rows=d.current.base_rows,
                    size_bytes=d.current.size_bytes,
                    version_count=d.version_count,
                    updated=_time(d, "update_time"),
                )
                for d in datasets[:cap]
            ],
            truncated=len(datasets) > cap,
        )

    def describe_dataset(self, name: Annotated[str, Field(description="the dataset's name")]) -> DatasetDescription:
        """One dataset's current version: columns and types, primary key, rows, size."""
        d = self.lh.get_dataset(name)
        return DatasetDescription(
            name=d.name,
            version=d.current.version,
            rows=d.current.base_rows,
            size_bytes=d.current.size_bytes,
            version_count=d.version_count,
            primary_key=list(d.current.primary_key),
            columns=_columns(d.current.schema),
            created=_time(d, "create_time"),
            updated=_time(d, "update_time"),
        )

    # Retrieval ----------------------------------------------------------------------

    def search(
        self,
        corpus: Annotated[str, Field(description="the vector corpus to search")],
        text: Annotated[str, Field(description="the query text (embedded by the server)")],
        k: Annotated[int, Field(ge=0, description="hits wanted (0: the server's default)")] = 0,
        filter: Annotated[  # noqa: A002 - the request field's name
            dict[str, Any] | None,
            Field(description='a metadata filter, e.g. {"state": ["IL", "WI"], "years": {"gte": 3}}'),
        ] = None,
    ) -> SearchOutput:
        """Semantic search in one corpus, optionally filtered on the items' metadata."""
        resp = self.lh.search(corpus, text=text, k=self._k(k) or self.settings.max_hits, filter=filter)
        return SearchOutput(
            corpus=corpus,
            hits=[
                Hit(id=r.id, score=r.score, text=self._clip(r.text), metadata=_struct(r.metadata))
                for r in resp.results[: self.settings.max_hits]
            ],
            generation=resp.generation,
            exact=resp.exact,
        )

    def matrix_search(
        self,
        text: Annotated[str, Field(description="the query text")],
        corpora: Annotated[list[str] | None, Field(description="corpora to search (none: every corpus)")] = None,
        k: Annotated[int, Field(ge=0, description="hits wanted after fusion (0: the server's default)")] = 0,
        filter: Annotated[  # noqa: A002
            dict[str, Any] | None, Field(description="a metadata filter applied in every corpus")
        ] = None,
        sql: Annotated[str, Field(description="a SELECT whose id column limits the hits to the ids it returns")] = "",
        sql_id_column: Annotated[str, Field(description="the id column of sql (default: id)")] = "",
        use_playbook: Annotated[bool, Field(description="lift items that past playbook outcomes favoured")] = False,
    ) -> MatrixSearchOutput:
        """One query over many corpora at once, merged with each hit's corpus named."""
        options: dict[str, Any] = {"k": self._k(k), "filter": filter, "sql": sql, "sql_id_column": sql_id_column}
        if use_playbook:
            options["use_playbook"] = True
        resp = self.lh.matrix_search(text, corpora=corpora, **options)
        return MatrixSearchOutput(
            hits=[
                MatrixHit(
                    id=r.id,
                    corpus=r.corpus,
                    score=r.score,
                    fused_score=r.fused_score,
                    playbook_boost=r.playbook_boost,
                    text=self._clip(r.text),
                    metadata=_struct(r.metadata),
                )
                for r in resp.results[: self.settings.max_hits]
            ],
            mode=resp.mode,
            partial=resp.partial,
            sql_selected=resp.sql_selected,
        )

    def ask(
        self,
        question: Annotated[str, Field(description="a staffing question, e.g. 'forklift operator with OSHA-10 in IL'")],
        corpora: Annotated[list[str] | None, Field(description="corpora to retrieve from (none: Ask's)")] = None,
        filter: Annotated[  # noqa: A002
            dict[str, Any] | None,
            Field(description="replaces the filter derived from the question ({} turns it off)"),
        ] = None,
        k: Annotated[int, Field(ge=0, description="chunks to retrieve (0: the server's default)")] = 0,
        sql: Annotated[str, Field(description="a SELECT of ids the retrieval is limited to")] = "",
    ) -> AskOutput:
        """A grounded answer: retrieved chunks are numbered and the answer cites them as [n]."""
        options: dict[str, Any] = {"k": k, "sql": sql}
        if corpora:
            options["corpora"] = corpora
        if filter is not None:
            options["filter"] = filter
        resp = self.lh.ask(question, **options)
        return AskOutput(
            answer=resp.answer,
            mode=resp.mode,
            grounded=resp.grounded,
            citations=[
                Citation(
                    n=c.n,
                    corpus=c.corpus,
                    id=c.id,
                    doc_id=c.doc_id,
                    file_name=c.file_name,
                    page=c.page,
                    snippet=self._clip(c.snippet),
                    score=c.score,
                )
                for c in resp.citations
            ],
            ungrounded_citations=list(resp.ungrounded_citations),
            filter=_struct(resp.retrieval.filter),
            filter_source=resp.retrieval.filter_source,
            provider=resp.provider,
            model=resp.model,
        )

    # Writes -------------------------------------------------------------------------

    def ingest_text(
        self,
        dataset: Annotated[str, Field(description="the dataset to write (created if new)")],
        text: Annotated[str, Field(description="the data: NDJSON (one JSON object a line) or CSV with a header")],
        format: Annotated[Literal["ndjson", "csv"], Field(description="how text is written")] = "ndjson",  # noqa: A002
        mode: Annotated[
            Literal["append", "replace", "upsert", "create"], Field(description="how the rows join the dataset")
        ] = "append",
        primary_key: Annotated[list[str] | None, Field(description="key columns (required for upsert)")] = None,
    ) -> IngestOutput:
        """Write NDJSON or CSV text into a dataset as a new version (idempotent on the same text)."""
        body = text.encode("utf-8")
        if not body.strip():
            raise invalid_field("text", "is empty", EMPTY_TEXT)
        if len(body) > self.settings.max_ingest_bytes:
            raise invalid_field(
                "text",
                f"{len(body)} bytes is over mcp.max_ingest_bytes ({self.settings.max_ingest_bytes}); "
                "use `lakehouse ingest` for files",
                TEXT_TOO_LARGE,
            )
        result = self.lh.ingest(dataset, body, format=format, mode=mode, primary_key=primary_key or ())
        return IngestOutput(
            dataset=result.dataset,
            version=result.version,
            mode=result.mode,
            rows=result.rows,
            deduplicated=result.deduplicated,
            columns=_columns(result.schema),
            warnings=list(result.warnings),
        )

    def record_playbook(
        self,
        query: Annotated[str, Field(description="the request the outcome answers (a job order, a question)")],
        corpus: Annotated[str, Field(description="the corpus of the item")],
        item_id: Annotated[str, Field(description="the item (candidate) the outcome is about")],
        outcome: Annotated[Literal["success", "rejected"], Field(description="placed, or rejected")] = "success",
        score: Annotated[float, Field(description="the match score, if known")] = 0.0,
        reason: Annotated[str, Field(description="why it was rejected")] = "",
        metadata: Annotated[dict[str, Any] | None, Field(description="anything else worth keeping")] = None,
        id: Annotated[str, Field(description="an id that makes recording idempotent")] = "",  # noqa: A002
    ) -> PlaybookOutput:
        """Record a placement or rejection; playbooks lift (or sink) the item in later searches."""
        entry: dict[str, Any] = {
            "query": query,
            "corpus": corpus,
            "item_id": item_id,
            "outcome": outcome,
            "score": score,
            "reason": reason,
            "source": SOURCE_MCP,
            "metadata": metadata or {},
        }
        if id:
            entry["id"] = id
        e = self.lh.record_playbook_entry(entry)
        return PlaybookOutput(
            id=e.id,
            query=e.query,
            corpus=e.corpus,
            item_id=e.item_id,
            outcome=e.outcome,
            score=e.score,
            reason=e.reason,
            source=e.source,
            time=_time(e, "time"),
        )

    def run_workflow(
        self,
        name: Annotated[str, Field(description="a known workflow's name (see the workflow:// resources)")] = "",
        yaml: Annotated[str, Field(description="or a workflow's YAML text")] = "",
        inputs: Annotated[dict[str, Any] | None, Field(description="the workflow's inputs")] = None,
    ) -> WorkflowOutput:
        """Run a workflow to the end: each node's status and output. A failed node is part of the result."""
        if not name and not yaml:
            raise invalid_field("name", "give a workflow's name or its yaml", NO_WORKFLOW)
        run = self.lh.run_workflow(name, yaml=yaml, inputs=inputs or {})
        return WorkflowOutput(
            run_id=run.run_id,
            workflow=run.workflow,
            status=run.status,
            error=run.error,
            nodes=[
                NodeOutput(
                    node_id=n.node_id,
                    status=n.status,
                    kind=n.kind,
                    output=to_jsonable_python(n.output) if n.output is not None else None,
                    error=n.error,
                    reason=n.reason,
                    latency_ms=n.latency_ms,
                )
                for n in run.nodes
            ],
        )

    # Measurement --------------------------------------------------------------------

    def drift_report(
        self,
        kind: Annotated[
            Literal["playbook", "scorer"],
            Field(description="playbook: do recorded placements still rank; scorer: do scores still agree"),
        ] = "playbook",
        corpora: Annotated[list[str] | None, Field(description="playbook: corpora to check (none: all)")] = None,
        scorer_version: Annotated[str, Field(description="scorer: the rule set to compare (default: current)")] = "",
    ) -> DriftOutput:
        """Drift: whether past placements still rank (playbook) or the scorer's verdicts moved (scorer)."""
        from lakehouse.api.distillation import DriftRequest
        from lakehouse.api.drift import PlaybookDriftQuery

        if kind == "scorer":
            s = self.lh.distillation.drift(DriftRequest(scorer_version=scorer_version))
            return DriftOutput(
                kind=kind, run_id=s.report_id, total=s.total, drifted=s.drifted, rate=s.drift_rate, report=_jsonable(s)
            )
        p = self.lh.drift.playbook_drift(PlaybookDriftQuery(corpora=tuple(corpora or ())))
        return DriftOutput(
            kind=kind, run_id=p.run_id, total=p.entries, drifted=p.drifted, rate=p.rate, report=_jsonable(p)
        )

    # The tools, in the order an agent sees them.
    NAMES = (
        "sql",
        "list_datasets",
        "describe_dataset",
        "search",
        "matrix_search",
        "ask",
        "ingest_text",
        "record_playbook",
        "run_workflow",
        "drift_report",
    )
