"""Plain types shared by the ModelService core, its providers and its servicer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypedDict

import numpy as np

# Embedding providers.
LOCAL = "local"
HASH = "hash"
OLLAMA = "ollama"
OPENAI = "openai"
ANTHROPIC = "anthropic"
EMBED_PROVIDERS = (LOCAL, HASH, OLLAMA, OPENAI)
CHAT_PROVIDERS = (OLLAMA, OPENAI, ANTHROPIC)
ALL_PROVIDERS = (LOCAL, HASH, OLLAMA, OPENAI, ANTHROPIC)

# Chat roles every provider understands.
ROLE_SYSTEM = "system"
ROLE_USER = "user"
ROLE_ASSISTANT = "assistant"
ROLES = (ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT)

# Normalised finish reasons (providers' own words are mapped onto these where they mean the same).
FINISH_STOP = "stop"
FINISH_LENGTH = "length"

# Usage keys of a final ChatChunk (the names of the contract's ChatUsage fields).
USAGE_INPUT = "input_tokens"
USAGE_OUTPUT = "output_tokens"

# Stable error reasons (ErrorInfo.reason) raised by this package.
UNKNOWN_PROVIDER = "UNKNOWN_PROVIDER"
UNKNOWN_MODEL = "UNKNOWN_MODEL"
MODEL_REQUIRED = "MODEL_REQUIRED"
PROVIDER_NOT_CONFIGURED = "PROVIDER_NOT_CONFIGURED"
LOCAL_MODEL_MISSING = "LOCAL_MODEL_MISSING"
TOO_MANY_TEXTS = "TOO_MANY_TEXTS"
TEXT_TOO_LONG = "TEXT_TOO_LONG"
EMPTY_INPUT = "EMPTY_INPUT"
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


class Embedder(Protocol):
    """A provider of embeddings. Implementations are thread-safe."""

    def embed(self, texts: list[str], model: str) -> np.ndarray:
        """Vectors for ``texts`` in order, float32 ``[n, d]``; raises ``errors.*`` only."""
        ...

    def close(self) -> None: ...
