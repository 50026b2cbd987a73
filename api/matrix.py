"""MatrixService's API: many corpora searched as one, wherever each is hosted.

The interface, its domain types, the proto conversions and the remote implementation
over the generated stub (the local one is ``servers/matrix/core.py``'s MatrixCore).

Scores. A result's ``score`` is its corpus's own similarity: cosine similarity in
[-1, 1] (cosine), the inner product (ip), or minus the Euclidean distance (l2); higher
is closer in every metric. Scores of one metric are comparable across corpora, so
``fusion="score"`` merges on them and refuses corpora of different metrics; ``rrf``
(reciprocal rank fusion, 1 / (rrf_k + rank)) needs no comparable scores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from google.protobuf import json_format

from lakehouse.api.channel import NO_DEADLINE
from lakehouse.api.protoconv import timestamp
from lakehouse.api.remote import Remote
from lakehouse.api.vector import (
    UNCACHED,
    CorpusInfo,
    HitStems,
    Query,
    add_queries_to_pb,
    corpus_from_pb,
    corpus_to_pb,
    filter_from_pb,
    filter_to_pb,
    vector_from_pb,
    vector_to_pb,
)
from lakehouse.v1 import matrix_pb2, matrix_pb2_grpc

FUSION_SCORE = "score"
FUSION_RRF = "rrf"
FUSIONS = (FUSION_SCORE, FUSION_RRF)
# Built-in modes: every chosen corpus (composed), or the primary corpus alone (isolation).
MODE_COMPOSED = "composed"
MODE_ISOLATION = "isolation"
# Why the relevance filter dropped a result.
BELOW_THRESHOLD = "below_threshold"
BELOW_MARGIN = "below_margin"

# Stable error reasons (ErrorInfo.reason) of MatrixService; a failing corpus search keeps
# VectorService's reason, and the SQL gate QueryService's.
NO_CORPORA = "NO_CORPORA"
MIXED_METRICS = "MIXED_METRICS"
INVALID_FUSION = "INVALID_FUSION"
UNKNOWN_MODE = "UNKNOWN_MODE"
INVALID_RELEVANCE = "INVALID_RELEVANCE"
SQL_ID_COLUMN = "SQL_ID_COLUMN"
SQL_GATE_TOO_LARGE = "SQL_GATE_TOO_LARGE"
TOO_MANY_CORPORA = "TOO_MANY_CORPORA"
CORPUS_HOST_UNREACHABLE = "CORPUS_HOST_UNREACHABLE"
INVALID_CANDIDATE = "INVALID_CANDIDATE"


@dataclass(frozen=True)
class Relevance:
    """Relevance filter overrides; None takes the ``matrix.relevance_*`` setting."""

    enabled: bool | None = None
    threshold: float | None = None
    margin: float | None = None


@dataclass(frozen=True)
class MatrixRequest:
    """One matrix search. Zero and empty values take the ``matrix`` settings' defaults."""

    text: str | None = None
    vector: np.ndarray | Sequence[float] | None = None
    corpora: tuple[str, ...] = ()  # none: every corpus
    k_per_corpus: int = 0
    k: int = 0
    fusion: str = ""
    rrf_k: int = 0
    filter: Mapping[str, Any] | None = None
    sql: str = ""  # read-only SQL whose id column restricts every corpus
    sql_id_column: str = ""
    relevance: Relevance = field(default_factory=Relevance)
    model: str = ""  # the model that will read the results (downgrade gate)
    mode: str = ""
    force_mode: str = ""
    include_text: bool = False
    ef_search: int = 0
    require_all: bool = False
    use_playbook: bool = False  # past outcomes of similar queries boost, demote or bring in items
    as_of: datetime | None = None  # the playbook's decay counts from here (default: now)


@dataclass(frozen=True)
class Evidence:
    """One past outcome behind a result's playbook boost."""

    entry_id: str
    query: str
    outcome: str
    score: float
    similarity: float
    age_days: float
    weight: float  # similarity x time decay


