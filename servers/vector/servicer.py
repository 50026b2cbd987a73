"""VectorService: converts, calls VectorCore, converts back."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from lakehouse.api.vector import (
    DEFAULT_K,
    HitStems,
    WriteResult,
    corpus_to_pb,
    filter_from_pb,
    include_text_from_pb,
    item_from_pb,
    items_result_to_pb,
    mapping_from_pb,
    queries_from_pb,
    search_result_to_pb,
    search_results_to_pb,
    trial_to_pb,
    vector_from_pb,
)
from lakehouse.servers.auth.context import check_corpus, corpus_scope
from lakehouse.v1 import vector_pb2, vector_pb2_grpc


def _items(request):
    return [item_from_pb(item) for item in request.items]


def _write_to_pb(result: WriteResult) -> vector_pb2.AddItemsResponse:
    return vector_pb2.AddItemsResponse(added=result.changed, count=result.count)


class VectorServicer(vector_pb2_grpc.VectorServiceServicer):
    def __init__(self, core, stems: HitStems) -> None:
        self._core = core
        self._stems = stems

    def CreateCorpus(self, request, context):
        check_corpus(request.name)  # a writer bound to some corpora creates only those
        return corpus_to_pb(
            self._core.create_corpus(
                request.name,
                dimension=request.dimension,
                metric=request.metric,
                hnsw_m=request.hnsw_m,
                ef_construction=request.ef_construction,
                embedding_model=request.embedding_model,
                description=request.description,
                tags=list(request.tags),
            )
        )

    def ListCorpora(self, request, context):
        scope = corpus_scope()  # a caller bound to some corpora lists only those
        corpora = [c for c in self._core.list_corpora() if scope is None or c.name in scope]
        return vector_pb2.ListCorporaResponse(corpora=[corpus_to_pb(c) for c in corpora])

    def GetCorpus(self, request, context):
        return corpus_to_pb(self._core.get_corpus(request.corpus))

    def DeleteCorpus(self, request, context):
        self._core.delete_corpus(request.corpus)
        return empty_pb2.Empty()

    def AddItems(self, request, context):
        return _write_to_pb(self._core.add(request.corpus, _items(request)))

    def UpsertItems(self, request, context):
        return _write_to_pb(self._core.upsert(request.corpus, _items(request)))

    def DeleteItems(self, request, context):
        result = self._core.delete(request.corpus, list(request.ids))
        return vector_pb2.DeleteItemsResponse(deleted=result.changed, count=result.count)

    def GetItems(self, request, context):
        result = self._core.get_items(request.corpus, list(request.ids), include_vectors=request.include_vectors)
        return items_result_to_pb(result)

    def Search(self, request, context):
        result = self._core.search(
            request.corpus,
            vector=vector_from_pb(request.vector),
            text=request.text or None,
            k=request.k or DEFAULT_K,
            ef_search=request.ef_search,
            allowed_ids=list(request.allowed_ids) or None,
            filter=filter_from_pb(request),
            include_text=include_text_from_pb(request),
        )
        return search_result_to_pb(result, self._stems)

    def SearchBatch(self, request, context):
        results = self._core.search_batch(
            request.corpus,
            queries_from_pb(request),
            k=request.k or DEFAULT_K,
            ef_search=request.ef_search,
            allowed_ids=list(request.allowed_ids) or None,
            filter=filter_from_pb(request),
            include_text=include_text_from_pb(request),
        )
        return search_results_to_pb(results, self._stems)

    def BuildCorpus(self, request, context):
        result = self._core.build_corpus(request.corpus, request.dataset, mapping_from_pb(request))
        return vector_pb2.BuildCorpusResponse(corpus=corpus_to_pb(result.corpus), items=result.items)

    def RebuildCorpus(self, request, context):
        overrides = {k: v for k, v in (("hnsw_m", request.hnsw_m), ("ef_construction", request.ef_construction)) if v}
        self._core.rebuild(request.corpus, overrides or None)
        return corpus_to_pb(self._core.get_corpus(request.corpus))

    def SwapGeneration(self, request, context):
        self._core.swap(request.corpus, request.generation or None)
        return corpus_to_pb(self._core.get_corpus(request.corpus))

    def RollbackGeneration(self, request, context):
        self._core.rollback(request.corpus)
        return corpus_to_pb(self._core.get_corpus(request.corpus))

    def ListIndexTrials(self, request, context):
        # A named corpus is checked by the interceptor; all of them: only the caller's.
        trials = self._core.list_trials(request.corpus, request.limit, corpus_scope())
        return vector_pb2.ListIndexTrialsResponse(trials=[trial_to_pb(t) for t in trials])


def register(server: grpc.Server, runtime) -> None:
    servicer = VectorServicer(_Deferred(runtime, "vector"), runtime.hit_stems)
    vector_pb2_grpc.add_VectorServiceServicer_to_server(servicer, server)


class _Deferred:
    """A runtime API resolved on first use: the vector core opens its corpora then, not at bind."""

    def __init__(self, runtime, name: str) -> None:
        self._runtime = runtime
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(getattr(self._runtime, self._name), attr)
