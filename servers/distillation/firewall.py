"""The contamination firewall: keep records that overlap a held-out evaluation set out of
training data.

Texts are normalised (Unicode NFKC, case-folded), split into words (``\\w+``) and cut into
word n-gram shingles (``distillation.firewall_ngram`` words; a text shorter than that is
one shingle of all its words). Each shingle is hashed (the first 8 bytes of its sha256),
so the comparison is over sets of integers. An inverted index from shingle hash to eval
items makes checking a record cost its own shingles, not the size of the eval set.

For a record's query and its answer, against every eval item sharing a shingle:

* containment = |record ∩ item| / |item| (how much of the item the record holds: a
  near-duplicate, or the item pasted inside a longer text);
* Jaccard = |record ∩ item| / |record ∪ item|.

A record is excluded when either reaches its threshold for any item; the exclusion names
the field, the item and both similarities (the best item: highest containment, then
Jaccard, then item id). Exact shingle sets (not MinHash estimates) keep the decision
deterministic and exact; their memory is a few integers per eval word.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from lakehouse.api.distillation import FIELD_ANSWER, FIELD_QUERY, EvalItem, Evidence, Excluded

WORD = re.compile(r"\w+")
HASH_BYTES = 8
PLACES = 6


def words(text: str) -> list[str]:
    return WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def shingles(text: str, n: int) -> frozenset[int]:
    """The hashed word n-grams of ``text`` (empty for a text with no words)."""
    tokens = words(text)
    if not tokens:
        return frozenset()
    grams = [tokens] if len(tokens) < n else [tokens[i : i + n] for i in range(len(tokens) - n + 1)]
    return frozenset(int.from_bytes(hashlib.sha256(" ".join(g).encode()).digest()[:HASH_BYTES], "big") for g in grams)


@dataclass(frozen=True)
class Match:
    eval_id: str
    containment: float
    jaccard: float


class Firewall:
    """An eval set indexed once; ``check`` tells whether a record must be excluded."""

    def __init__(self, items: Sequence[EvalItem], n: int, containment: float, jaccard: float) -> None:
        self.n = n
        self.containment = containment
        self.jaccard = jaccard
        self.items = len(items)
        self._sizes: list[int] = []
        self._ids: list[str] = []
        self._index: dict[int, list[int]] = {}
        for item in items:
            grams = shingles(item.text, n)
            if not grams:
                continue
            k = len(self._ids)
            self._ids.append(item.id)
            self._sizes.append(len(grams))
            for g in grams:
                self._index.setdefault(g, []).append(k)

    def best(self, text: str) -> Match | None:
        """The eval item ``text`` overlaps most, when it reaches a threshold."""
        grams = shingles(text, self.n)
        if not grams or not self._index:
            return None
        shared: Counter[int] = Counter()
        for g in grams:
            for k in self._index.get(g, ()):
                shared[k] += 1
        found = []
        for k, count in shared.items():
            containment = count / self._sizes[k]
            jaccard = count / (len(grams) + self._sizes[k] - count)
            if containment >= self.containment or jaccard >= self.jaccard:
                found.append(Match(self._ids[k], round(containment, PLACES), round(jaccard, PLACES)))
        if not found:
            return None
        return min(found, key=lambda m: (-m.containment, -m.jaccard, m.eval_id))

    def check(self, e: Evidence) -> Excluded | None:
        """Why ``e`` is excluded (its query checked first, then its answer), or None."""
        for field, text in ((FIELD_QUERY, e.query), (FIELD_ANSWER, e.answer)):
            match = self.best(text)
            if match is not None:
                return Excluded(e.id, field, match.eval_id, match.containment, match.jaccard)
        return None
