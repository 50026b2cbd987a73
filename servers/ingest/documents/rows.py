"""Documents as rows: one per document, parsed and chunked, in Arrow batches.

``DocumentSource`` is the ingest core's ``TableSource`` for format=pdf and format=zip.
It reads lazily, as the core streams batches, so an archive of thousands of résumés
holds one document's text (plus one batch of rows) at a time. A single PDF that cannot
be read fails the ingest with its reason; in an archive, each bad member is recorded
in ``rejected`` by name while the rest land, and an archive with no good member fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from lakehouse.api import errors
from lakehouse.api.ingest import DUPLICATE_DOCUMENT, NO_DOCUMENTS, NO_TEXT, RejectedFile
from lakehouse.servers.ingest.documents.archive import Archive, Member
from lakehouse.servers.ingest.documents.chunks import document_chunks, tidy
from lakehouse.servers.ingest.documents.pdf import DocumentRejected, read_pdf
from lakehouse.servers.settings import DocumentSettings
from lakehouse.servers.vocabulary import Vocabulary

DOC_ID = "doc_id"
CHUNKS = "chunks"
TEXT_OK = "ok"
PAGE_SEPARATOR = "\n\n"
HASH_READ_BYTES = 1024 * 1024
# Default file name of a PDF uploaded without one.
UNNAMED = "{doc_id}.pdf"

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


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while piece := fh.read(HASH_READ_BYTES):
            digest.update(piece)
    return digest.hexdigest()


class DocumentSource:
    """One PDF (``archive`` False) or a ZIP of them at ``path``."""

    def __init__(
        self,
        path: Path,
        archive: bool,
        file_name: str,
        limits: DocumentSettings,
        vocabulary: Vocabulary,
        spool_dir: Path,
    ) -> None:
        self._path = path
        self._is_archive = archive
        self._file_name = file_name
        self._limits = limits
        self._vocabulary = vocabulary
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

    def _members(self) -> Iterator[Member]:
        if self._archive is None:
            yield Member(self._file_name, self._path)
        else:
            yield from self._archive.members()

    def _batches(self, schema: pa.Schema, size: int) -> Iterator[pa.RecordBatch]:
        rows: list[dict] = []
        seen: dict[str, str] = {}
        for member in self._members():
            row = self._row(member, seen)
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

    def _row(self, member: Member, seen: dict[str, str]) -> dict | None:
        try:
            if member.rejection is not None:
                raise member.rejection
            assert member.path is not None
            doc_id = _file_hash(member.path)
            if doc_id in seen:
                self.warnings.append(f"{member.name} is the same document as {seen[doc_id]}; it was ingested once")
                self.rejected.append(
                    RejectedFile(member.name, DUPLICATE_DOCUMENT, f"the same document as {seen[doc_id]}")
                )
                return None
            text = read_pdf(member.path, self._limits)
        except DocumentRejected as exc:
            if self._archive is None:
                name = f"{member.name}: " if member.name else "the upload "
                raise errors.InvalidArgument(f"{name}{exc.message}", reason=exc.reason) from exc
            self.rejected.append(RejectedFile(member.name, exc.reason, exc.message))
            return None
        seen[doc_id] = member.name
        self.documents += 1
        return self._document_row(doc_id, member.name or UNNAMED.format(doc_id=doc_id[:16]), text.pages)

    def _document_row(self, doc_id: str, file_name: str, pages: tuple[str, ...]) -> dict:
        limits = self._limits
        body = PAGE_SEPARATOR.join(tidy(p) for p in pages).strip()
        has_text = len(body) >= limits.min_text_chars
        if not has_text:
            self.warnings.append(
                f"{file_name} has no text layer on any of its {len(pages)} page(s) (a scan?): its row has"
                f" text_status {NO_TEXT!r} and no chunks"
            )
        fields = self._vocabulary.fields(body)
        chunks = document_chunks(pages, limits.chunk_chars, limits.chunk_overlap_chars) if has_text else []
        return {
            DOC_ID: doc_id,
            "file_name": file_name,
            "pages": len(pages),
            "text": body,
            "text_status": TEXT_OK if has_text else NO_TEXT,
            "email": fields.email,
            "phone": fields.phone,
            "state": fields.state,
            "city": fields.city,
            "certifications": list(fields.certifications),
            "roles": list(fields.roles),
            "skills": list(fields.skills),
            "years_experience": fields.years_experience,
            CHUNKS: [{"page": c.page, "text": c.text} for c in chunks],
        }

    def _fail_empty(self) -> None:
        if not self.rejected:
            raise errors.InvalidArgument("the archive holds no PDF documents", reason=NO_DOCUMENTS)
        listed = "; ".join(f"{r.file_name}: {r.message}" for r in self.rejected[:20])
        more = f" (and {len(self.rejected) - 20} more)" if len(self.rejected) > 20 else ""
        raise errors.InvalidArgument(
            f"none of the archive's {len(self.rejected)} file(s) could be ingested: {listed}{more}",
            reason=NO_DOCUMENTS,
            metadata={"rejected": ",".join(r.file_name for r in self.rejected)},
        )
