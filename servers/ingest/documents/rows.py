"""Documents as rows: one per document, parsed and chunked, in Arrow batches.

``DocumentSource`` is the ingest core's ``TableSource`` for format=pdf and format=zip.
It reads lazily, as the core streams batches: an archive's members are unpacked one
at a time and parsed in worker processes (``pool.py``) a bounded number at a time, so
memory holds a few documents' text and one batch of rows whatever the archive's size.
A single PDF that cannot be read fails the ingest with its reason; in an archive, each
bad member is recorded in ``rejected`` by name while the rest land, and an archive
with no good member fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from lakehouse.api import errors
from lakehouse.api.ingest import DUPLICATE_DOCUMENT, NO_DOCUMENTS, RejectedFile
from lakehouse.servers.ingest.documents.archive import Archive, Member
from lakehouse.servers.ingest.documents.parse import CHUNKS, DOC_ID, Parsed
from lakehouse.servers.ingest.documents.pool import DocumentParser
from lakehouse.servers.settings import DocumentSettings

__all__ = ["CHUNKS", "DOC_ID", "ITEM_METADATA", "SCHEMA", "DocumentSource"]

CHUNK_TYPE = pa.struct([pa.field("page", pa.int32()), pa.field("text", pa.string())])
SCHEMA = pa.schema(
    [
        pa.field(DOC_ID, pa.string()),
        pa.field("file_name", pa.string()),
        pa.field("pages", pa.int32()),
        pa.field("text", pa.string()),
        pa.field("text_status", pa.string()),
        pa.field("email", pa.string()),
        pa.field("phone", pa.string()),
        pa.field("state", pa.string()),
        pa.field("city", pa.string()),
        pa.field("certifications", pa.list_(pa.string())),
        pa.field("roles", pa.list_(pa.string())),
        pa.field("skills", pa.list_(pa.string())),
        pa.field("years_experience", pa.int32()),
        pa.field(CHUNKS, pa.list_(CHUNK_TYPE)),
    ]
)
# What every chunk item carries besides doc_id, page and chunk (embed-on-ingest).
ITEM_METADATA = ("file_name", "state", "city", "certifications", "roles", "skills", "years_experience")
# Rejections listed in the error of an archive with no good member.
LISTED_REJECTIONS = 20


class DocumentSource:
    """One PDF (``archive`` False) or a ZIP of them at ``path``."""

    def __init__(
        self,
        path: Path,
        archive: bool,
        file_name: str,
        limits: DocumentSettings,
        parser: DocumentParser,
        spool_dir: Path,
    ) -> None:
        self._path = path
        self._is_archive = archive
        self._file_name = file_name
        self._limits = limits
        self._parser = parser
        self._spool = spool_dir
        self._archive: Archive | None = None
        self.rejected: list[RejectedFile] = []
        self.warnings: list[str] = []
        self.documents = 0

    # TableSource ---------------------------------------------------------

    def __enter__(self) -> DocumentSource:
        if self._is_archive:
            self._archive = Archive(self._path, self._limits, self._spool)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._archive is not None:
            self._archive.close()

    def columns(self) -> list[tuple[str, str]]:
        return [(f.name, str(f.type)) for f in SCHEMA]

    def set_hints(self, hints: dict) -> None:
        return None  # the schema is fixed

    def key_problem(self, key: tuple[str, ...], unique: bool) -> str | None:
        return None  # a document repeated in one upload is dropped (and reported) while reading

    def stream(self, batch_rows: int, columns: list[str] | None = None) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        schema = SCHEMA if columns is None else pa.schema([SCHEMA.field(c) for c in columns])
        return schema, self._batches(schema, min(batch_rows, self._limits.batch_documents))

    # Reading -------------------------------------------------------------

    def _parsed(self) -> Iterator[tuple[Member, Parsed | None]]:
        if self._archive is None:
            member = Member(self._file_name, self._path)
            yield member, self._parser.parse_one(member)  # the upload's own spool file: not released here
        else:
            yield from self._parser.parse_all(self._archive.members())

    def _batches(self, schema: pa.Schema, size: int) -> Iterator[pa.RecordBatch]:
        rows: list[dict] = []
        seen: dict[str, str] = {}
        for member, parsed in self._parsed():
            row = self._row(member, parsed, seen)
            if row is None:
                continue
            rows.append(row)
            if len(rows) >= size:
                yield pa.RecordBatch.from_pylist(rows, schema=schema)
                rows = []
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)
        if self._archive is not None and not self.documents:
            self._fail_empty()

    def _row(self, member: Member, parsed: Parsed | None, seen: dict[str, str]) -> dict | None:
        reason, message = "", ""
        if parsed is None:
            assert member.rejection is not None
            reason, message = member.rejection.reason, member.rejection.message
        elif parsed.doc_id in seen:
            reason, message = DUPLICATE_DOCUMENT, f"the same document as {seen[parsed.doc_id]}"
            self.warnings.append(f"{member.name} is the same document as {seen[parsed.doc_id]}; it was ingested once")
        elif parsed.row is None:
            reason, message = parsed.reason, parsed.message
        if reason:
            if self._archive is None:
                name = f"{member.name}: " if member.name else "the upload "
                raise errors.InvalidArgument(f"{name}{message}", reason=reason)
            self.rejected.append(RejectedFile(member.name, reason, message))
            return None
        assert parsed is not None and parsed.row is not None
        seen[parsed.doc_id] = member.name
        self.documents += 1
        if parsed.warning:
            self.warnings.append(parsed.warning)
        return parsed.row

    def _fail_empty(self) -> None:
        if not self.rejected:
            raise errors.InvalidArgument("the archive holds no PDF documents", reason=NO_DOCUMENTS)
        listed = "; ".join(f"{r.file_name}: {r.message}" for r in self.rejected[:LISTED_REJECTIONS])
        more = f" (and {len(self.rejected) - LISTED_REJECTIONS} more)" if len(self.rejected) > LISTED_REJECTIONS else ""
        raise errors.InvalidArgument(
            f"none of the archive's {len(self.rejected)} file(s) could be ingested: {listed}{more}",
            reason=NO_DOCUMENTS,
            metadata={"rejected": ",".join(r.file_name for r in self.rejected)},
        )