@dataclass(slots=True)  # not frozen: built per result on the search path, where frozen costs 3x
class MatrixHit:
    corpus: str
    id: str
    score: float  # the corpus's own similarity (module docstring)
    fused_score: float
    rank_in_corpus: int  # 1-based
    generation: int
    metadata: dict[str, Any]
    text: str | None = None
    row: tuple[int, int] | None = field(default=None, compare=False, repr=False)  # as Hit.row
    playbook_boost: float = 0.0
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class CorpusStats:
    """What one chosen corpus contributed; ``code`` is set when its search failed."""

    corpus: str
    upstream: str
    searched: bool
    returned: int = 0
    excluded_by_filter: int = 0
    latency_ms: float = 0.0
    code: str = ""
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class RelevanceDrop:
    corpus: str
    id: str
    score: float
    reason: str  # BELOW_THRESHOLD or BELOW_MARGIN


@dataclass(frozen=True)
class MatrixResult:
    hits: list[MatrixHit]
    corpora: list[CorpusStats]
    filtered_out: int  # live items the metadata filter excluded, all searched corpora
    mode: str
    downgraded: bool
    mode_reason: str
    relevance_dropped: list[RelevanceDrop]
    partial: bool  # some chosen corpus could not be searched
    sql_selected: int = 0
    playbook_excluded: list[RelevanceDrop] = field(default_factory=list)  # reason "rejected"


@dataclass(frozen=True)
class HostedCorpus:
    corpus: CorpusInfo
    upstream: str  # host:port of its vector process, or "local"


@dataclass(frozen=True)
class UpstreamError:
    upstream: str
    code: str
    reason: str
    message: str


@dataclass(frozen=True)
class CorpusListing:
    corpora: list[HostedCorpus]
    unreachable: list[UpstreamError]


@dataclass(frozen=True)
class Candidate:
    """A relevance candidate: a text, or an item by corpus and id."""

    text: str | None = None
    corpus: str = ""
    id: str = ""


@dataclass(frozen=True)
class Verdict:
    index: int
    kept: bool
    score: float
    reason: str = ""


# Playbooks ------------------------------------------------------------------------

SUCCESS = "success"
REJECTED = "rejected"
OUTCOMES = (SUCCESS, REJECTED)
PLAYBOOK_ENTRY_NOT_FOUND = "PLAYBOOK_ENTRY_NOT_FOUND"
PLAYBOOK_ENTRY_CONFLICT = "PLAYBOOK_ENTRY_CONFLICT"
INVALID_PLAYBOOK_ENTRY = "INVALID_PLAYBOOK_ENTRY"
PLAYBOOK_TIME_IN_FUTURE = "PLAYBOOK_TIME_IN_FUTURE"
ITEM_NOT_FOUND = "ITEM_NOT_FOUND"
TOO_MANY_ENTRIES = "TOO_MANY_ENTRIES"
INVALID_IMPORT_MAPPING = "INVALID_IMPORT_MAPPING"


@dataclass(frozen=True)
class PlaybookEntry:
    """One recorded outcome. ``id`` "" is generated; ``score`` None is 1 for a success;
    ``time`` None is the moment it is recorded."""

    query: str
    corpus: str
    item_id: str
    outcome: str = SUCCESS
    score: float | None = None
    reason: str = ""
    source: str = ""
    time: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = ""


@dataclass(frozen=True)
class EntryError:
    code: str
    reason: str
    message: str
    field: str = ""


@dataclass(frozen=True)
class EntryResult:
    index: int
    id: str = ""
    error: EntryError | None = None


@dataclass(frozen=True)
class BulkResult:
    recorded: int
    failed: int
    results: list[EntryResult]


@dataclass(frozen=True)
class PlaybookCount:
    corpus: str
    outcome: str
    entries: int
    items: int
    newest_age_days: float
    median_age_days: float
    oldest_age_days: float


@dataclass(frozen=True)
class PlaybookStats:
    entries: int
    counts: list[PlaybookCount]


