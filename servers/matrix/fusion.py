"""Merging per-corpus results, and the relevance filter.

Fusion: ``score`` ranks by each result's own similarity (one metric only: scores of
different metrics are not comparable); ``rrf`` ranks by 1 / (rrf_k + rank_in_corpus),
summed per (corpus, id), so no score needs to be comparable. Ties keep corpus order.

Relevance (SPEC G3.4.B): a result is dropped when it scores below ``threshold`` (an
absolute floor), or more than ``margin`` below the best result of its metric (off-topic
chunks that rode along with the hit, e.g. neighbours from the same document).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

from lakehouse.api.errors import invalid_field
from lakehouse.api.matrix import BELOW_MARGIN, BELOW_THRESHOLD, FUSION_RRF, INVALID_RELEVANCE, MatrixHit


@dataclass(frozen=True)
class RelevanceRule:
    threshold: float
    margin: float

    @classmethod
    def checked(cls, threshold: float, margin: float, cosine_only: bool) -> RelevanceRule:
        if not math.isfinite(threshold) or (cosine_only and not -1.0 <= threshold <= 1.0):
            bound = "in [-1, 1] (cosine similarity)" if cosine_only else "a finite number"
            raise invalid_field("relevance.threshold", f"must be {bound}, got {threshold}", INVALID_RELEVANCE)
        if not math.isfinite(margin) or margin < 0:
            raise invalid_field("relevance.margin", f"must be a finite number >= 0, got {margin}", INVALID_RELEVANCE)
        return cls(threshold, margin)

    def judge(self, scores: Sequence[float]) -> list[str]:
        """Per score: "" when kept, else why it is dropped."""
        if not scores:
            return []
        best = max(scores)
        return [
            BELOW_THRESHOLD if s < self.threshold else BELOW_MARGIN if best - s > self.margin else "" for s in scores
        ]


def fuse(per_corpus: Sequence[Sequence[MatrixHit]], fusion: str, rrf_k: int, k: int) -> list[MatrixHit]:
    """The best ``k`` hits of all corpora, with ``fused_score`` set; ``per_corpus`` in
    request order, each best first."""
    ranked = []
    for order, hits in enumerate(per_corpus):
        for position, hit in enumerate(hits):
            fused = 1.0 / (rrf_k + hit.rank_in_corpus) if fusion == FUSION_RRF else hit.score + hit.playbook_boost
            ranked.append((-fused, order, hit.rank_in_corpus, position))
    best = heapq.nsmallest(k, ranked)
    return [_fused(per_corpus[order][position], -negative) for negative, order, _, position in best]


def _fused(hit: MatrixHit, fused: float) -> MatrixHit:
    """The hit with its fused score; the hits are this search's own, so set in place (a copy
    that named the fields dropped the stored row, the playbook boost and its evidence)."""
    hit.fused_score = fused
    return hit
