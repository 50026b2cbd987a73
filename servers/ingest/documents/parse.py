"""One document file to one row: read, parse the vocabulary's fields, chunk.

A plain function of picklable arguments, so it runs the same in the ingest process or
in a worker process (``pool.py``). Each process compiles the vocabulary once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lakehouse.api.ingest import NO_TEXT
from lakehouse.servers.ingest.documents.chunks import document_chunks, tidy
from lakehouse.servers.ingest.documents.pdf import DocumentRejected, read_pdf
from lakehouse.servers.settings import DocumentSettings, VocabularySettings
from lakehouse.servers.vocabulary import Vocabulary

DOC_ID = "doc_id"
CHUNKS = "chunks"
TEXT_OK = "ok"
PAGE_SEPARATOR = "\n\n"
HASH_READ_BYTES = 1024 * 1024
# Default file name of a PDF uploaded without one.
UNNAMED = "{doc_id}.pdf"


@dataclass(frozen=True)
class Parsed:
    """A row, or why there is none (``reason``/``message``); ``warning`` for a row with no text."""

    doc_id: str = ""
    row: dict | None = None
    reason: str = ""
    message: str = ""
    warning: str = ""


@lru_cache(maxsize=4)
def _vocabulary(settings_json: str) -> Vocabulary:
    return Vocabulary(VocabularySettings.model_validate_json(settings_json))


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while piece := fh.read(HASH_READ_BYTES):
            digest.update(piece)
    return digest.hexdigest()


def parse_document(path: Path, file_name: str, limits: DocumentSettings, vocabulary_json: str) -> Parsed:
    doc_id = file_hash(path)
    try:
        text = read_pdf(path, limits)
    except DocumentRejected as exc:
        return Parsed(doc_id=doc_id, reason=exc.reason, message=exc.message)
    name = file_name or UNNAMED.format(doc_id=doc_id[:16])
    body = PAGE_SEPARATOR.join(tidy(p) for p in text.pages).strip()
    has_text = len(body) >= limits.min_text_chars
    warning = ""
    if not has_text:
        warning = (
            f"{name} has no text layer on any of its {len(text.pages)} page(s) (a scan?): its row has"
            f" text_status {NO_TEXT!r} and no chunks"
        )
    fields = _vocabulary(vocabulary_json).fields(body)
    chunks = document_chunks(text.pages, limits.chunk_chars, limits.chunk_overlap_chars) if has_text else []
    row = {
        DOC_ID: doc_id,
        "file_name": name,
        "pages": len(text.pages),
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
    return Parsed(doc_id=doc_id, row=row, warning=warning)
