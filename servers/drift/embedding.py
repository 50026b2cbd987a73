"""Embedding drift statistics: do two samples of vectors come from one distribution?

Each dimension, and each of a few random unit projections (directions mixing every
dimension, which see shifts no single coordinate shows), is compared with the two-sample
Kolmogorov–Smirnov test of ``scipy.stats.ks_2samp``, called on blocks of columns at once
(``axis=0``: one call per block, the block bounding the working memory). Many tests are
run, so their p-values are adjusted together with Benjamini–Hochberg
(``scipy.stats.false_discovery_control``); the samples have drifted when any adjusted
p-value is below ``alpha``. Under the null (one distribution) BH also bounds the chance of
any rejection by ``alpha``, so "drifted" is a family-wise alarm, and the count of
rejections says how widespread the shift is. The centroid shift (cosine similarity and
Euclidean distance of the two means) says how far the mass moved.

Sampling and projections draw from ``numpy.random.default_rng`` seeded by the settings, so
a report is the same on every run over the same inputs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import stats

from lakehouse.api.drift import (
    KIND_DIMENSION,
    KIND_PROJECTION,
    METHOD_DIMENSIONS,
    METHOD_PROJECTIONS,
    KsTest,
)

# Independent random streams of one seed: which vectors each sample keeps, and the projections.
STREAM_BASELINE, STREAM_CURRENT, STREAM_PROJECTIONS = 0, 1, 2


@dataclass(frozen=True)
class Comparison:
    tests: list[KsTest]  # every test, dimensions first, then projections
    centroid_cosine: float
    centroid_l2: float

    @property
    def rejected(self) -> int:
        return sum(t.rejected for t in self.tests)

    def top(self, n: int) -> list[KsTest]:
        """The ``n`` most significant tests (smallest adjusted p, then largest statistic)."""
        ordered = sorted(self.tests, key=lambda t: (t.adjusted_p, -t.statistic, t.kind, t.index))
        return ordered[:n]


def subsample(vectors: np.ndarray, limit: int, seed: int, stream: int) -> np.ndarray:
    """At most ``limit`` rows drawn without replacement (kept in their order), reproducibly."""
    if len(vectors) <= limit:
        return vectors
    rng = np.random.default_rng([seed, stream])
    keep = np.sort(rng.choice(len(vectors), size=limit, replace=False))
    return vectors[keep]


def projections(dimension: int, count: int, seed: int) -> np.ndarray:
    """``count`` random unit directions, a (dimension, count) matrix (Gaussian, normalised:
    uniform on the sphere)."""
    rng = np.random.default_rng([seed, STREAM_PROJECTIONS])
    directions = rng.standard_normal((dimension, count))
    return (directions / np.linalg.norm(directions, axis=0, keepdims=True)).astype(np.float32)


def ks_columns(a: np.ndarray, b: np.ndarray, chunk_columns: int, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """KS statistic and p-value of every column of ``a`` against the same column of ``b``;
    blocks of columns run on ``workers`` threads (numpy's sorts and searches release the GIL)."""
    statistic = np.empty(a.shape[1])
    p_value = np.empty(a.shape[1])

    def block(start: int) -> None:
        end = min(start + chunk_columns, a.shape[1])
        result = stats.ks_2samp(a[:, start:end], b[:, start:end], axis=0)
        statistic[start:end] = result.statistic
        p_value[start:end] = result.pvalue

    starts = range(0, a.shape[1], chunk_columns)
    if workers <= 1 or len(starts) == 1:
        for start in starts:
            block(start)
    else:
        with ThreadPoolExecutor(min(workers, len(starts)), thread_name_prefix="drift-ks") as pool:
            list(pool.map(block, starts))
    return statistic, p_value


def centroid_shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(cosine similarity, Euclidean distance) of the two means; cosine 0 when a mean is 0."""
    ca = a.mean(axis=0, dtype=np.float64)
    cb = b.mean(axis=0, dtype=np.float64)
    norms = float(np.linalg.norm(ca) * np.linalg.norm(cb))
    cosine = float(ca @ cb / norms) if norms > 0 else 0.0
    return cosine, float(np.linalg.norm(cb - ca))


def compare(
    a: np.ndarray,
    b: np.ndarray,
    *,
    method: str,
    projection_count: int,
    alpha: float,
    seed: int,
    chunk_columns: int,
    workers: int = 1,
) -> Comparison:
    """Test ``a`` (baseline) against ``b`` (current), both (n, d) float32 of one d."""
    parts: list[tuple[str, np.ndarray, np.ndarray]] = []
    if method != METHOD_PROJECTIONS:
        parts.append((KIND_DIMENSION, *ks_columns(a, b, chunk_columns, workers)))
    if method != METHOD_DIMENSIONS:
        directions = projections(a.shape[1], projection_count, seed)
        parts.append((KIND_PROJECTION, *ks_columns(a @ directions, b @ directions, chunk_columns, workers)))
    p_values = np.concatenate([p for _, _, p in parts])
    adjusted = stats.false_discovery_control(p_values, method="bh")
    tests: list[KsTest] = []
    for kind, statistic, p in parts:
        for index in range(len(p)):
            q = float(adjusted[len(tests)])
            tests.append(KsTest(kind, index, float(statistic[index]), float(p[index]), q, q < alpha))
    cosine, l2 = centroid_shift(a, b)
    return Comparison(tests, cosine, l2)
