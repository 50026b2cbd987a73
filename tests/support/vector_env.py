"""Shared helpers for the vector core tests (this module holds no tests).

A real ``LocalObjectStore`` on a temp directory, a deterministic fake embedder that
counts its calls, and brute-force references to compare searches against.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from lakehouse.servers.settings import VectorSettings
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.vector.core import VectorCore, default_tuning
from lakehouse.servers.vector.corpus import CorpusTuning
from lakehouse.servers.vector.model import Item

DIM = 16


def text_vector(text: str, dim: int = DIM) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


class FakeEmbedder:
    """A text's vector is seeded by its sha256: same text, same vector, in any process."""

    def __init__(self, dim: int = DIM) -> None:
        self.dim = dim
        self.calls = 0
        self.texts = 0

    def embed(self, texts: list[str], model: str) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        return np.stack([text_vector(t, self.dim) for t in texts])

    def dimension(self, model: str) -> int:
        return self.dim


def random_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def make_items(vectors: np.ndarray, prefix: str = "i", start: int = 0, **metadata: Any) -> list[Item]:
    return [
        Item(f"{prefix}{start + i}", vectors[i], metadata={"n": start + i, **metadata}) for i in range(len(vectors))
    ]


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int, rows: list[int] | None = None) -> list[int]:
    """Row numbers of the k most cosine-similar vectors (optionally among ``rows`` only)."""
    rows = list(range(len(vectors))) if rows is None else rows
    scores = unit(vectors[rows]) @ unit(query)
    return [rows[i] for i in np.argsort(-scores, kind="stable")[:k]]


def tuning(**changes: Any) -> CorpusTuning:
    """Default tuning with some fields replaced; ``search_*`` keys go to the search tuning."""
    base = default_tuning(VectorSettings())
    search = {k.removeprefix("search_"): v for k, v in changes.items() if k.startswith("search_")}
    rest = {k: v for k, v in changes.items() if not k.startswith("search_")}
    return replace(base, search=replace(base.search, **search), **rest)


class Env:
    """A core over a temp lake + state dir that can be restarted over the same storage."""

    def __init__(
        self,
        root: Path,
        embedder: FakeEmbedder | None = None,
        settings: VectorSettings | None = None,
        tuning: CorpusTuning | None = None,
    ) -> None:
        self.lake = root / "lake"
        self.state = root / "state"
        self.store = LocalObjectStore("lake", self.lake)
        self.embedder = embedder
        self.settings = settings or VectorSettings()
        self.tuning = tuning
        self.core = self._open()

    def _open(self) -> VectorCore:
        return VectorCore(self.store, self.settings, self.embedder, self.state, tuning=self.tuning)

    def restart(self, embedder: FakeEmbedder | None = None) -> VectorCore:
        self.core.close()
        if embedder is not None:
            self.embedder = embedder
        self.core = self._open()
        return self.core

    def close(self) -> None:
        self.core.close()

    def keys(self, prefix: str = "corpora/") -> list[str]:
        return sorted(p.relative_to(self.lake).as_posix() for p in (self.lake / prefix).rglob("*") if p.is_file())

    def path(self, key: str) -> Path:
        return self.lake / key
