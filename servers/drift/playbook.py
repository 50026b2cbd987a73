"""Playbook drift: does today's search still surface what the playbook recorded?

Each success entry's query is searched again in its corpus, as a plain search (no
playbook boost, which would lift the recorded item by the very entry being checked; no
relevance filter, which would turn a rank question into a threshold one), for the top
``depth`` results. The entry holds when its item ranks within ``k``; otherwise it has
drifted, and its rank (0 when beyond ``depth``) says how far it fell. Rejections are not
checked: a rejected item holds whatever today ranks it.

The work is bounded: at most ``max_entries`` entries, newest first, in batches of
``batch`` queries (one ``search_batch`` per batch and corpus), with a progress message
after each batch. A corpus that no longer exists is reported (CORPUS_NOT_FOUND) and its
entries count as drifted; any other failure fails the run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from lakehouse.api import errors
from lakehouse.api.drift import DriftProgress, PlaybookCorpusDrift, PlaybookDriftEntry
from lakehouse.api.matrix import SUCCESS, EntryFilter, MatrixApi, MatrixRequest, MatrixResult, PlaybookEntry, Relevance
from lakehouse.api.vector import Query

_OLDEST = datetime.min.replace(tzinfo=UTC)


def read_entries(matrix: MatrixApi, corpora: Sequence[str], limit: int) -> tuple[list[PlaybookEntry], bool]:
    """The newest ``limit`` entries of ``corpora`` (every corpus when empty), newest first
    (then by id), and whether more were left out."""
    wanted: list[PlaybookEntry] = []
    for corpus in list(dict.fromkeys(corpora)) or [""]:
        token = ""
        taken: list[PlaybookEntry] = []
        while len(taken) <= limit:
            page, token = matrix.list_entries(EntryFilter(corpus=corpus), page_size=limit + 1, page_token=token)
            taken.extend(page)
            if not token:
                break
        wanted.extend(taken)
    wanted.sort(key=lambda e: (-(e.time or _OLDEST).timestamp(), e.id))
    return wanted[:limit], len(wanted) > limit


class Check:
    """Checks every success entry of ``entries``: iterate ``batches()`` (a progress message
    after each batch), then read ``checked`` (in ``entries`` order) and ``missing`` (the
    corpora that no longer exist, name -> reason)."""

    def __init__(self, matrix: MatrixApi, entries: Sequence[PlaybookEntry], *, k: int, depth: int, batch: int) -> None:
        self._matrix = matrix
        self._entries = entries
        self._k, self._depth, self._batch = k, depth, batch
        self._found: dict[int, PlaybookDriftEntry] = {}
        self.missing: dict[str, str] = {}

    @property
    def checked(self) -> list[PlaybookDriftEntry]:
        return [self._found[i] for i in sorted(self._found)]

    def batches(self) -> Iterator[DriftProgress]:
        by_corpus: dict[str, list[int]] = {}
        for i, e in enumerate(self._entries):
            if e.outcome == SUCCESS:
                by_corpus.setdefault(e.corpus, []).append(i)
        drifted = 0
        for corpus in sorted(by_corpus):
            indexes = by_corpus[corpus]
            for start in range(0, len(indexes), self._batch):
                chunk = indexes[start : start + self._batch]
                for i, result in zip(chunk, self._search(corpus, chunk), strict=True):
                    self._found[i] = _checked(self._entries[i], result, self._k)
                    drifted += self._found[i].drifted
                yield DriftProgress(len(self._found), drifted)

    def _search(self, corpus: str, chunk: list[int]) -> list[MatrixResult | None]:
        if corpus in self.missing:
            return [None] * len(chunk)
        request = MatrixRequest(
            corpora=(corpus,), k=self._depth, k_per_corpus=self._depth, relevance=Relevance(enabled=False)
        )
        try:
            return list(self._matrix.search_batch(request, [Query(text=self._entries[i].query) for i in chunk]))
        except errors.NotFound as exc:
            self.missing[corpus] = exc.reason
            return [None] * len(chunk)


def summarise(
    entries: Sequence[PlaybookEntry], checked: Sequence[PlaybookDriftEntry], missing: dict[str, str]
) -> list[PlaybookCorpusDrift]:
    """Per corpus, by name: success entries checked, drifted, their rate, rejections skipped."""
    names = sorted({e.corpus for e in entries})
    out = []
    for name in names:
        mine = [c for c in checked if c.corpus == name]
        drifted = sum(c.drifted for c in mine)
        skipped = sum(1 for e in entries if e.corpus == name and e.outcome != SUCCESS)
        rate = drifted / len(mine) if mine else 0.0
        out.append(PlaybookCorpusDrift(name, len(mine), drifted, rate, skipped, missing.get(name, "")))
    return out


def worst(checked: Sequence[PlaybookDriftEntry], n: int) -> list[PlaybookDriftEntry]:
    """The drifted entries, worst first: not ranked at all, then the lowest rank; then the
    highest recorded score, the oldest, the id (a total order: the list is stable)."""
    drifted = [c for c in checked if c.drifted]
    drifted.sort(key=lambda c: (c.rank != 0, -c.rank, -c.score, c.time or _OLDEST, c.entry_id))
    return drifted[:n]


def _checked(entry: PlaybookEntry, result: MatrixResult | None, k: int) -> PlaybookDriftEntry:
    hits = result.hits if result is not None else []
    rank, item_score = 0, 0.0
    for position, hit in enumerate(hits, start=1):
        if hit.corpus == entry.corpus and hit.id == entry.item_id:
            rank, item_score = position, float(hit.score)
            break
    top = hits[0] if hits else None
    return PlaybookDriftEntry(
        entry_id=entry.id,
        query=entry.query,
        corpus=entry.corpus,
        item_id=entry.item_id,
        score=1.0 if entry.score is None else float(entry.score),
        time=entry.time,
        rank=rank,
        drifted=rank == 0 or rank > k,
        item_score=item_score,
        top_item_id=top.id if top else "",
        top_score=float(top.score) if top else 0.0,
    )
