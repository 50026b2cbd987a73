"""Measuring a playbook on the staffing fixture: plain vector search, a recommend-style
baseline (Qdrant's stateless ``average_vector`` strategy: the query and the examples' vectors
averaged, pushed away from the negatives) and ``use_playbook``, scored with ranx."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from lakehouse.servers.settings import MatrixSettings
from tests.support import staffing

K = 10
METRICS = ("ndcg@10", "precision@5")
CORPUS = "staff_workers"


@dataclass(frozen=True)
class Scores:
    plain: dict[str, float]
    recommend: dict[str, float]
    playbook: dict[str, float]
    unseen_plain: dict[str, float]
    unseen_playbook: dict[str, float]


def load(lh) -> None:
    """The worker corpus and the recorded history, through a LakehouseClient."""
    lh.create_corpus(CORPUS, description="staffing fixture workers")
    lh.add_items(
        CORPUS, [{"id": w.id, "text": w.text, "metadata": {"role": w.role, "city": w.city}} for w in staffing.workers()]
    )
    entries = staffing.history(datetime.now(UTC))
    recorded = lh.record_playbook_entries([{**e, "corpus": CORPUS, "source": "fixture"} for e in entries])
    assert recorded.failed == 0, recorded


def evaluate(lh) -> Scores:
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    def score(
        queries: Sequence[staffing.Query], rank: Callable[[staffing.Query], dict[str, float]]
    ) -> dict[str, float]:
        qrels = Qrels({q.id: {item: 1 for item in q.relevant} for q in queries})
        run = Run({q.id: rank(q) or {"_none": 0.0} for q in queries})
        return {m: float(v) for m, v in ranx_evaluate(qrels, run, list(METRICS)).items()}

    def plain(q: staffing.Query) -> dict[str, float]:
        found = lh.matrix_search(q.text, corpora=[CORPUS], k=K, k_per_corpus=K)
        return {r.id: r.fused_score for r in found.results}

    def playbook(q: staffing.Query) -> dict[str, float]:
        found = lh.matrix_search(q.text, corpora=[CORPUS], k=K, k_per_corpus=K, use_playbook=True)
        return {r.id: r.fused_score for r in found.results}

    history = staffing.history(datetime.now(UTC))
    people = staffing.workers()
    vectors = dict(zip([w.id for w in people], _unit(lh.embed([w.text for w in people])), strict=True))
    past = sorted({e["query"] for e in history})
    past_vectors = dict(zip(past, _unit(lh.embed(past)), strict=True))
    floor = MatrixSettings().playbook_similarity_floor  # the examples the playbook itself would weigh

    def recommend(q: staffing.Query) -> dict[str, float]:
        # The caller brings the examples: outcomes of the recorded queries like this one.
        query = _unit(lh.embed([q.text]))[0]
        similar = [e for e in history if float(query @ past_vectors[e["query"]]) >= floor]
        positives = [query] + [vectors[e["item_id"]] for e in similar if e["outcome"] == "success"]
        negatives = [vectors[e["item_id"]] for e in similar if e["outcome"] == "rejected"]
        mean = np.mean(positives, axis=0)
        target = mean + (mean - np.mean(negatives, axis=0)) if negatives else mean
        found = lh.search(CORPUS, vector=target.tolist(), k=K)
        return {r.id: r.score for r in found.results}

    held, unseen = staffing.held_out(), staffing.unseen()
    return Scores(
        plain=score(held, plain),
        recommend=score(held, recommend),
        playbook=score(held, playbook),
        unseen_plain=score(unseen, plain),
        unseen_playbook=score(unseen, playbook),
    )


def _unit(vectors: Sequence[Sequence[float]]) -> np.ndarray:
    matrix = np.asarray(vectors, np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
