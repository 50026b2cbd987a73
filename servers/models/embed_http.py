"""Embeddings from HTTP providers: Ollama (``POST /api/embed``) and any OpenAI-compatible
server (``POST {openai_url}/embeddings``).

Every reply is checked before it is used: JSON of the documented shape, exactly one
vector per text, all of one dimension, finite numbers. Anything else is
``Unavailable(EMBEDDING_PROVIDER_BAD_RESPONSE)``: a caller never gets a partial or
silently wrong result. Vectors are returned as the provider computed them (both
providers already return unit vectors for their common models).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lakehouse.servers.models.transport import EMBEDDING, ProviderClient, bad_response

# Texts per provider request: Ollama answers only when a whole request is done, so
# smaller requests keep each reply well inside the read timeout.
HTTP_EMBED_BATCH = 256
VECTOR_DTYPE = np.float32
_NUMERIC_KINDS = "iuf"  # numpy dtype kinds of a well-formed vector list (no bool, str, object)


def to_matrix(rows: Any, count: int, provider: str) -> np.ndarray:
    """``count`` equal-length finite vectors as float32 ``[count, d]``, or a bad-response error."""
    if not isinstance(rows, list):
        raise bad_response(provider, EMBEDDING, "no list of embeddings in the reply")
    if len(rows) != count:
        raise bad_response(provider, EMBEDDING, f"{len(rows)} vectors for {count} texts")
    try:
        matrix = np.array(rows)
    except (ValueError, TypeError, OverflowError):  # ragged rows, unconvertible values
        raise bad_response(provider, EMBEDDING, "vectors of different dimensions") from None
    if matrix.dtype.kind not in _NUMERIC_KINDS or matrix.ndim != 2 or matrix.shape[1] == 0:
        raise bad_response(provider, EMBEDDING, "embeddings are not lists of numbers of one dimension")
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf, caught below
        matrix = matrix.astype(VECTOR_DTYPE)
    if not np.isfinite(matrix).all():
        raise bad_response(provider, EMBEDDING, "NaN or infinite values in the vectors")
    return matrix


def stack(parts: list[np.ndarray], provider: str) -> np.ndarray:
    """Join per-request results, refusing a dimension that changes between requests."""
    if len({p.shape[1] for p in parts}) > 1:
        raise bad_response(provider, EMBEDDING, "the dimension changed between requests")
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _chunks(texts: list[str]) -> list[list[str]]:
    return [texts[i : i + HTTP_EMBED_BATCH] for i in range(0, len(texts), HTTP_EMBED_BATCH)]


class OllamaEmbedder:
    """``{"model", "input": [...]}`` → ``{"embeddings": [[...], ...]}``."""

    PATH = "/api/embed"

    def __init__(self, client: ProviderClient) -> None:
        self._client = client

    def embed(self, texts: list[str], model: str) -> np.ndarray:
        parts = []
        for chunk in _chunks(texts):
            reply = self._client.post_json(self.PATH, {"model": model, "input": chunk}, EMBEDDING)
            rows = reply.get("embeddings") if isinstance(reply, dict) else None
            parts.append(to_matrix(rows, len(chunk), self._client.provider))
        return stack(parts, self._client.provider)


class OpenAIEmbedder:
    """``{"model", "input": [...]}`` → ``{"data": [{"index": i, "embedding": [...]}, ...]}``."""

    PATH = "/embeddings"

    def __init__(self, client: ProviderClient) -> None:
        self._client = client

    def embed(self, texts: list[str], model: str) -> np.ndarray:
        parts = []
        for chunk in _chunks(texts):
            body = {"model": model, "input": chunk, "encoding_format": "float"}
            reply = self._client.post_json(self.PATH, body, EMBEDDING)
            parts.append(to_matrix(self._in_order(reply, len(chunk)), len(chunk), self._client.provider))
        return stack(parts, self._client.provider)

    def _in_order(self, reply: Any, count: int) -> Any:
        """The embeddings sorted by ``index``, which must be exactly 0..count-1."""
        provider = self._client.provider
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise bad_response(provider, EMBEDDING, "no 'data' list of objects in the reply")
        if len(data) != count:
            raise bad_response(provider, EMBEDDING, f"{len(data)} vectors for {count} texts")
        indexes = [item.get("index") for item in data]
        if sorted(i for i in indexes if type(i) is int) != list(range(count)):
            raise bad_response(provider, EMBEDDING, "the 'index' fields are not 0..n-1")
        return [item.get("embedding") for item in sorted(data, key=lambda item: item["index"])]
