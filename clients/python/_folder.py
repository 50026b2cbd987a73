"""A folder of documents as one upload: a ZIP of every PDF below it, built in a
temporary file (so memory stays one chunk) and streamed as format=zip."""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

DOCUMENT_SUFFIXES = (".pdf",)


def documents_in(folder: Path) -> list[Path]:
    """Every PDF below ``folder`` (any depth), in a stable order; hidden files skipped."""
    found = [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in DOCUMENT_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found)


@contextlib.contextmanager
def folder_archive(folder: str | os.PathLike) -> Iterator[tuple[Path, int]]:
    """(path of the ZIP, documents in it); the file is removed on exit. PDFs are
    stored, not deflated: their streams are compressed already."""
    root = Path(folder)
    files = documents_in(root)
    with tempfile.TemporaryDirectory(prefix="lakehouse-upload-") as tmp:
        target = Path(tmp) / "documents.zip"
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for path in files:
                archive.write(path, arcname=path.relative_to(root).as_posix())
        yield target, len(files)
