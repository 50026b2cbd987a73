"""Text out of one PDF, page by page, with pypdf.

Every way a file can fail to be a readable PDF is a ``DocumentRejected`` naming the
reason (``NOT_A_PDF``, ``PDF_ENCRYPTED``, ``MALFORMED_PDF``, ``DOCUMENT_TOO_LARGE``),
never an empty row: a file that is not a PDF, is locked with a password, is cut short
(no ``%%EOF`` marker at its end, so pypdf's repair would read a part of it as if it
were all), or cannot be parsed. A PDF that parses but has no text layer (a scan) is
not rejected; its pages come back empty and the caller marks it ``no_text``.

Memory: the reader seeks in the spooled file instead of loading it, and pages are read
one at a time; only their text is kept, bounded by ``documents.max_text_bytes``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pypdf
from pypdf.errors import FileNotDecryptedError, PyPdfError

from lakehouse.api.ingest import DOCUMENT_TOO_LARGE, MALFORMED_PDF, NOT_A_PDF, PDF_ENCRYPTED
from lakehouse.servers.settings import DocumentSettings

PDF_MAGIC = b"%PDF-"
EOF_MARKER = b"%%EOF"
# A PDF's header may follow some junk bytes, and its %%EOF may be followed by a few.
HEADER_WINDOW = 1024
TRAILER_WINDOW = 2048

# pypdf reports every repaired oddity as a warning; they are not the caller's concern.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class DocumentRejected(Exception):
    """This file cannot be ingested as a document; ``reason`` is its API reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class PdfText:
    pages: tuple[str, ...]  # the text of each page ("" when it has none)


def looks_like_pdf(head: bytes) -> bool:
    return PDF_MAGIC in head[:HEADER_WINDOW]


def _check_framing(path: Path) -> None:
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(HEADER_WINDOW)
        fh.seek(max(0, size - TRAILER_WINDOW))
        tail = fh.read()
    if not looks_like_pdf(head):
        raise DocumentRejected(NOT_A_PDF, "is not a PDF (it does not start with %PDF-)")
    if EOF_MARKER not in tail:
        raise DocumentRejected(MALFORMED_PDF, "is truncated or corrupt: it has no %%EOF marker at its end")


def read_pdf(path: Path, limits: DocumentSettings) -> PdfText:
    """The text of every page of the PDF at ``path``."""
    _check_framing(path)
    try:
        reader = pypdf.PdfReader(path, strict=False)
        if reader.is_encrypted and not _opens_without_password(reader):
            raise DocumentRejected(
                PDF_ENCRYPTED, "is encrypted with a password; remove the password before ingesting it"
            )
        count = len(reader.pages)
        if count > limits.max_pages:
            raise DocumentRejected(
                DOCUMENT_TOO_LARGE, f"has {count} pages; at most {limits.max_pages} are read (documents.max_pages)"
            )
        texts: list[str] = []
        size = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            size += len(text.encode("utf-8", "surrogatepass"))
            if size > limits.max_text_bytes:
                raise DocumentRejected(
                    DOCUMENT_TOO_LARGE,
                    f"holds more than {limits.max_text_bytes} bytes of text (documents.max_text_bytes)",
                )
            texts.append(text)
        return PdfText(tuple(texts))
    except DocumentRejected:
        raise
    except FileNotDecryptedError as exc:
        raise DocumentRejected(PDF_ENCRYPTED, f"is encrypted: {exc}") from exc
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError) as exc:
        # pypdf surfaces a malformed object graph as any of these.
        raise DocumentRejected(MALFORMED_PDF, f"cannot be read as a PDF ({type(exc).__name__}: {exc})") from exc


def _opens_without_password(reader: pypdf.PdfReader) -> bool:
    """An owner-password-only PDF (printing locked, reading open) decrypts with ""."""
    try:
        return bool(reader.decrypt(""))
    except (PyPdfError, NotImplementedError, ValueError):
        return False
