"""Embed-on-ingest: after an ingest commits, the rows it added (and its deletes) go to a corpus.

The version stands whether or not embedding succeeds: a failure is journaled and raised
with the committed version named, so the caller can re-embed (BuildCorpus) instead of
re-ingesting.
"""

from __future__ import annotations

from collections.abc import Callable

from lakehouse.api.catalog import CatalogApi
from lakehouse.api.errors import LakehouseError
from lakehouse.api.ingest import EmbedTarget, IngestResult
from lakehouse.api.vector import VectorApi
from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.vector.builder import embed_version

JOURNAL_OPERATION = "ingest.embed"


class EmbedOnIngest:
    """Handed the vector API (resolved on first use: it may live in another process) and
    the catalog and lake the ingest committed to."""

    def __init__(
        self, vector: Callable[[], VectorApi], catalog: CatalogApi, store: ObjectStore, journal, batch_rows: int
    ) -> None:
        self._vector = vector
        self._batch_rows = batch_rows
        self._catalog = catalog
        self._store = store
        self._journal = journal

    def check_reachable(self) -> None:
        """Fail before the upload when no vector service can be reached (UPSTREAM_NOT_CONFIGURED)."""
        self._vector().get_corpus  # noqa: B018 - attribute access is the probe

    def embed(self, result: IngestResult, target: EmbedTarget) -> int:
        if result.deduplicated:
            return 0
        version = self._catalog.get_version(result.dataset, result.version)
        try:
            vector = self._vector()
            return embed_version(
                vector, self._catalog, self._store, target.corpus, version, target.mapping, self._batch_rows
            )
        except LakehouseError as exc:
            if self._journal is not None:
                self._journal.record(
                    JOURNAL_OPERATION, exc, {"dataset": result.dataset, "version": str(result.version)}
                )
            exc.message = f"ingest committed as version {result.version}, but embedding failed: {exc.message}"
            exc.metadata = {**exc.metadata, "dataset": result.dataset, "committed_version": str(result.version)}
            raise
