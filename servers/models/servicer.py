"""ModelService: converts, calls ModelsCore, converts back (lakehouse.api.models)."""

from __future__ import annotations

import grpc

from lakehouse.api.models import (
    chat_chunk_to_pb,
    chat_messages_from_pb,
    embed_result_to_pb,
    listing_to_pb,
)
from lakehouse.v1 import models_pb2_grpc


class ModelServicer(models_pb2_grpc.ModelServiceServicer):
    def __init__(self, core) -> None:
        self._core = core

    def Embed(self, request, context):
        return embed_result_to_pb(self._core.embed(list(request.texts), request.provider, request.model))

    def Chat(self, request, context):
        chunks = self._core.chat(
            chat_messages_from_pb(request.messages),
            provider=request.provider,
            model=request.model,
            temperature=request.temperature if request.HasField("temperature") else None,
            max_tokens=request.max_tokens or None,
        )
        for chunk in chunks:
            if not context.is_active():
                return
            yield chat_chunk_to_pb(chunk)

    def ListModels(self, request, context):
        return listing_to_pb(self._core.list_models())


def register(server: grpc.Server, runtime) -> None:
    models_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(runtime.models), server)
