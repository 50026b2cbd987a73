"""Stand-ins for the drift unit tests: an ingest API that keeps the report rows, and a
matrix API with playbook entries and a fixed ranking per query."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pyarrow.parquet as pq

from lakehouse.api import errors
from lakehouse.api.matrix import CorpusListing, EntryFilter, HostedCorpus, MatrixHit, MatrixResult, PlaybookEntry
from lakehouse.api.vector import CORPUS_NOT_FOUND, CorpusInfo


class FakeIngest:
    """Keeps the rows of every report written through it, by dataset."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = {}

    def ingest(self, spec, chunks):
        table = pq.read_table(io.BytesIO(b"".join(chunks)))
        self.rows.setdefault(spec.dataset, []).extend(table.to_pylist())
        return object()


class FakeMatrix:
    """Entries newest first, two per page; a search of a query returns ``ranking[query]``
    (item ids, best first); a corpus in ``gone`` is NotFound; ``corpora`` are listed."""

    def __init__(
        self,
        entries: Sequence[PlaybookEntry] = (),
        ranking: dict[str, list[str]] | None = None,
        gone: set[str] = frozenset(),
        corpora: Sequence[CorpusInfo] = (),
    ) -> None:
        self.entries = sorted(entries, key=lambda e: (-e.time.timestamp(), e.id))
        self.ranking = ranking or {}
        self.gone = gone
        self.corpora = list(corpora)
        self.requests: list = []

    def list_corpora(self) -> CorpusListing:
        return CorpusListing([HostedCorpus(c, "local") for c in self.corpora], [])

    def list_entries(self, where: EntryFilter | None = None, *, page_size: int = 0, page_token: str = ""):
        mine = [e for e in self.entries if where is None or not where.corpus or e.corpus == where.corpus]
        start = int(page_token or 0)
        end = start + 2
        return mine[start:end], str(end) if end < len(mine) else ""

    def search_batch(self, request, queries):
        self.requests.append((request, [q.text for q in queries]))
        [corpus] = request.corpora
        if corpus in self.gone:
            raise errors.NotFound(f"corpus {corpus!r} not found", reason=CORPUS_NOT_FOUND)
        assert request.use_playbook is False and request.relevance.enabled is False
        out = []
        for q in queries:
            ids = self.ranking.get(q.text, [])[: request.k]
            hits = [MatrixHit(corpus, i, 1.0 - n / 100, 0.0, n + 1, 1, {}) for n, i in enumerate(ids)]
            out.append(MatrixResult(hits, [], 0, "composed", False, "", [], False))
        return out
