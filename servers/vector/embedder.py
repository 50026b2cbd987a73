"""The vector core's Embedder, backed by ModelsCore in the same process.

A corpus names its model as "<provider>/<model>" (e.g. "local/all-MiniLM-L6-v2",
"ollama/nomic-embed-text"); a bare name means the default provider, and an
empty one the configured default model.
"""

from __future__ import annotations

import numpy as np

PROVIDER_SEPARATOR = "/"


class ModelsEmbedder:
    def __init__(self, models) -> None:
        self._models = models

    def _resolved(self, model: str) -> tuple[str, str]:
        provider, sep, name = model.partition(PROVIDER_SEPARATOR)
        if not sep:
            provider, name = "", model
        return self._models.resolve_embed(provider, name)

    def resolve(self, model: str) -> str:
        """The fully-qualified name a corpus records, so a later default change cannot alter it."""
        return PROVIDER_SEPARATOR.join(self._resolved(model))

    def embed(self, texts: list[str], model: str) -> np.ndarray:
        provider, name = self._resolved(model)
        return self._models.embed(texts, provider=provider, model=name).vectors

    def dimension(self, model: str) -> int:
        provider, name = self._resolved(model)
        return self._models.dimension(provider, name)
