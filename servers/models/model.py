"""Plain types shared by the ModelService core, its providers and its servicer (the API's
domain types live in lakehouse.api.models, imported here for the providers)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from lakehouse.api.models import (  # noqa: F401 - re-exported for the providers
    USAGE_INPUT,
    USAGE_OUTPUT,
    ChatChunk,
    ChatMessage,
    EmbedResult,
    ModelsListing,
    ProviderInfo,
)

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


class Embedder(Protocol):
    """Turns texts into vectors; thread-safe. The one embedding interface: ModelService's
    providers implement it (ModelsCore passes them a resolved model name), and so does what
    the vector core embeds with (``vector.model.CorpusEmbedder`` adds what a corpus needs)."""

    def embed(self, texts: list[str], model: str) -> np.ndarray:
        """Vectors for ``texts`` in order, float32 ``[n, d]``; raises ``errors.*`` only."""
        ...
