"""MatrixCore: one retrieval surface over corpora hosted by one or many vector processes.

A search is planned once (mode and downgrade gate, routing, the filter checked, the SQL
gate run, the relevance rule) and then run: the query is embedded once per distinct
model among the chosen corpora, every corpus is searched through its host's ``VectorApi``
(other processes concurrently) with the filter and the SQL-selected ids applied inside its graph
walk, and the per-corpus results are fused (``fusion.py``). A corpus that fails is
reported in its stats and the rest still answer, unless the request says
``require_all``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.api import errors
from lakehouse.api.errors import invalid_field
from lakehouse.api.ingest import IngestApi
from lakehouse.api.matrix import (
    FUSION_SCORE,
    FUSIONS,
    INVALID_CANDIDATE,
    INVALID_FUSION,
    ITEM_NOT_FOUND,
    MIXED_METRICS,
    NO_CORPORA,
    SQL_GATE_TOO_LARGE,
    SQL_ID_COLUMN,
    TOO_MANY_CORPORA,
    BulkResult,
    Candidate,
    CorpusListing,
    CorpusStats,
    EntryFilter,
    ImportMapping,
    MatrixHit,
    MatrixRequest,
    MatrixResult,
    PlaybookEntry,
    PlaybookStats,
    RelevanceDrop,
    Verdict,
)
from lakehouse.api.models import ModelsApi
from lakehouse.api.paging import PagingSettings
from lakehouse.api.query import QueryApi
from lakehouse.api.vector import DIMENSION_MISMATCH, INVALID_K, INVALID_QUERY, Query, SearchResult
from lakehouse.servers.matrix.directory import CorpusDirectory, Route, Unrouted, VectorHost
from lakehouse.servers.matrix.fusion import RelevanceRule, fuse
from lakehouse.servers.matrix.modes import ModeChoice, choose_mode
from lakehouse.servers.matrix.playbooks import PLAYBOOK_TAG, ItemCheck, Learned, Playbooks, Visible, alone_or_pair
from lakehouse.servers.settings import FilterSettings, MatrixSettings
from lakehouse.servers.vector.embedder import ModelsEmbedder
from lakehouse.servers.vector.filters import parse_filter

SQL_SELECTED_NOTHING = "the SQL gate selected no ids"
PLAYBOOK_REJECTED = "rejected"


@dataclass(frozen=True)
class Plan:
    """Everything a search decides before it searches."""

    routes: list[Route]  # chosen and routed, in order
    unrouted: list[Unrouted]
    choice: ModeChoice
    k: int
    k_per_corpus: int
    fusion: str
    rrf_k: int
    ef_search: int
    filter: Mapping[str, Any] | None
    allowed_ids: list[str] | None  # the SQL gate's ids
    relevance: RelevanceRule | None
    include_text: bool
    require_all: bool


@dataclass(frozen=True)
class Outcome:
    """One corpus's search: a result per query, or its error."""

    route: Route
    results: list[SearchResult] | None
    error: errors.LakehouseError | None
    latency_ms: float