@dataclass(frozen=True)
class ImportMapping:
    """Which columns of a dataset make a playbook entry (ImportPlaybook)."""

    dataset: str
    query_column: str
    item_id_column: str
    corpus_column: str = ""
    corpus: str = ""  # for every row, instead of corpus_column
    outcome_column: str = ""  # default: every row a success
    score_column: str = ""
    reason_column: str = ""
    time_column: str = ""
    id_column: str = ""  # default: a hash of the row's fields
    metadata_columns: tuple[str, ...] = ()
    source: str = ""  # default: "import:<dataset>"


@dataclass(frozen=True)
class EntryFilter:
    corpus: str = ""
    item_id: str = ""
    source: str = ""
    since: datetime | None = None
    until: datetime | None = None


class MatrixApi(Protocol):
    """Many corpora searched as one."""

    def list_corpora(self) -> CorpusListing: ...

    def search(self, request: MatrixRequest) -> MatrixResult: ...

    def search_batch(self, request: MatrixRequest, queries: Sequence[Query]) -> list[MatrixResult]:
        """``search`` for each query (``request``'s text and vector unused), one batched
        search per corpus."""
        ...

    def filter_relevance(
        self,
        text: str,
        candidates: Sequence[Candidate],
        *,
        threshold: float | None = None,
        margin: float | None = None,
        embedding_model: str = "",
    ) -> list[Verdict]: ...

    def record_entry(self, entry: PlaybookEntry) -> PlaybookEntry:
        """Record one outcome (as stored: id, score and time filled in). Recording an id
        again with the same content returns it; with other content is AlreadyExists."""
        ...

    def record_entries(self, entries: Sequence[PlaybookEntry]) -> BulkResult:
        """Record many; each bad entry is reported by index and never stops the others."""
        ...

    def import_entries(self, mapping: ImportMapping) -> BulkResult:
        """One entry per row of the dataset; ``results`` are indexed by row."""
        ...

    def list_entries(
        self, where: EntryFilter | None = None, *, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[PlaybookEntry], str]:
        """Newest first, ANDing the filter's fields; (page, next token, "" on the last)."""
        ...

    def get_entry(self, entry_id: str) -> PlaybookEntry: ...

    def delete_entries(self, entry_id: str = "", *, corpus: str = "", item_id: str = "") -> int: ...

    def playbook_stats(self) -> PlaybookStats: ...


# Conversions ---------------------------------------------------------------------


