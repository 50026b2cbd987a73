"""The answer without a model: the retrieved documents ranked, each with the sentences
of its chunks that match the question, each sentence cited by its chunk's number.

A sentence matches by the share of the question's content words it contains (and the
vocabulary terms the question names: "OSHA 30 hour" in a résumé matches "OSHA-30" in
the question). Every quoted sentence is a verbatim piece of a retrieved chunk.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lakehouse.api.ask import Candidate, Citation
from lakehouse.servers.settings import AskSettings
from lakehouse.servers.vocabulary import Vocabulary

_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# Words that carry no meaning for matching a sentence to a question.
STOPWORDS = frozenset(
    "a an and any are as at be by can could do find for from get give has have i in is it me my need "
    "of on or our please show some that the their them there these this those to us we what where "
    "which who whom with would you".split()
)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


@dataclass
class _Group:
    key: str
    file_name: str
    score: float
    metadata: dict[str, Any]
    chunks: list[tuple[Citation, str]] = field(default_factory=list)


class Extractor:
    def __init__(self, settings: AskSettings, vocabulary: Vocabulary) -> None:
        self._settings = settings
        self._vocabulary = vocabulary

    def _terms(self, text: str) -> set[str]:
        return {t for kind in self._vocabulary.terms(text).values() for t in kind}

    def _features(self, sentence: str) -> set[str]:
        """What a sentence can match: its content words, and the vocabulary terms it names."""
        return content_words(sentence) | {f"term:{t}" for t in self._terms(sentence)}

    @staticmethod
    def _gain(features: set[str], wanted: set[str]) -> float:
        """Terms count double: "OSHA 30 hour" answers "OSHA-30" more surely than a shared word."""
        return sum(2.0 if f.startswith("term:") else 1.0 for f in features & wanted)

    def candidates(
        self, question: str, sources: Sequence[tuple[Citation, str, dict[str, Any]]]
    ) -> tuple[Candidate, ...]:
        """``sources``: each citation with its chunk's full text and the hit's metadata."""
        groups: dict[str, _Group] = {}
        for citation, text, metadata in sources:
            key = citation.doc_id or f"{citation.corpus}/{citation.id}"
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group(key, citation.file_name, citation.score, metadata)
            group.score = max(group.score, citation.score)
            group.chunks.append((citation, text))
        wanted = self._features(question)
        ranked = sorted(groups.values(), key=lambda g: -g.score)[: self._settings.candidates]
        return tuple(self._candidate(rank, g, wanted) for rank, g in enumerate(ranked, start=1))

    def _candidate(self, rank: int, group: _Group, wanted: set[str]) -> Candidate:
        """Its sentences chosen greedily, each adding the most of the question not yet
        covered, so "forklift operator" and "OSHA-30" are both shown, not two mentions of
        forklifts; a sentence must cover ``min_sentence_overlap`` of the question."""
        s = self._settings
        pool: list[tuple[int, str, set[str]]] = []
        for citation, text in group.chunks:
            for sentence in _SENTENCE.split(text):
                sentence = sentence.strip()
                if sentence:
                    pool.append((citation.n, sentence, self._features(sentence)))
        total = self._gain(wanted, wanted) or 1.0
        uncovered = set(wanted)
        chosen: list[tuple[int, str]] = []
        while pool and len(chosen) < s.sentences_per_candidate:
            best = max(pool, key=lambda x: self._gain(x[2], uncovered))
            if self._gain(best[2], uncovered) / total < s.min_sentence_overlap:
                break
            chosen.append((best[0], best[1]))
            uncovered -= best[2]
            pool.remove(best)
        if not chosen and pool:
            chosen = [(pool[0][0], pool[0][1])]  # at least its opening line
        return Candidate(
            rank=rank,
            doc_id=group.key,
            file_name=group.file_name,
            score=group.score,
            sentences=tuple(f"{sentence} [{n}]" for n, sentence in chosen),
            citations=tuple(dict.fromkeys(n for n, _ in chosen)),
            metadata=group.metadata,
        )

    def answer_text(self, question: str, candidates: Sequence[Candidate]) -> str:
        if not candidates:
            return self._settings.nothing_found
        lines = [f"Candidates for \u201c{question}\u201d, best first:"]
        for c in candidates:
            where = ", ".join(str(c.metadata[k]) for k in ("city", "state") if c.metadata.get(k))
            name = c.file_name or c.doc_id
            head = f"{c.rank}. {name}" + (f" ({where})" if where else "")
            lines.append(f"{head}: " + " \u2026 ".join(c.sentences))
        return "\n".join(lines)