class MatrixCore:
    def __init__(
        self,
        hosts: Sequence[VectorHost],
        models: Callable[[], ModelsApi],
        query: Callable[[], QueryApi],
        settings: MatrixSettings,
        filters: FilterSettings | None = None,
        *,
        ingest: Callable[[], IngestApi] | None = None,
        paging: PagingSettings | None = None,
        service: Callable[[], AbstractContextManager] = nullcontext,
    ) -> None:
        """``models``, ``query`` and ``ingest`` are resolved on first use (they may live in
        other processes); the playbook lives on the first host. ``service``: entered around
        the playbook's own storage (see Playbooks)."""
        self._settings = settings
        self._filters = filters or FilterSettings()
        self._models = models
        self._query = query
        self._pool = ThreadPoolExecutor(settings.search_workers, thread_name_prefix="matrix-search")
        self._directory = CorpusDirectory(hosts, settings.routing_ttl_s, self._pool)
        self.playbooks = Playbooks(
            ingest or _no_ingest,
            query,
            lambda: hosts[0].api,
            ItemCheck(self._items_in),
            settings,
            paging or PagingSettings(),
            service=service,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # API -----------------------------------------------------------------------

    def list_corpora(self) -> CorpusListing:
        return self._directory.listing(fresh=True)

    def search(self, request: MatrixRequest) -> MatrixResult:
        return self._search(request, [Query(request.vector, request.text)], "")[0]

    def search_batch(self, request: MatrixRequest, queries: Sequence[Query]) -> list[MatrixResult]:
        if isinstance(queries, str | bytes) or not queries:
            raise invalid_field("queries", "give at least one query", INVALID_QUERY)
        return self._search(request, queries, "queries")

    def _search(self, request: MatrixRequest, queries: Sequence[Query], field: str) -> list[MatrixResult]:
        plan = self._plan(request)
        embedded: dict[str, np.ndarray] = {}
        vectors = self._vectors(plan, [(q.vector, q.text) for q in queries], field, embedded)
        outcomes = self._run(plan, vectors)
        learned: list[dict[tuple[str, str], Learned]] = [{} for _ in queries]
        if request.use_playbook:
            learned = self._learn(request, plan, queries, field, embedded)
            outcomes = self._fetch_learned(plan, outcomes, vectors, learned)
        return [self._assemble(plan, outcomes, i, learned[i]) for i in range(len(queries))]

    def _learn(
        self, request: MatrixRequest, plan: Plan, queries: Sequence[Query], field: str, embedded: dict[str, np.ndarray]
    ) -> list[dict[tuple[str, str], Learned]]:
        """The playbook's word on each query; a query already embedded by the playbook
        corpus's model is not embedded again."""
        as_of = request.as_of or datetime.now(UTC)
        if as_of.tzinfo is None:
            raise invalid_field("as_of", "must carry a time zone", INVALID_QUERY)
        names = [r.corpus.name for r in plan.routes]
        out = []
        for i, query in enumerate(queries):
            if not query.text:
                where = f"{field}[{i}].text" if field else "text"
                raise invalid_field(
                    where, "use_playbook needs the query text (past queries are matched by it)", INVALID_QUERY
                )
        model = self.playbooks.model() if names else None
        reuse = embedded.get(model) if model is not None else None
        for i, query in enumerate(queries):
            vector = reuse[i] if reuse is not None else None
            out.append(self.playbooks.learn(query.text, names, as_of, vector) if names else {})
        return out

    def _fetch_learned(
        self,
        plan: Plan,
        outcomes: list[Outcome],
        vectors: Mapping[str, np.ndarray | errors.LakehouseError],
        learned: list[dict[tuple[str, str], Learned]],
    ) -> list[Outcome]:
        """Items the playbook boosts that a corpus's vector search did not return are
        searched for by id (the filter and the SQL gate still apply), so they can surface."""
        s, gate = self._settings, None if plan.allowed_ids is None else set(plan.allowed_ids)
        fetched = []
        for outcome in outcomes:
            if outcome.results is None:
                fetched.append(outcome)
                continue
            name, results = outcome.route.corpus.name, list(outcome.results)
            for q, result in enumerate(results):
                have = {h.id for h in result.hits}
                boosted = sorted(
                    (
                        (-entry.boost, item)
                        for (corpus, item), entry in learned[q].items()
                        if corpus == name
                        and item not in have
                        and entry.boost >= s.playbook_fetch_min_boost
                        and (gate is None or item in gate)
                    )
                )
                wanted = [item for _, item in boosted[: plan.k]]  # no more than can be kept
                if not wanted:
                    continue
                one = replace(plan, allowed_ids=wanted, k_per_corpus=min(len(wanted), s.max_k))
                extra = self._search_one(one, outcome.route, vectors[name][q : q + 1])
                if extra.results:
                    hits = [*result.hits, *extra.results[0].hits]
                    results[q] = SearchResult(hits, result.exact, result.generation, result.filtered_out)
            fetched.append(Outcome(outcome.route, results, None, outcome.latency_ms))
        return fetched

    def filter_relevance(
        self,
        text: str,
        candidates: Sequence[Candidate],
        *,
        threshold: float | None = None,
        margin: float | None = None,
        embedding_model: str = "",
    ) -> list[Verdict]:
        """Cosine similarity of each candidate to ``text`` (texts embedded with
        ``embedding_model``; items scored on their stored vectors, the query embedded with
        their corpus's model), then the relevance rule over all of them."""
        if not text:
            raise invalid_field("text", "required", INVALID_QUERY)
        rule = RelevanceRule.checked(
            self._settings.relevance_threshold if threshold is None else threshold,
            self._settings.relevance_margin if margin is None else margin,
            cosine_only=True,
        )
        scores = self._candidate_scores(text, candidates, embedding_model)
        return [Verdict(i, not why, s, why) for i, (s, why) in enumerate(zip(scores, rule.judge(scores), strict=True))]

    # Playbooks -----------------------------------------------------------------

    # Playbook entries: ``visible`` is the caller's corpora (None: all), see Playbooks.

    def record_entry(self, entry: PlaybookEntry, *, visible: Visible = None) -> PlaybookEntry:
        return self.playbooks.record_entry(entry, visible=visible)

    def record_entries(self, entries: Sequence[PlaybookEntry], *, visible: Visible = None) -> BulkResult:
        return self.playbooks.record_entries(entries, visible=visible)

    def import_entries(self, mapping: ImportMapping, *, visible: Visible = None) -> BulkResult:
        return self.playbooks.import_entries(mapping, visible=visible)

    def list_entries(
        self, where: EntryFilter | None = None, *, page_size: int = 0, page_token: str = "", visible: Visible = None
    ) -> tuple[list[PlaybookEntry], str]:
        return self.playbooks.list_entries(where, page_size=page_size, page_token=page_token, visible=visible)

    def get_entry(self, entry_id: str, *, visible: Visible = None) -> PlaybookEntry:
        return self.playbooks.get_entry(entry_id, visible=visible)

    def delete_entries(
        self, entry_id: str = "", *, corpus: str = "", item_id: str = "", visible: Visible = None
    ) -> int:
        return self.playbooks.delete_entries(entry_id, corpus=corpus, item_id=item_id, visible=visible)

    def playbook_stats(self, *, visible: Visible = None) -> PlaybookStats:
        return self.playbooks.playbook_stats(visible=visible)

    def _items_in(self, corpus: str, ids: Sequence[str]) -> set[str]:
        found, unrouted = self._directory.resolve([corpus])
        if unrouted:
            raise unrouted[0].error
        return {item.id for item in found[corpus].host.api.get_items(corpus, ids).items}

    # Planning ------------------------------------------------------------------

    def _plan(self, r: MatrixRequest) -> Plan:
        s = self._settings
        k = _bounded("k", r.k or s.k, s.max_k)
        k_per_corpus = _bounded("k_per_corpus", r.k_per_corpus or s.k_per_corpus, s.max_k)
        fusion = r.fusion or s.fusion
        if fusion not in FUSIONS:
            raise invalid_field("fusion", f"must be one of {', '.join(FUSIONS)}, got {fusion!r}", INVALID_FUSION)
        rrf_k = _bounded("rrf_k", r.rrf_k or s.rrf_k, None)
        if isinstance(r.corpora, str):
            raise invalid_field("corpora", "must be a list of corpus names, not one string")
        requested = list(dict.fromkeys(r.corpora))
        if len(requested) > s.max_corpora:
            raise invalid_field(
                "corpora", f"at most {s.max_corpora} per search, got {len(requested)}", TOO_MANY_CORPORA
            )
        if r.filter is not None:
            parse_filter(r.filter, "filter", self._filters)  # refused here once, not by every corpus
        known, _ = self._directory.resolve([])
        searchable = {n: x.corpus for n, x in known.items() if PLAYBOOK_TAG not in x.corpus.tags}
        choice = choose_mode(requested, r.mode, r.force_mode, r.model, searchable, s)
        if not choice.corpora:
            raise errors.FailedPrecondition("no corpora exist to search; create one first", reason=NO_CORPORA)
        found, unrouted = self._directory.resolve(choice.corpora)
        routes = [found[name] for name in choice.corpora if name in found]
        if fusion == FUSION_SCORE:
            _check_one_metric(routes)
        relevance = self._relevance(r, routes)
        return Plan(
            routes=routes,
            unrouted=unrouted,
            choice=choice,
            k=k,
            k_per_corpus=k_per_corpus,
            fusion=fusion,
            rrf_k=rrf_k,
            ef_search=r.ef_search,
            filter=r.filter,
            allowed_ids=self._sql_gate(r.sql, r.sql_id_column) if r.sql else None,
            relevance=relevance,
            include_text=r.include_text,
            require_all=r.require_all,
        )

    def _relevance(self, r: MatrixRequest, routes: Sequence[Route]) -> RelevanceRule | None:
        s = self._settings
        enabled = s.relevance_filter if r.relevance.enabled is None else r.relevance.enabled
        threshold = s.relevance_threshold if r.relevance.threshold is None else r.relevance.threshold
        margin = s.relevance_margin if r.relevance.margin is None else r.relevance.margin
        cosine_only = all(route.corpus.metric == "cosine" for route in routes)
        rule = RelevanceRule.checked(threshold, margin, cosine_only)  # checked even when off: a typo is a typo
        return rule if enabled else None

    def _sql_gate(self, sql: str, id_column: str) -> list[str]:
        """The ids a read-only statement selects (QueryService's sandbox; its errors as they are)."""
        table = self._query().stream(sql).read_all()
        names = table.column_names
        if id_column:
            if id_column not in names:
                raise invalid_field(
                    "sql_id_column", f"{id_column!r} is not a column of the result {names}", SQL_ID_COLUMN
                )
        elif len(names) != 1:
            raise invalid_field(
                "sql_id_column", f"the SQL result has columns {names}: name the id column", SQL_ID_COLUMN
            )
        chosen = id_column or names[0]
        column = table.column(chosen)
        kind = column.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)):
            message = f"the id column {chosen!r} has type {kind}: ids must be text or integers"
            raise invalid_field("sql_id_column" if id_column else "sql", message, SQL_ID_COLUMN)
        ids = pc.unique(pc.drop_null(column.combine_chunks()).cast(pa.string()))
        if len(ids) > self._settings.sql_max_ids:
            raise invalid_field(
                "sql",
                f"selects {len(ids)} ids, more than matrix.sql_max_ids ({self._settings.sql_max_ids})",
                SQL_GATE_TOO_LARGE,
            )
        return ids.to_pylist()

    # Running -------------------------------------------------------------------

    def _vectors(
        self, plan: Plan, queries: Sequence[tuple[Any, str | None]], field: str, embedded: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray | errors.LakehouseError]:
        """Per chosen corpus, the (n_queries, d) query matrix: given vectors checked against
        its dimension (a mismatch refuses the call), texts embedded once per distinct model
        (a corpus whose dimension the model does not yield gets that error instead)."""

        def name(i: int, part: str) -> str:
            return f"{field}[{i}].{part}" if field else part

        given: dict[int, np.ndarray] = {}
        texts: dict[int, str] = {}
        for i, (vector, text) in enumerate(queries):
            if (vector is None) == (not text):
                raise invalid_field(name(i, "query"), "give exactly one of vector or text", INVALID_QUERY)
            if vector is not None:
                given[i] = np.asarray(vector, dtype=np.float32)
            else:
                texts[i] = str(text)
        out = {}
        for route in plan.routes:
            info = route.corpus
            matrix = np.empty((len(queries), info.dimension), dtype=np.float32)
            for i, vector in given.items():
                if vector.shape != (info.dimension,):
                    raise invalid_field(
                        name(i, "vector"),
                        f"has dimension {vector.size}, corpus {info.name!r} has {info.dimension}",
                        DIMENSION_MISMATCH,
                    )
                matrix[i] = vector
            if texts:
                model = info.embedding_model
                if model not in embedded:
                    embedded[model] = ModelsEmbedder(self._models()).embed(list(texts.values()), model)
                vectors = embedded[model]
                if vectors.shape[1] != info.dimension:
                    # This corpus cannot take text embedded by its model (a corpus of given vectors):
                    # it fails alone, the others answer.
                    shown = model or "the default model"
                    message = f"{shown} yields {vectors.shape[1]} dimensions, corpus {info.name!r} has {info.dimension}"
                    out[info.name] = errors.FailedPrecondition(message, reason=DIMENSION_MISMATCH)
                    continue
                matrix[list(texts)] = vectors
            out[info.name] = matrix
        return out

    def _run(self, plan: Plan, vectors: Mapping[str, np.ndarray | errors.LakehouseError]) -> list[Outcome]:
        """Every chosen corpus searched: those of other processes concurrently on the pool;
        of this process's, every ``local_search_threads``-th on this thread meanwhile and the
        rest on the pool (their FAISS walks overlap, their Python holds the GIL: DECISIONS
        D29). Outcomes in route order."""
        if not plan.routes or (plan.allowed_ids is not None and not plan.allowed_ids):
            return []  # nothing to ask (an empty allow-list would mean "no list" on the wire)
        share = self._settings.local_search_threads
        here = set([i for i, r in enumerate(plan.routes) if r.host.in_process][::share])
        pooled = {
            i: self._pool.submit(self._search_one, plan, r, vectors[r.corpus.name])
            for i, r in enumerate(plan.routes)
            if i not in here
        }
        local = {i: self._search_one(plan, r, vectors[r.corpus.name]) for i, r in enumerate(plan.routes) if i in here}
        return [local[i] if i in local else pooled[i].result() for i in range(len(plan.routes))]

    def _search_one(self, plan: Plan, route: Route, queries: np.ndarray | errors.LakehouseError) -> Outcome:
        if isinstance(queries, errors.LakehouseError):
            return Outcome(route, None, queries, 0.0)
        api, name = route.host.api, route.corpus.name
        started = time.perf_counter()
        options = dict(
            k=plan.k_per_corpus,
            ef_search=plan.ef_search,
            allowed_ids=plan.allowed_ids,
            filter=plan.filter,
            include_text=plan.include_text,
        )
        try:
            if len(queries) == 1:
                results = [api.search(name, vector=queries[0], **options)]
            else:
                results = api.search_batch(name, [Query(vector=q) for q in queries], **options)
        except errors.LakehouseError as exc:
            return Outcome(route, None, exc, _ms_since(started))
        return Outcome(route, results, None, _ms_since(started))

    # Assembling ------------------------------------------------------------------

    def _assemble(
        self, plan: Plan, outcomes: Sequence[Outcome], query: int, learned: Mapping[tuple[str, str], Learned]
    ) -> MatrixResult:
        failures = [(u.name, u.error) for u in plan.unrouted] + [
            (o.route.corpus.name, o.error) for o in outcomes if o.error is not None
        ]
        if plan.require_all and failures:
            raise failures[0][1]
        by_name = {o.route.corpus.name: o for o in outcomes}
        upstreams = {r.corpus.name: r.host.label for r in plan.routes}
        unrouted = {u.name: u for u in plan.unrouted}
        stats, per_corpus, metrics, filtered_out, excluded = [], [], [], 0, []
        for name in plan.choice.corpora:
            if name in unrouted:
                error = unrouted[name].error
                stats.append(CorpusStats(name, "", False, code=error.code, reason=error.reason, message=error.message))
                continue
            outcome = by_name.get(name)
            upstream = upstreams[name]
            if outcome is None:
                stats.append(CorpusStats(name, upstream, False, message=SQL_SELECTED_NOTHING))
                continue
            if outcome.error is not None:
                e = outcome.error
                stats.append(CorpusStats(name, upstream, False, 0, 0, outcome.latency_ms, e.code, e.reason, e.message))
                continue
            result = outcome.results[query]
            hits = _with_learning(name, result, learned, excluded)
            per_corpus.append(hits)
            metrics.append(outcome.route.corpus.metric)
            filtered_out += result.filtered_out
            stats.append(CorpusStats(name, upstream, True, len(hits), result.filtered_out, outcome.latency_ms))
        dropped: list[RelevanceDrop] = []
        if plan.relevance is not None:
            per_corpus, dropped = _drop_irrelevant(per_corpus, metrics, plan.relevance)
        hits = fuse(per_corpus, plan.fusion, plan.rrf_k, plan.k)
        return MatrixResult(
            hits=hits,
            corpora=stats,
            filtered_out=filtered_out,
            mode=plan.choice.name,
            downgraded=plan.choice.downgraded,
            mode_reason=plan.choice.reason,
            relevance_dropped=dropped,
            partial=bool(failures),
            sql_selected=len(plan.allowed_ids) if plan.allowed_ids is not None else 0,
            playbook_excluded=excluded,
        )

    # Relevance of free candidates --------------------------------------------------

    def _candidate_scores(self, text: str, candidates: Sequence[Candidate], model: str) -> list[float]:
        embedder = ModelsEmbedder(self._models())
        texts = {i: c.text for i, c in enumerate(candidates) if c.text}
        items: dict[str, list[int]] = {}
        for i, c in enumerate(candidates):
            if not alone_or_pair(c.text or "", c.corpus, c.id):
                raise invalid_field(f"candidates[{i}]", "give a text, or a corpus and an id", INVALID_CANDIDATE)
            if not c.text:
                items.setdefault(c.corpus, []).append(i)
        scores = [math.nan] * len(candidates)
        if texts:
            vectors = _unit(embedder.embed([text, *texts.values()], model))
            for i, v in zip(texts, vectors[1:], strict=True):
                scores[i] = float(v @ vectors[0])
        if items:
            found, unrouted = self._directory.resolve(list(items))
            if unrouted:
                raise unrouted[0].error
            for corpus, indexes in items.items():
                route = found[corpus]
                query = _unit(embedder.embed([text], route.corpus.embedding_model))[0]
                ids = list(dict.fromkeys(candidates[i].id for i in indexes))
                stored = {item.id: item for item in route.host.api.get_items(corpus, ids, include_vectors=True).items}
                for i in indexes:
                    item = stored.get(candidates[i].id)
                    if item is None:
                        raise errors.NotFound(
                            f"candidates[{i}]: corpus {corpus!r} has no item {candidates[i].id!r}",
                            reason=ITEM_NOT_FOUND,
                            metadata={"corpus": corpus, "id": candidates[i].id},
                        )
                    scores[i] = float(_unit(np.asarray(item.vector, dtype=np.float32)[None, :])[0] @ query)
        return scores


