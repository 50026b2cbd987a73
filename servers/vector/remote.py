"""The part of the vector core that embed-on-ingest needs, over gRPC, for an
ingest process that does not host the vector service."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import struct_pb2

from lakehouse.api.channel import open_channel
from lakehouse.api.config import ChannelSettings
from lakehouse.servers.vector.model import Item
from lakehouse.v1 import vector_pb2, vector_pb2_grpc

# Embedding a batch of texts can take a while on a CPU-only host.
UPSERT_TIMEOUT_S = 300.0


def _item_to_pb(item: Item) -> vector_pb2.Item:
    metadata = struct_pb2.Struct()
    if item.metadata:
        metadata.update(item.metadata)
    vector = [] if item.vector is None else [float(x) for x in item.vector]
    return vector_pb2.Item(id=item.id, text=item.text or "", vector=vector, metadata=metadata)


class RemoteVector:
    def __init__(self, address: str, settings: ChannelSettings | None = None) -> None:
        self._channel = open_channel(address, settings)
        self._stub = vector_pb2_grpc.VectorServiceStub(self._channel.grpc)

    def _call(self, method, request, timeout_s: float | None = None):
        return self._channel.call(method, request, timeout_s)

    def get_corpus(self, name: str) -> vector_pb2.Corpus:
        return self._call(self._stub.GetCorpus, vector_pb2.GetCorpusRequest(corpus=name))

    def create_corpus(self, name: str) -> vector_pb2.Corpus:
        return self._call(self._stub.CreateCorpus, vector_pb2.CreateCorpusRequest(name=name))

    def upsert(self, name: str, items: Sequence[Item]) -> int:
        request = vector_pb2.AddItemsRequest(corpus=name, items=[_item_to_pb(i) for i in items])
        return self._call(self._stub.UpsertItems, request, UPSERT_TIMEOUT_S).added

    def delete(self, name: str, ids: Sequence[str]) -> int:
        return self._call(self._stub.DeleteItems, vector_pb2.DeleteItemsRequest(corpus=name, ids=list(ids))).deleted

    def close(self) -> None:
        self._channel.close()
