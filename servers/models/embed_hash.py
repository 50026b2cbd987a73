"""A deterministic, model-free embedder for tests: hashed word and character n-grams.

Why: unit and integration tests of search, ingest and RAG need embeddings that are
instant, stable across processes and machines, and loosely lexical (texts sharing
words land near each other), without loading a neural model. Not for production.

The model name fixes the dimension: ``hash-<dim>`` (e.g. ``hash-64``).
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from lakehouse.api import errors
from lakehouse.api.models import UNKNOWN_MODEL

DEFAULT_DIMENSION = 256
DEFAULT_MODEL = f"hash-{DEFAULT_DIMENSION}"
MIN_DIMENSION = 2
MAX_DIMENSION = 4096
MODEL_PATTERN = re.compile(r"hash-(\d+)")
CHAR_NGRAM = 3  # character trigrams make near-spellings similar
WORD_WEIGHT = 1.0
CHAR_WEIGHT = 0.5
_WORD = re.compile(r"\w+")
_DIGEST_BYTES = 8


def dimension_of(model: str) -> int:
    """The dimension a ``hash-<dim>`` model name asks for; InvalidArgument otherwise."""
    match = MODEL_PATTERN.fullmatch(model)
    dim = int(match.group(1)) if match else 0
    if not MIN_DIMENSION <= dim <= MAX_DIMENSION:
        raise errors.InvalidArgument(
            f"unknown hash embedding model {model!r}: use 'hash-<dim>' with dim in {MIN_DIMENSION}..{MAX_DIMENSION}",
            reason=UNKNOWN_MODEL,
            violations=[errors.FieldViolation("model", "must look like 'hash-256'")],
            metadata={"provider": "hash", "model": model},
        )
    return dim


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    """Bucket and sign for a feature, stable across processes (unlike ``hash()``)."""
    value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=_DIGEST_BYTES).digest(), "little")
    return value % dim, 1.0 if (value >> 63) & 1 else -1.0


def embed_one(text: str, dim: int) -> np.ndarray:
    """One unit vector (all zeros only for text without a word character)."""
    vec = np.zeros(dim, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        bucket, sign = _bucket("w:" + word, dim)
        vec[bucket] += sign * WORD_WEIGHT
        padded = f"<{word}>"
        for i in range(max(1, len(padded) - CHAR_NGRAM + 1)):
            bucket, sign = _bucket("c:" + padded[i : i + CHAR_NGRAM], dim)
            vec[bucket] += sign * CHAR_WEIGHT
    norm = float(np.linalg.norm(vec))
    if norm > 0:
        vec /= norm
    return vec


class HashEmbedder:
    """Thread-safe (stateless)."""

    def embed(self, texts: list[str], model: str = DEFAULT_MODEL) -> np.ndarray:
        dim = dimension_of(model)
        out = np.empty((len(texts), dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = embed_one(text, dim)
        return out
