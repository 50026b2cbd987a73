"""Scoring Ask on the demo's labelled questions (the spec's reality test, §3.6).

A ranking is the documents in the order their chunks were retrieved (each document
once). Plain vector search is the matrix search over the résumé corpus with no filter;
Ask is extractive Ask with the filter it derives from the question. Ground truth is
the world's own labels (``World.questions``): the readable résumés whose worker has
the role, the certification and the state. Scored with ranx.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lakehouse.demo.loader import RESUME_CORPUS

TOP = 10
# Chunks asked for, so that TOP distinct documents remain after merging a document's chunks.
CHUNKS = 30
METRICS = (f"precision@{TOP}", f"ndcg@{TOP}")


def _documents(doc_ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(d for d in doc_ids if d))[:TOP]


def plain_ranking(lh, question: str) -> list[str]:
    found = lh.matrix_search(question, corpora=[RESUME_CORPUS], k=CHUNKS, k_per_corpus=CHUNKS)
    return _documents([r.metadata["doc_id"] for r in found.results])


def ask_ranking(lh, question: str, use_playbook: bool = False) -> list[str]:
    answer = lh.ask(question, corpora=[RESUME_CORPUS], k=CHUNKS, extractive=True, use_playbook=use_playbook)
    return _documents([c.doc_id for c in answer.citations])


def precision(ranking: Sequence[str], relevant: set[str]) -> float:
    """Share of the top ``TOP`` that is relevant (ranx's precision@k: k in the denominator)."""
    return sum(1 for d in ranking[:TOP] if d in relevant) / TOP


@dataclass(frozen=True)
class QuestionScores:
    plain: dict[str, float]
    ask: dict[str, float]
    ask_playbook: dict[str, float]


def score_questions(lh, questions) -> QuestionScores:
    """ranx means over the questions that have ground truth."""
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    labelled = [q for q in questions if q.relevant]
    qrels = Qrels({q.text: {d: 1 for d in q.relevant} for q in labelled})

    def score(rank: Callable[[str], list[str]]) -> dict[str, float]:
        runs = {}
        for q in labelled:
            ranking = rank(q.text)
            runs[q.text] = {d: float(TOP - n) for n, d in enumerate(ranking)} or {"_none": 0.0}
        return {m: float(v) for m, v in ranx_evaluate(qrels, Run(runs), list(METRICS)).items()}

    return QuestionScores(
        plain=score(lambda q: plain_ranking(lh, q)),
        ask=score(lambda q: ask_ranking(lh, q)),
        ask_playbook=score(lambda q: ask_ranking(lh, q, use_playbook=True)),
    )
