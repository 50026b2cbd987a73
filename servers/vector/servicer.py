"""VectorService: proto <-> VectorCore (and the corpus builder)."""

from __future__ import annotations

import grpc
import numpy as np
from google.protobuf import empty_pb2, json_format, struct_pb2

from lakehouse.api.errors import invalid_field
from lakehouse.api.protoconv import timestamp
from lakehouse.v1 import vector_pb2, vector_pb2_grpc

DEFAULT_K = 10


def corpus_to_pb(info) -> vector_pb2.Corpus:
    created = getattr(info, "created_at", None)
    return vector_pb2.Corpus(
        name=info.name,
        dimension=info.dimension,
        metric=info.metric,
        hnsw_m=info.hnsw_m,
        ef_construction=info.ef_construction,
        embedding_model=info.embedding_model,
        count=info.count,
        tombstones=info.tombstones,
        generation=info.generation,
        generations=list(info.generations),
        size_bytes=info.bytes,
        building=info.building,
        create_time=timestamp(created) if created else None,
    )


def _metadata(msg: struct_pb2.Struct) -> dict:
    return json_format.MessageToDict(msg)


def _struct(metadata: dict | None) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    if metadata:
        out.update(metadata)
    return out


class VectorServicer(vector_pb2_grpc.VectorServiceServicer):
    def __init__(self, runtime) -> None:
        self._rt = runtime

    @property
    def _core(self):
        return self._rt.vector

    def _items(self, request):
        from lakehouse.servers.vector.model import Item

        if not request.items:
            raise invalid_field("items", "at least one item is required")
        return [
            Item(
                id=item.id,
                vector=np.asarray(item.vector, dtype=np.float32) if len(item.vector) else None,
                text=item.text or None,
                metadata=_metadata(item.metadata),
            )
            for item in request.items
        ]

    def CreateCorpus(self, request, context):
        return corpus_to_pb(
            self._core.create_corpus(
                request.name,
                dimension=request.dimension,
                metric=request.metric,
                hnsw_m=request.hnsw_m,
                ef_construction=request.ef_construction,
                embedding_model=request.embedding_model,
            )
        )

    def ListCorpora(self, request, context):
        return vector_pb2.ListCorporaResponse(corpora=[corpus_to_pb(c) for c in self._core.list_corpora()])

    def GetCorpus(self, request, context):
        return corpus_to_pb(self._core.get_corpus(request.corpus))

    def DeleteCorpus(self, request, context):
        self._core.delete_corpus(request.corpus)
        return empty_pb2.Empty()

    def AddItems(self, request, context):
        items = self._items(request)
        self._core.add(request.corpus, items)
        return vector_pb2.AddItemsResponse(added=len(items), count=self._core.get_corpus(request.corpus).count)

    def UpsertItems(self, request, context):
        items = self._items(request)
        self._core.upsert(request.corpus, items)
        return vector_pb2.AddItemsResponse(added=len(items), count=self._core.get_corpus(request.corpus).count)

    def DeleteItems(self, request, context):
        deleted = self._core.delete(request.corpus, list(request.ids))
        return vector_pb2.DeleteItemsResponse(deleted=deleted, count=self._core.get_corpus(request.corpus).count)

    def Search(self, request, context):
        vector = np.asarray(request.vector, dtype=np.float32) if len(request.vector) else None
        result = self._core.search(
            request.corpus,
            vector=vector,
            text=request.text or None,
            k=request.k or DEFAULT_K,
            ef_search=request.ef_search,
            allowed_ids=list(request.allowed_ids) or None,
        )
        return vector_pb2.SearchResponse(
            results=[
                vector_pb2.SearchResult(id=h.id, score=h.score, metadata=_struct(h.metadata)) for h in result.hits
            ],
            generation=result.generation,
            exact=result.exact,
        )

    def BuildCorpus(self, request, context):
        from lakehouse.servers.vector.builder import ColumnMapping, build_from_dataset

        mapping = ColumnMapping(
            id_column=request.id_column,
            text_columns=tuple(request.text_columns),
            metadata_columns=tuple(request.metadata_columns),
            vector_column=request.vector_column,
        )
        items = build_from_dataset(self._core, self._rt.query_api, request.corpus, request.dataset, mapping)
        return vector_pb2.BuildCorpusResponse(corpus=corpus_to_pb(self._core.get_corpus(request.corpus)), items=items)

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


def register(server: grpc.Server, runtime) -> None:
    vector_pb2_grpc.add_VectorServiceServicer_to_server(VectorServicer(runtime), server)
