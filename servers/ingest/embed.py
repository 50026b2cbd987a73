"""Embed-on-ingest: after an ingest commits, the rows it added (and its deletes) go to a corpus.

The version stands whether or not embedding succeeds: a failure is journaled and raised
with the committed version named, so the caller can re-embed (BuildCorpus) instead of
re-ingesting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lakehouse.api.catalog import CatalogApi, WriteMode
from lakehouse.api.errors import LakehouseError, invalid_field
from lakehouse.api.vector import VectorApi
from lakehouse.servers.ingest.model import IngestResult
from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.vector.builder import ColumnMapping, embed_version

JOURNAL_OPERATION = "ingest.embed"


@dataclass(frozen=True)
class EmbedTarget:
    """Which corpus receives the rows, and which columns feed it."""

    corpus: str
    mapping: ColumnMapping

    def required_columns(self, mode: WriteMode) -> tuple[str, ...]:
        """What the upload must carry: a delete only the ids, anything else every mapped column."""
        return (self.mapping.id_column,) if mode == WriteMode.DELETE else tuple(self.mapping.columns)


def embed_target(
    corpus: str, id_column: str, text_columns: tuple[str, ...], metadata_columns: tuple[str, ...]
) -> EmbedTarget | None:
    """The request's embed options as a target (None: no embedding), naming a missing field."""
    if not corpus:
        if id_column or text_columns or metadata_columns:
            raise invalid_field("embed_corpus", "required when embed columns are given")
        return None
    if not id_column:
        raise invalid_field("embed_id_column", "required with embed_corpus")
    if not text_columns:
        raise invalid_field("embed_text_columns", "required with embed_corpus")
    mapping = ColumnMapping(id_column=id_column, text_columns=text_columns, metadata_columns=metadata_columns)
    return EmbedTarget(corpus, mapping)


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
