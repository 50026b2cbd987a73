"""ModelService's API: the interface, its domain types, the proto conversions, and the
remote implementation over the generated stub (the local one is ModelsCore)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypedDict

import numpy as np

from lakehouse.api.channel import NO_DEADLINE, Channel
from lakehouse.api.remote import Remote
from lakehouse.v1 import models_pb2, models_pb2_grpc

# Embedded once per (provider, model) by a remote to learn what the server resolves it to.
PROBE_TEXT = "dimension probe"
# Usage keys of a final ChatChunk (the names of the contract's ChatUsage fields).
USAGE_INPUT = "input_tokens"
USAGE_OUTPUT = "output_tokens"

# Stable error reasons (ErrorInfo.reason) of ModelService (EMPTY_INPUT: lakehouse.api.errors).
UNKNOWN_PROVIDER = "UNKNOWN_PROVIDER"
UNKNOWN_MODEL = "UNKNOWN_MODEL"
MODEL_REQUIRED = "MODEL_REQUIRED"
PROVIDER_NOT_CONFIGURED = "PROVIDER_NOT_CONFIGURED"
LOCAL_MODEL_MISSING = "LOCAL_MODEL_MISSING"
INVALID_SETTINGS = "INVALID_SETTINGS"  # the local model's settings do not fit the model
TOO_MANY_TEXTS = "TOO_MANY_TEXTS"
TEXT_TOO_LONG = "TEXT_TOO_LONG"
INVALID_TEXT = "INVALID_TEXT"
INVALID_MESSAGE = "INVALID_MESSAGE"
INVALID_PARAMETER = "INVALID_PARAMETER"
MODELS_CLOSED = "MODELS_CLOSED"
EMBEDDING_PROVIDER_UNAVAILABLE = "EMBEDDING_PROVIDER_UNAVAILABLE"
EMBEDDING_PROVIDER_BAD_RESPONSE = "EMBEDDING_PROVIDER_BAD_RESPONSE"
CHAT_PROVIDER_UNAVAILABLE = "CHAT_PROVIDER_UNAVAILABLE"
CHAT_PROVIDER_BAD_RESPONSE = "CHAT_PROVIDER_BAD_RESPONSE"
CHAT_PROVIDER_ERROR = "CHAT_PROVIDER_ERROR"
CHAT_STREAM_TRUNCATED = "CHAT_STREAM_TRUNCATED"
PROVIDER_REJECTED = "PROVIDER_REJECTED"
PROVIDER_AUTH_FAILED = "PROVIDER_AUTH_FAILED"
PROVIDER_RATE_LIMITED = "PROVIDER_RATE_LIMITED"


@dataclass(frozen=True)
class EmbedResult:
    """Vectors in request order: float32 ``[len(texts), dimension]``."""

    vectors: np.ndarray
    provider: str
    model: str
    dimension: int


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class ChatChunk:
    """One piece of a streamed reply. The last chunk has ``done=True``, a finish reason and,
    when the provider reports it, ``usage`` as ``{"input_tokens": n, "output_tokens": m}``."""

    delta: str
    done: bool = False
    finish_reason: str = ""
    usage: dict[str, int] | None = None


class ProviderInfo(TypedDict):
    """One provider, as ``ListModels`` reports it (the contract's ``ModelProvider``)."""

    name: str
    embeddings: bool  # serves Embed
    chat: bool  # serves Chat
    default_model: str  # its default model, "" when none is configured
    configured: bool  # usable as configured (a URL set, the local model package installed)


class ModelsListing(TypedDict):
    """What ``ListModels`` reports (the contract's ``ListModelsResponse``)."""

    providers: list[ProviderInfo]
    default_embed_provider: str
    default_chat_provider: str


class ModelsApi(Protocol):
    """Embeddings, chat and the provider listing."""

    def embed(self, texts: Sequence[str], provider: str = "", model: str = "") -> EmbedResult: ...

    def chat(
        self,
        messages: Sequence[ChatMessage],
        provider: str = "",
        model: str = "",
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[ChatChunk]: ...

    def list_models(self) -> ModelsListing: ...

    def resolve_embed(self, provider: str, model: str) -> tuple[str, str]:
        """The provider and canonical model a request means (defaults applied)."""
        ...

    def dimension(self, provider: str = "", model: str = "") -> int:
        """Vector size of a model."""
        ...


# Conversions ---------------------------------------------------------------------


def embed_result_to_pb(r: EmbedResult) -> models_pb2.EmbedResponse:
    return models_pb2.EmbedResponse(
        embeddings=[models_pb2.Embedding(values=row) for row in r.vectors.tolist()],
        provider=r.provider,
        model=r.model,
        dimension=r.dimension,
    )


def embed_result_from_pb(m: models_pb2.EmbedResponse) -> EmbedResult:
    vectors = np.asarray([list(e.values) for e in m.embeddings], dtype=np.float32).reshape(-1, m.dimension)
    return EmbedResult(vectors=vectors, provider=m.provider, model=m.model, dimension=m.dimension)


def chat_messages_from_pb(messages: Sequence[models_pb2.ChatMessage]) -> list[ChatMessage]:
    return [ChatMessage(role=m.role, content=m.content) for m in messages]


def chat_chunk_to_pb(chunk: ChatChunk) -> models_pb2.ChatResponse:
    usage = None
    if chunk.usage:
        usage = models_pb2.ChatUsage(
            input_tokens=int(chunk.usage.get(USAGE_INPUT, 0)), output_tokens=int(chunk.usage.get(USAGE_OUTPUT, 0))
        )
    return models_pb2.ChatResponse(
        delta=chunk.delta, done=chunk.done, finish_reason=chunk.finish_reason or "", usage=usage
    )


def chat_chunk_from_pb(m: models_pb2.ChatResponse) -> ChatChunk:
    usage = None
    if m.HasField("usage"):
        usage = {USAGE_INPUT: m.usage.input_tokens, USAGE_OUTPUT: m.usage.output_tokens}
    return ChatChunk(delta=m.delta, done=m.done, finish_reason=m.finish_reason, usage=usage)


def listing_to_pb(info: ModelsListing) -> models_pb2.ListModelsResponse:
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


def listing_from_pb(m: models_pb2.ListModelsResponse) -> ModelsListing:
    return ModelsListing(
        providers=[
            ProviderInfo(
                name=p.name,
                embeddings=p.embeddings,
                chat=p.chat,
                default_model=p.default_model,
                configured=p.configured,
            )
            for p in m.providers
        ],
        default_embed_provider=m.default_embed_provider,
        default_chat_provider=m.default_chat_provider,
    )


# Remote ----------------------------------------------------------------------------


class RemoteModels(Remote):
    """ModelsApi over a channel from ``lakehouse.api.channel.open_channel``.

    ``resolve_embed`` and ``dimension`` have no RPC of their own: the answer of one Embed
    of a short probe text says both (the server applies its defaults and names the model),
    and is remembered per (provider, model)."""

    stub_type = models_pb2_grpc.ModelServiceStub

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)
        self._described: dict[tuple[str, str], EmbedResult] = {}
        self._lock = threading.Lock()

    def _describe(self, provider: str, model: str) -> EmbedResult:
        with self._lock:
            known = self._described.get((provider, model))
        if known is None:
            known = self.embed([PROBE_TEXT], provider, model)
            with self._lock:
                self._described[(provider, model)] = known
        return known

    def resolve_embed(self, provider: str, model: str) -> tuple[str, str]:
        described = self._describe(provider, model)
        return described.provider, described.model

    def dimension(self, provider: str = "", model: str = "") -> int:
        return self._describe(provider, model).dimension

    def embed(self, texts: Sequence[str], provider: str = "", model: str = "") -> EmbedResult:
        request = models_pb2.EmbedRequest(texts=list(texts), provider=provider, model=model)
        return embed_result_from_pb(self._call("Embed", request, self._channel.settings.embed_timeout_s))

    def chat(
        self,
        messages: Sequence[ChatMessage],
        provider: str = "",
        model: str = "",
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[ChatChunk]:
        request = models_pb2.ChatRequest(
            messages=[models_pb2.ChatMessage(role=m.role, content=m.content) for m in messages],
            provider=provider,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens or 0,
        )
        # No deadline: a reply streams as long as the model writes it.
        for response in self._stream("Chat", request, NO_DEADLINE):
            yield chat_chunk_from_pb(response)

    def list_models(self) -> ModelsListing:
        return listing_from_pb(self._call("ListModels", models_pb2.ListModelsRequest()))
