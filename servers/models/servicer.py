"""ModelService: proto <-> ModelsCore."""

from __future__ import annotations

import grpc

from lakehouse.servers.models.chat import ChatMessage
from lakehouse.v1 import models_pb2, models_pb2_grpc


class ModelServicer(models_pb2_grpc.ModelServiceServicer):
    def __init__(self, runtime) -> None:
        self._rt = runtime

    def Embed(self, request, context):
        result = self._rt.models.embed(list(request.texts), provider=request.provider, model=request.model)
        return models_pb2.EmbedResponse(
            embeddings=[models_pb2.Embedding(values=row) for row in result.vectors.tolist()],
            provider=result.provider,
            model=result.model,
            dimension=result.dimension,
        )

    def Chat(self, request, context):
        chunks = self._rt.models.chat(
            [ChatMessage(role=m.role, content=m.content) for m in request.messages],
            provider=request.provider,
            model=request.model,
            temperature=request.temperature if request.HasField("temperature") else None,
            max_tokens=request.max_tokens or None,
        )
        for chunk in chunks:
            if not context.is_active():
                return
            usage = None
            if chunk.usage:
                usage = models_pb2.ChatUsage(
                    input_tokens=int(chunk.usage.get("input_tokens", 0)),
                    output_tokens=int(chunk.usage.get("output_tokens", 0)),
                )
            yield models_pb2.ChatResponse(
                delta=chunk.delta, done=chunk.done, finish_reason=chunk.finish_reason or "", usage=usage
            )

    def ListModels(self, request, context):
        info = self._rt.models.list_models()
        return models_pb2.ListModelsResponse(
            providers=[
                models_pb2.ModelProvider(
                    name=p["name"],
                    embeddings=p.get("embeddings", False),
                    chat=p.get("chat", False),
                    default_model=p.get("default_model", ""),
                    configured=p.get("configured", False),
                )
                for p in info["providers"]
            ],
            default_embed_provider=info["default_embed_provider"],
            default_chat_provider=info["default_chat_provider"],
        )


def register(server: grpc.Server, runtime) -> None:
    models_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(runtime), server)
