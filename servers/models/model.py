"""Plain types shared by the ModelService core, its providers and its servicer (the API's
domain types and error reasons live in lakehouse.api.models; the types are imported here
for the providers)."""

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


class Embedder(Protocol):
    """Turns texts into vectors; thread-safe. The one embedding interface: ModelService's
    providers implement it (ModelsCore passes them a resolved model name), and so does what
    the vector core embeds with (``vector.model.CorpusEmbedder`` adds what a corpus needs)."""

    def embed(self, texts: list[str], model: str) -> np.ndarray:
        """Vectors for ``texts`` in order, float32 ``[n, d]``; raises ``errors.*`` only."""
        ...