def _with_learning(
    corpus: str, result: SearchResult, learned: Mapping[tuple[str, str], Learned], excluded: list[RelevanceDrop]
) -> list[MatrixHit]:
    """A corpus's hits as matrix hits, re-ranked by score + playbook boost; items the
    playbook excludes go to ``excluded``."""
    scored = []
    for h in result.hits:
        entry = learned.get((corpus, h.id)) if learned else None
        if entry is not None and entry.excluded:
            excluded.append(RelevanceDrop(corpus, h.id, h.score, PLAYBOOK_REJECTED))
            continue
        scored.append((h, entry.boost if entry else 0.0, tuple(entry.evidence) if entry else ()))
    if learned:  # without a playbook the corpus's own order stands
        scored.sort(key=lambda x: -(x[0].score + x[1]))
    return [
        MatrixHit(
            corpus, h.id, h.score, h.score + boost, rank, result.generation, h.metadata, h.text, h.row, boost, evidence
        )
        for rank, (h, boost, evidence) in enumerate(scored, start=1)
    ]


def _no_ingest() -> IngestApi:
    raise errors.FailedPrecondition("this matrix records no playbook: it was given no ingest service")


def _bounded(field: str, value: int, limit: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or (limit is not None and value > limit):
        bound = f"in [1, {limit}]" if limit is not None else "a positive integer"
        raise invalid_field(field, f"must be {bound}, got {value!r}", INVALID_K)
    return value


def _check_one_metric(routes: Sequence[Route]) -> None:
    metrics = {r.corpus.metric for r in routes}
    if len(metrics) > 1:
        shown = ", ".join(f"{r.corpus.name} ({r.corpus.metric})" for r in routes)
        raise invalid_field(
            "fusion",
            f'corpora of different metrics have scores that are not comparable: {shown}; use fusion "rrf"',
            MIXED_METRICS,
        )


def _drop_irrelevant(
    per_corpus: list[list[MatrixHit]], metrics: list[str], rule: RelevanceRule
) -> tuple[list[list[MatrixHit]], list[RelevanceDrop]]:
    """The relevance rule over every result; the margin counts from the best of the same metric."""
    kept: list[list[MatrixHit]] = [[] for _ in per_corpus]
    dropped = []
    for metric in dict.fromkeys(metrics):
        group = [(c, h) for c, hits in enumerate(per_corpus) if metrics[c] == metric for h in hits]
        for (c, hit), why in zip(group, rule.judge([h.score for _, h in group]), strict=True):
            if why:
                dropped.append(RelevanceDrop(hit.corpus, hit.id, hit.score, why))
            else:
                kept[c].append(hit)
    return kept, dropped


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
