"""AskService's API: the plain types of a grounded answer, their conversions, the
``AskApi`` protocol, and its remote implementation.

An answer cites numbered chunks ([n]); ``ungrounded_citations`` lists numbers that name
no retrieved chunk. ``ProviderDown`` is the failure of a generative answer whose chat
provider cannot be reached: it carries the extractive answer (packed into the status,
so a REST caller gets it in the 503 body too).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from google.protobuf import any_pb2

from lakehouse.api.errors import Unavailable
from lakehouse.api.matrix import CorpusStats
from lakehouse.api.remote import Remote
from lakehouse.api.truth import Violation, violation_from_pb, violation_to_pb
from lakehouse.api.vector import _dict, _struct, filter_from_pb, filter_to_pb
from lakehouse.v1 import ask_pb2, ask_pb2_grpc, matrix_pb2

EXTRACTIVE = "extractive"
GENERATIVE = "generative"
FILTER_DERIVED = "derived"
FILTER_EXPLICIT = "explicit"
FILTER_NONE = "none"

# Stable error reasons (ErrorInfo.reason) of AskService.
CHAT_PROVIDER_DOWN = "CHAT_PROVIDER_DOWN"  # UNAVAILABLE, with the extractive answer attached


@dataclass(frozen=True)
class AskQuery:
    question: str
    corpora: tuple[str, ...] = ()
    filter: Mapping[str, Any] | None = None  # None: derive one from the question; {}: none
    sql: str = ""
    sql_id_column: str = ""
    k: int = 0  # 0: ask.k
    use_playbook: bool = False
    provider: str = ""
    model: str = ""
    extractive: bool = False  # answer extractively whatever is configured
    max_tokens: int = 0
    truth_rules: str = ""  # a rule set checked on every candidate ("": ask.truth_rules)


@dataclass(frozen=True)
class Citation:
    n: int
    corpus: str
    id: str
    doc_id: str
    page: int
    snippet: str
    score: float
    file_name: str = ""
    violations: tuple[Violation, ...] = ()  # the truth rules its document breaks


@dataclass(frozen=True)
class Candidate:
    rank: int
    doc_id: str
    file_name: str
    score: float
    sentences: tuple[str, ...]
    citations: tuple[int, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    violations: tuple[Violation, ...] = ()  # the truth rules it breaks


@dataclass(frozen=True)
class Retrieval:
    filter: Mapping[str, Any] | None
    filter_source: str  # FILTER_DERIVED, FILTER_EXPLICIT or FILTER_NONE
    retrieved: int
    search_mode: str
    downgraded: bool
    mode_reason: str
    relevance_dropped: int
    metadata_filter_dropped: int
    partial: bool
    corpora: tuple[CorpusStats, ...]
    latency_ms: float
    citations: tuple[Citation, ...]


@dataclass(frozen=True)
class Answer:
    answer: str
    mode: str  # EXTRACTIVE or GENERATIVE
    citations: tuple[Citation, ...]
    ungrounded_citations: tuple[int, ...]
    retrieval: Retrieval
    candidates: tuple[Candidate, ...] = ()
    provider: str = ""
    model: str = ""
    generate_ms: float = 0.0
    output_tokens: int = 0

    @property
    def grounded(self) -> bool:
        return not self.ungrounded_citations


# Stream events: the retrieval, tokens, then the answer.
@dataclass(frozen=True)
class Retrieved:
    retrieval: Retrieval


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Answered:
    answer: Answer


AskEvent = Retrieved | Token | Answered


class ProviderDown(Unavailable):
    """The chat provider could not answer; ``fallback`` is the extractive answer."""

    def __init__(self, message: str, fallback: Answer, metadata: dict[str, str] | None = None) -> None:
        super().__init__(
            message, reason=CHAT_PROVIDER_DOWN, metadata=metadata or {}, attachments=[answer_to_pb(fallback)]
        )
        self.fallback = fallback


def fallback_of(exc: BaseException) -> Answer | None:
    """The extractive answer a ProviderDown carries, in-process or restored from a status."""
    if isinstance(exc, ProviderDown):
        return exc.fallback
    for detail in getattr(exc, "attachments", ()):
        message = ask_pb2.AskResponse()
        if isinstance(detail, any_pb2.Any) and detail.Is(message.DESCRIPTOR) and detail.Unpack(message):
            return answer_from_pb(message)
        if isinstance(detail, ask_pb2.AskResponse):
            return answer_from_pb(detail)
    return None


class AskApi(Protocol):
    """Met in-process by AskCore and across processes by RemoteAsk."""

    def ask(self, query: AskQuery) -> Answer: ...

    def stream(self, query: AskQuery) -> Iterator[AskEvent]: ...


# Conversions ---------------------------------------------------------------------


def query_to_pb(q: AskQuery) -> ask_pb2.AskRequest:
    return ask_pb2.AskRequest(
        question=q.question,
        corpora=list(q.corpora),
        filter=filter_to_pb(q.filter),
        sql=q.sql,
        sql_id_column=q.sql_id_column,
        k=q.k,
        use_playbook=q.use_playbook,
        provider=q.provider,
        model=q.model,
        extractive=q.extractive,
        max_tokens=q.max_tokens,
        truth_rules=q.truth_rules,
    )


def query_from_pb(m: ask_pb2.AskRequest) -> AskQuery:
    return AskQuery(
        question=m.question,
        corpora=tuple(m.corpora),
        filter=filter_from_pb(m),
        sql=m.sql,
        sql_id_column=m.sql_id_column,
        k=m.k,
        use_playbook=m.use_playbook,
        provider=m.provider,
        model=m.model,
        extractive=m.extractive,
        max_tokens=m.max_tokens,
        truth_rules=m.truth_rules,
    )


_CITATION_SCALARS = tuple(f.name for f in fields(Citation) if f.name != "violations")


def _citation_to_pb(c: Citation) -> ask_pb2.Citation:
    return ask_pb2.Citation(
        **{name: getattr(c, name) for name in _CITATION_SCALARS},
        violations=[violation_to_pb(v) for v in c.violations],
    )


def _citation_from_pb(m: ask_pb2.Citation) -> Citation:
    return Citation(
        **{name: getattr(m, name) for name in _CITATION_SCALARS},
        violations=tuple(violation_from_pb(v) for v in m.violations),
    )


def retrieval_to_pb(r: Retrieval) -> ask_pb2.AskRetrieval:
    return ask_pb2.AskRetrieval(
        filter=filter_to_pb(r.filter),
        filter_source=r.filter_source,
        retrieved=r.retrieved,
        search_mode=r.search_mode,
        downgraded=r.downgraded,
        mode_reason=r.mode_reason,
        relevance_dropped=r.relevance_dropped,
        metadata_filter_dropped=r.metadata_filter_dropped,
        partial=r.partial,
        corpora=[
            matrix_pb2.CorpusSearchStats(**{f.name: getattr(s, f.name) for f in fields(CorpusStats)}) for s in r.corpora
        ],
        latency_ms=r.latency_ms,
        citations=[_citation_to_pb(c) for c in r.citations],
    )


def retrieval_from_pb(m: ask_pb2.AskRetrieval) -> Retrieval:
    return Retrieval(
        filter=filter_from_pb(m),
        filter_source=m.filter_source,
        retrieved=m.retrieved,
        search_mode=m.search_mode,
        downgraded=m.downgraded,
        mode_reason=m.mode_reason,
        relevance_dropped=m.relevance_dropped,
        metadata_filter_dropped=m.metadata_filter_dropped,
        partial=m.partial,
        corpora=tuple(CorpusStats(**{f.name: getattr(s, f.name) for f in fields(CorpusStats)}) for s in m.corpora),
        latency_ms=m.latency_ms,
        citations=tuple(_citation_from_pb(c) for c in m.citations),
    )


def answer_to_pb(a: Answer) -> ask_pb2.AskResponse:
    return ask_pb2.AskResponse(
        answer=a.answer,
        mode=a.mode,
        citations=[_citation_to_pb(c) for c in a.citations],
        ungrounded_citations=list(a.ungrounded_citations),
        grounded=a.grounded,
        retrieval=retrieval_to_pb(a.retrieval),
        candidates=[
            ask_pb2.AskCandidate(
                rank=c.rank,
                doc_id=c.doc_id,
                file_name=c.file_name,
                score=c.score,
                sentences=list(c.sentences),
                citations=list(c.citations),
                metadata=_struct(c.metadata),
                violations=[violation_to_pb(v) for v in c.violations],
            )
            for c in a.candidates
        ],
        provider=a.provider,
        model=a.model,
        generate_ms=a.generate_ms,
        output_tokens=a.output_tokens,
    )


def answer_from_pb(m: ask_pb2.AskResponse) -> Answer:
    return Answer(
        answer=m.answer,
        mode=m.mode,
        citations=tuple(_citation_from_pb(c) for c in m.citations),
        ungrounded_citations=tuple(m.ungrounded_citations),
        retrieval=retrieval_from_pb(m.retrieval),
        candidates=tuple(
            Candidate(
                rank=c.rank,
                doc_id=c.doc_id,
                file_name=c.file_name,
                score=c.score,
                sentences=tuple(c.sentences),
                citations=tuple(c.citations),
                metadata=_dict(c.metadata),
                violations=tuple(violation_from_pb(v) for v in c.violations),
            )
            for c in m.candidates
        ),
        provider=m.provider,
        model=m.model,
        generate_ms=m.generate_ms,
        output_tokens=m.output_tokens,
    )


def event_to_pb(e: AskEvent) -> ask_pb2.AskEvent:
    if isinstance(e, Retrieved):
        return ask_pb2.AskEvent(retrieval=retrieval_to_pb(e.retrieval))
    if isinstance(e, Token):
        return ask_pb2.AskEvent(token=e.text)
    return ask_pb2.AskEvent(answer=answer_to_pb(e.answer))


def event_from_pb(m: ask_pb2.AskEvent) -> AskEvent:
    kind = m.WhichOneof("event")
    if kind == "retrieval":
        return Retrieved(retrieval_from_pb(m.retrieval))
    if kind == "token":
        return Token(m.token)
    return Answered(answer_from_pb(m.answer))


# Remote ----------------------------------------------------------------------


class RemoteAsk(Remote):
    """AskApi over a channel from ``lakehouse.api.channel.open_channel``."""

    stub_type = ask_pb2_grpc.AskServiceStub

    def ask(self, query: AskQuery) -> Answer:
        return answer_from_pb(self._call("Ask", query_to_pb(query)))

    def stream(self, query: AskQuery) -> Iterator[AskEvent]:
        for message in self._stream("AskStream", query_to_pb(query)):
            yield event_from_pb(message)