def _optional(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def _fields(value: Any, kind: type) -> dict[str, Any]:
    """A flat dataclass's fields by name (``asdict`` deep-copies, which costs ~10x)."""
    return {f.name: getattr(value, f.name) for f in fields(kind)}


def request_to_pb(r: MatrixRequest) -> matrix_pb2.MatrixSearchRequest:
    relevance = matrix_pb2.RelevanceOptions(
        enabled=r.relevance.enabled, threshold=r.relevance.threshold, margin=r.relevance.margin
    )
    return matrix_pb2.MatrixSearchRequest(
        text=r.text or "",
        vector=vector_to_pb(r.vector),
        corpora=list(r.corpora),
        k_per_corpus=r.k_per_corpus,
        k=r.k,
        fusion=r.fusion,
        rrf_k=r.rrf_k,
        filter=filter_to_pb(r.filter),
        sql=r.sql,
        sql_id_column=r.sql_id_column,
        relevance=relevance,
        model=r.model,
        mode=r.mode,
        force_mode=r.force_mode,
        include_text=r.include_text,
        ef_search=r.ef_search,
        require_all=r.require_all,
        use_playbook=r.use_playbook,
        as_of=timestamp(r.as_of) if r.as_of else None,
    )


def request_from_pb(m: matrix_pb2.MatrixSearchRequest) -> MatrixRequest:
    relevance = Relevance(
        _optional(m.relevance, "enabled"), _optional(m.relevance, "threshold"), _optional(m.relevance, "margin")
    )
    return MatrixRequest(
        text=m.text or None,
        vector=vector_from_pb(m.vector),
        corpora=tuple(m.corpora),
        k_per_corpus=m.k_per_corpus,
        k=m.k,
        fusion=m.fusion,
        rrf_k=m.rrf_k,
        filter=filter_from_pb(m),
        sql=m.sql,
        sql_id_column=m.sql_id_column,
        relevance=relevance,
        model=m.model,
        mode=m.mode,
        force_mode=m.force_mode,
        include_text=m.include_text,
        ef_search=m.ef_search,
        require_all=m.require_all,
        use_playbook=m.use_playbook,
        as_of=m.as_of.ToDatetime(tzinfo=UTC) if m.HasField("as_of") else None,
    )


def result_to_pb(r: MatrixResult, stems: HitStems = UNCACHED) -> matrix_pb2.MatrixSearchResponse:
    response = matrix_pb2.MatrixSearchResponse()
    _fill_result(response, r, stems)
    return response


def results_to_pb(results: Iterable[MatrixResult], stems: HitStems = UNCACHED) -> matrix_pb2.MatrixSearchBatchResponse:
    """Built in place, as ``search_results_to_pb``: no copy of each ready response."""
    batch = matrix_pb2.MatrixSearchBatchResponse()
    add = batch.responses.add
    for r in results:
        _fill_result(add(), r, stems)
    return batch


def _fill_result(response: matrix_pb2.MatrixSearchResponse, r: MatrixResult, stems: HitStems) -> None:
    add_stats = response.corpora.add
    for s in r.corpora:
        add_stats(**_fields(s, CorpusStats))  # the same names
    response.metadata_filter_dropped = r.filtered_out
    response.mode = r.mode
    response.downgraded = r.downgraded
    response.mode_reason = r.mode_reason
    response.partial = r.partial
    response.sql_selected = r.sql_selected
    for drops, target in (
        (r.relevance_dropped, response.relevance_dropped),
        (r.playbook_excluded, response.playbook_excluded),
    ):
        for d in drops:
            target.add(corpus=d.corpus, id=d.id, score=d.score, reason=d.reason)
    fill = stems.fill
    add = response.results.add
    for h in r.hits:
        result = add(
            corpus=h.corpus,
            score=h.score,
            fused_score=h.fused_score,
            rank_in_corpus=h.rank_in_corpus,
            generation=h.generation,
            text=h.text or "",
            playbook_boost=h.playbook_boost,
        )
        add_evidence = result.evidence.add
        for e in h.evidence:
            add_evidence(**_fields(e, Evidence))  # the same names
        fill(result, h)  # id and metadata


def result_from_pb(m: matrix_pb2.MatrixSearchResponse) -> MatrixResult:
    return MatrixResult(
        hits=[
            MatrixHit(
                corpus=h.corpus,
                id=h.id,
                score=h.score,
                fused_score=h.fused_score,
                rank_in_corpus=h.rank_in_corpus,
                generation=h.generation,
                metadata=json_format.MessageToDict(h.metadata),
                text=h.text or None,
                playbook_boost=h.playbook_boost,
                evidence=tuple(Evidence(**_fields(e, Evidence)) for e in h.evidence),
            )
            for h in m.results
        ],
        corpora=[CorpusStats(**_fields(s, CorpusStats)) for s in m.corpora],
        filtered_out=m.metadata_filter_dropped,
        mode=m.mode,
        downgraded=m.downgraded,
        mode_reason=m.mode_reason,
        relevance_dropped=[RelevanceDrop(d.corpus, d.id, d.score, d.reason) for d in m.relevance_dropped],
        partial=m.partial,
        sql_selected=m.sql_selected,
        playbook_excluded=[RelevanceDrop(d.corpus, d.id, d.score, d.reason) for d in m.playbook_excluded],
    )


def listing_to_pb(listing: CorpusListing) -> matrix_pb2.ListMatrixCorporaResponse:
    return matrix_pb2.ListMatrixCorporaResponse(
        corpora=[matrix_pb2.MatrixCorpus(corpus=corpus_to_pb(c.corpus), upstream=c.upstream) for c in listing.corpora],
        unreachable=[
            matrix_pb2.UpstreamError(upstream=u.upstream, code=u.code, reason=u.reason, message=u.message)
            for u in listing.unreachable
        ],
    )


def listing_from_pb(m: matrix_pb2.ListMatrixCorporaResponse) -> CorpusListing:
    return CorpusListing(
        corpora=[HostedCorpus(corpus_from_pb(c.corpus), c.upstream) for c in m.corpora],
        unreachable=[UpstreamError(u.upstream, u.code, u.reason, u.message) for u in m.unreachable],
    )


def candidate_from_pb(m: matrix_pb2.RelevanceCandidate) -> Candidate:
    return Candidate(text=m.text or None, corpus=m.corpus, id=m.id)


def verdicts_to_pb(verdicts: Sequence[Verdict]) -> matrix_pb2.FilterRelevanceResponse:
    return matrix_pb2.FilterRelevanceResponse(
        verdicts=[
            matrix_pb2.RelevanceVerdict(index=v.index, kept=v.kept, score=v.score, reason=v.reason) for v in verdicts
        ]
    )


def entry_to_pb(e: PlaybookEntry) -> matrix_pb2.PlaybookEntry:
    message = matrix_pb2.PlaybookEntry(
        id=e.id,
        query=e.query,
        corpus=e.corpus,
        item_id=e.item_id,
        outcome=e.outcome,
        score=e.score,
        reason=e.reason,
        source=e.source,
        time=timestamp(e.time) if e.time else None,
    )
    if e.metadata:
        message.metadata.update(e.metadata)
    return message


def entry_from_pb(m: matrix_pb2.PlaybookEntry) -> PlaybookEntry:
    return PlaybookEntry(
        query=m.query,
        corpus=m.corpus,
        item_id=m.item_id,
        outcome=m.outcome or SUCCESS,
        score=m.score if m.HasField("score") else None,
        reason=m.reason,
        source=m.source,
        time=m.time.ToDatetime(tzinfo=UTC) if m.HasField("time") else None,
        metadata=json_format.MessageToDict(m.metadata),
        id=m.id,
    )


def bulk_to_pb(r: BulkResult) -> matrix_pb2.RecordPlaybookEntriesResponse:
    return matrix_pb2.RecordPlaybookEntriesResponse(
        recorded=r.recorded,
        failed=r.failed,
        results=[
            matrix_pb2.PlaybookEntryResult(
                index=x.index,
                id=x.id,
                error=matrix_pb2.PlaybookEntryError(**_fields(x.error, EntryError)) if x.error else None,
            )
            for x in r.results
        ],
    )


def bulk_from_pb(m: matrix_pb2.RecordPlaybookEntriesResponse) -> BulkResult:
    results = [
        EntryResult(
            x.index,
            x.id,
            EntryError(x.error.code, x.error.reason, x.error.message, x.error.field) if x.HasField("error") else None,
        )
        for x in m.results
    ]
    return BulkResult(m.recorded, m.failed, results)


def mapping_from_pb(m: matrix_pb2.ImportPlaybookRequest) -> ImportMapping:
    return ImportMapping(
        dataset=m.dataset,
        query_column=m.query_column,
        item_id_column=m.item_id_column,
        corpus_column=m.corpus_column,
        corpus=m.corpus,
        outcome_column=m.outcome_column,
        score_column=m.score_column,
        reason_column=m.reason_column,
        time_column=m.time_column,
        id_column=m.id_column,
        metadata_columns=tuple(m.metadata_columns),
        source=m.source,
    )


def mapping_to_pb(m: ImportMapping) -> matrix_pb2.ImportPlaybookRequest:
    return matrix_pb2.ImportPlaybookRequest(
        **{**_fields(m, ImportMapping), "metadata_columns": list(m.metadata_columns)}
    )


def entry_filter_from_pb(m: matrix_pb2.ListPlaybookEntriesRequest) -> EntryFilter:
    return EntryFilter(
        corpus=m.corpus,
        item_id=m.item_id,
        source=m.source,
        since=m.since.ToDatetime(tzinfo=UTC) if m.HasField("since") else None,
        until=m.until.ToDatetime(tzinfo=UTC) if m.HasField("until") else None,
    )


def stats_to_pb(s: PlaybookStats) -> matrix_pb2.PlaybookStats:
    return matrix_pb2.PlaybookStats(
        entries=s.entries, counts=[matrix_pb2.PlaybookCount(**_fields(c, PlaybookCount)) for c in s.counts]
    )


def stats_from_pb(m: matrix_pb2.PlaybookStats) -> PlaybookStats:
    return PlaybookStats(m.entries, [PlaybookCount(**_fields(c, PlaybookCount)) for c in m.counts])


# Remote ----------------------------------------------------------------------------


class RemoteMatrix(Remote):
    """MatrixApi over a channel from ``lakehouse.api.channel.open_channel``."""

    stub_type = matrix_pb2_grpc.MatrixServiceStub

    def list_corpora(self) -> CorpusListing:
        return listing_from_pb(self._call("ListCorpora", matrix_pb2.ListMatrixCorporaRequest()))

    def search(self, request: MatrixRequest) -> MatrixResult:
        reply = self._call("Search", request_to_pb(request), self._channel.settings.embed_timeout_s)
        return result_from_pb(reply)

    def search_batch(self, request: MatrixRequest, queries: Sequence[Query]) -> list[MatrixResult]:
        message = matrix_pb2.MatrixSearchBatchRequest(options=request_to_pb(request))
        add_queries_to_pb(message.queries, queries)
        reply = self._call("SearchBatch", message, self._channel.settings.embed_timeout_s)
        return [result_from_pb(r) for r in reply.responses]

    def filter_relevance(
        self,
        text: str,
        candidates: Sequence[Candidate],
        *,
        threshold: float | None = None,
        margin: float | None = None,
        embedding_model: str = "",
    ) -> list[Verdict]:
        message = matrix_pb2.FilterRelevanceRequest(
            text=text,
            candidates=[matrix_pb2.RelevanceCandidate(text=c.text or "", corpus=c.corpus, id=c.id) for c in candidates],
            threshold=threshold,
            margin=margin,
            embedding_model=embedding_model,
        )
        reply = self._call("FilterRelevance", message, self._channel.settings.embed_timeout_s)
        return [Verdict(v.index, v.kept, v.score, v.reason) for v in reply.verdicts]

    def record_entry(self, entry: PlaybookEntry) -> PlaybookEntry:
        request = matrix_pb2.RecordPlaybookEntryRequest(entry=entry_to_pb(entry))
        return entry_from_pb(self._call("RecordPlaybookEntry", request, self._channel.settings.embed_timeout_s))

    def record_entries(self, entries: Sequence[PlaybookEntry]) -> BulkResult:
        request = matrix_pb2.RecordPlaybookEntriesRequest(entries=[entry_to_pb(e) for e in entries])
        return bulk_from_pb(self._call("RecordPlaybookEntries", request, NO_DEADLINE))

    def import_entries(self, mapping: ImportMapping) -> BulkResult:
        return bulk_from_pb(self._call("ImportPlaybook", mapping_to_pb(mapping), NO_DEADLINE))

    def list_entries(
        self, where: EntryFilter | None = None, *, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[PlaybookEntry], str]:
        w = where or EntryFilter()
        request = matrix_pb2.ListPlaybookEntriesRequest(
            corpus=w.corpus,
            item_id=w.item_id,
            source=w.source,
            since=timestamp(w.since) if w.since else None,
            until=timestamp(w.until) if w.until else None,
            page_size=page_size,
            page_token=page_token,
        )
        reply = self._call("ListPlaybookEntries", request)
        return [entry_from_pb(e) for e in reply.entries], reply.next_page_token

    def get_entry(self, entry_id: str) -> PlaybookEntry:
        return entry_from_pb(self._call("GetPlaybookEntry", matrix_pb2.GetPlaybookEntryRequest(id=entry_id)))

    def delete_entries(self, entry_id: str = "", *, corpus: str = "", item_id: str = "") -> int:
        request = matrix_pb2.DeletePlaybookEntriesRequest(id=entry_id, corpus=corpus, item_id=item_id)
        return self._call("DeletePlaybookEntries", request).deleted

    def playbook_stats(self) -> PlaybookStats:
        return stats_from_pb(self._call("GetPlaybookStats", matrix_pb2.GetPlaybookStatsRequest()))
