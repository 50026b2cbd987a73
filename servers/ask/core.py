"""AskCore: a question in, a grounded, cited answer out.

1. The question's constraints become a metadata filter (``derive.py``) unless the
   request gives one; the response shows which.
2. The matrix search retrieves chunks, with its relevance filter on and the downgrade
   gate told which model will read them.
3. The chunks are numbered; they, and only they, are the prompt's sources.
4. A chat model writes the answer (streamed), or with none configured the answer is
   extractive: ranked candidates with their matching sentences, cited.
5. Every [n] in the answer is checked against the numbered chunks; a citation of a
   chunk that was not retrieved is listed in ``ungrounded_citations``.
6. With a truth rule set (the request's ``truth_rules``, else ``ask.truth_rules``) each
   retrieved document's metadata is checked against it, and the rules it breaks flag
   its citations and its candidate (``violations``); nothing is dropped for it.

With nothing retrieved the answer says so and names no one, and no model is asked.
When the chat provider cannot be reached the call fails UNAVAILABLE carrying the
extractive answer (``ProviderDown``), so the retrieval is never lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from lakehouse.api import errors
from lakehouse.api.ask import (
    EXTRACTIVE,
    FILTER_DERIVED,
    FILTER_EXPLICIT,
    FILTER_NONE,
    GENERATIVE,
    Answer,
    Answered,
    AskEvent,
    AskQuery,
    Citation,
    ProviderDown,
    Retrieval,
    Retrieved,
    Token,
)
from lakehouse.api.matrix import MatrixApi, MatrixHit, MatrixRequest, Relevance
from lakehouse.api.models import USAGE_OUTPUT, ModelsApi
from lakehouse.api.truth import CheckRequest, TruthApi, Violation
from lakehouse.servers.ask.derive import derive_filter
from lakehouse.servers.ask.extractive import Extractor
from lakehouse.servers.ask.grounding import ungrounded
from lakehouse.servers.ask.prompt import build_messages
from lakehouse.servers.settings import AskSettings
from lakehouse.servers.vocabulary import Vocabulary

# Chat failures that mean "the provider is not there right now" (the caller still gets
# the extractive answer); any other error is the request's and propagates as it is.
_PROVIDER_DOWN_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "INTERNAL", "UNKNOWN"})
MAX_QUESTION_CHARS = 4000
MS = 1000.0


def _group_key(citation: Citation) -> str:
    """The document a citation belongs to, as the extractive candidates group them."""
    return citation.doc_id or f"{citation.corpus}/{citation.id}"


def _page(metadata: dict[str, Any]) -> int:
    value = metadata.get("page")
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


class AskCore:
    """Handed the matrix and models APIs (resolved on first use: either may be remote)."""

    def __init__(
        self,
        matrix: Callable[[], MatrixApi],
        models: Callable[[], ModelsApi],
        settings: AskSettings,
        vocabulary: Vocabulary,
        truth: Callable[[], TruthApi] | None = None,
    ) -> None:
        self._matrix = matrix
        self._models = models
        self._truth = truth
        self._settings = settings
        self._vocabulary = vocabulary
        self._extractor = Extractor(settings, vocabulary)

    def ask(self, query: AskQuery) -> Answer:
        """The final answer of ``stream``."""
        for event in self.stream(query):
            if isinstance(event, Answered):
                return event.answer
        raise errors.Internal("the answer stream ended without an answer")

    def stream(self, query: AskQuery) -> Iterator[AskEvent]:
        self._check(query)
        provider, model = self._chat_target(query)
        retrieval, hits = self._retrieve(query, model)
        yield Retrieved(retrieval)
        sources = [(c, h.text or "", h.metadata) for c, h in zip(retrieval.citations, hits, strict=True)]
        if not (provider or model) or not sources:
            yield Answered(self._extractive(query, retrieval, sources))
            return
        yield from self._generate(query, retrieval, sources, provider, model)

    # Steps ---------------------------------------------------------------

    def _check(self, query: AskQuery) -> None:
        if not query.question.strip():
            raise errors.invalid_field("question", "required: ask something")
        if len(query.question) > MAX_QUESTION_CHARS:
            raise errors.invalid_field("question", f"at most {MAX_QUESTION_CHARS} characters")
        if query.k < 0 or query.max_tokens < 0:
            raise errors.invalid_field("k" if query.k < 0 else "max_tokens", "must not be negative")

    def _chat_target(self, query: AskQuery) -> tuple[str, str]:
        if query.extractive:
            return "", ""
        if query.provider or query.model:
            return query.provider, query.model
        return self._settings.provider, self._settings.model

    def _filter(self, query: AskQuery) -> tuple[dict[str, Any] | None, str]:
        if query.filter is not None:
            return (dict(query.filter), FILTER_EXPLICIT) if query.filter else (None, FILTER_NONE)
        derived = derive_filter(self._vocabulary, query.question)
        return (derived, FILTER_DERIVED) if derived else (None, FILTER_NONE)

    def _retrieve(self, query: AskQuery, model: str) -> tuple[Retrieval, list[MatrixHit]]:
        """``model``: the one that will read the chunks (the matrix's downgrade gate)."""
        s = self._settings
        flt, source = self._filter(query)
        k = query.k or s.k
        request = MatrixRequest(
            text=query.question,
            corpora=query.corpora or tuple(s.corpora),
            k=k,
            k_per_corpus=max(s.k_per_corpus, k),
            filter=flt,
            sql=query.sql,
            sql_id_column=query.sql_id_column,
            relevance=Relevance(enabled=True),
            model=model,
            include_text=True,
            use_playbook=query.use_playbook,
        )
        started = time.perf_counter()
        result = self._matrix().search(request)
        latency = (time.perf_counter() - started) * MS
        hits = result.hits[:k]
        citations = self._flag(query, tuple(self._citation(n, h) for n, h in enumerate(hits, start=1)), hits)
        retrieval = Retrieval(
            filter=flt,
            filter_source=source,
            retrieved=len(citations),
            search_mode=result.mode,
            downgraded=result.downgraded,
            mode_reason=result.mode_reason,
            relevance_dropped=len(result.relevance_dropped),
            metadata_filter_dropped=result.filtered_out,
            partial=result.partial,
            corpora=tuple(result.corpora),
            latency_ms=latency,
            citations=citations,
        )
        return retrieval, hits

    def _flag(self, query: AskQuery, citations: tuple[Citation, ...], hits: list[MatrixHit]) -> tuple[Citation, ...]:
        """Each citation with the truth rules its document's metadata breaks (checked once
        per document); unchanged when no rule set applies."""
        name = query.truth_rules or self._settings.truth_rules
        if not name or not citations:
            return citations
        if self._truth is None:
            raise errors.FailedPrecondition("truth rules were asked for, but this process has no truth service")
        truth = self._truth()
        checked: dict[str, tuple[Violation, ...]] = {}
        out = []
        for citation, hit in zip(citations, hits, strict=True):
            key = _group_key(citation)
            if key not in checked:
                result = truth.check(CheckRequest(rule_set=name, record=dict(hit.metadata)))
                checked[key] = tuple(result.violations)
            out.append(replace(citation, violations=checked[key]))
        return tuple(out)

    def _citation(self, n: int, hit: MatrixHit) -> Citation:
        text = hit.text or ""
        limit = self._settings.snippet_chars
        snippet = text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"
        return Citation(
            n=n,
            corpus=hit.corpus,
            id=hit.id,
            doc_id=str(hit.metadata.get("doc_id", "")),
            page=_page(hit.metadata),
            snippet=snippet,
            score=hit.score,
            file_name=str(hit.metadata.get("file_name", "")),
        )

    def _extractive(self, query: AskQuery, retrieval: Retrieval, sources) -> Answer:
        started = time.perf_counter()
        candidates = self._extractor.candidates(query.question, sources)
        flags = {_group_key(c): c.violations for c in retrieval.citations if c.violations}
        candidates = tuple(replace(c, violations=flags.get(c.doc_id, ())) for c in candidates)
        text = self._extractor.answer_text(query.question, candidates)
        return Answer(
            answer=text,
            mode=EXTRACTIVE,
            citations=retrieval.citations,
            ungrounded_citations=ungrounded(text, len(retrieval.citations)),
            retrieval=retrieval,
            candidates=candidates,
            generate_ms=(time.perf_counter() - started) * MS,
        )

    def _generate(
        self, query: AskQuery, retrieval: Retrieval, sources, provider: str, model: str
    ) -> Iterator[AskEvent]:
        s = self._settings
        messages = build_messages(s.system_prompt, query.question, [(c, text) for c, text, _ in sources])
        started = time.perf_counter()
        pieces: list[str] = []
        output_tokens = 0
        try:
            stream = self._models().chat(
                messages, provider, model, temperature=s.temperature, max_tokens=query.max_tokens or s.max_tokens
            )
            for chunk in stream:
                if chunk.delta:
                    pieces.append(chunk.delta)
                    yield Token(chunk.delta)
                if chunk.usage:
                    output_tokens = int(chunk.usage.get(USAGE_OUTPUT, 0))
        except errors.LakehouseError as exc:
            if exc.code not in _PROVIDER_DOWN_CODES:
                raise
            fallback = self._extractive(query, retrieval, sources)
            who = provider or "the default chat provider"
            raise ProviderDown(
                f"{who} could not answer ({exc.code} {exc.reason}: {exc.message}); the extractive answer is attached",
                fallback,
                metadata={"provider": provider, "model": model, "cause": exc.reason},
            ) from exc
        text = "".join(pieces).strip()
        yield Answered(
            Answer(
                answer=text,
                mode=GENERATIVE,
                citations=retrieval.citations,
                ungrounded_citations=ungrounded(text, len(retrieval.citations)),
                retrieval=retrieval,
                provider=provider,
                model=model,
                generate_ms=(time.perf_counter() - started) * MS,
                output_tokens=output_tokens,
            )
        )
