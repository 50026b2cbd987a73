"""Ingest from an object of a registered bucket (``IngestSpec.source``) instead of the stream.

A team lands raw files in its own bucket (local or S3) and ingests them into the lake
without downloading and re-uploading them. The caller's profiles must hold the bucket:
the check runs here, in the ingest process, because the read itself may go to a remote
storage service with this process's internal key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import PurePosixPath

from lakehouse.api import errors
from lakehouse.api.ingest import INVALID_SOURCE_OBJECT, SOURCE_OBJECTS_UNAVAILABLE, IngestSpec
from lakehouse.servers.auth.context import check_bucket

# (bucket, key) -> the object's bytes as they arrive; a missing one raises NotFound first.
ReadObject = Callable[[str, str], Iterable[bytes]]


def from_source_object(
    spec: IngestSpec, chunks: Iterable[bytes], read_object: ReadObject | None
) -> tuple[IngestSpec, Iterable[bytes]]:
    """``(spec, chunks)`` to ingest: unchanged without a source object, else the object's
    bytes (with its key's base name as the file name, when none was given)."""
    source = spec.source
    if source is None:
        return spec, chunks
    if not source.bucket or not source.key:
        missing = "source_bucket" if not source.bucket else "source_key"
        raise errors.invalid_field(missing, "source_bucket and source_key go together", INVALID_SOURCE_OBJECT)
    if any(chunks):
        raise errors.invalid_field(
            "body", "an ingest from a bucket object takes no uploaded bytes", INVALID_SOURCE_OBJECT
        )
    if read_object is None:
        raise errors.FailedPrecondition(
            "this ingest service cannot read bucket objects", reason=SOURCE_OBJECTS_UNAVAILABLE
        )
    check_bucket(source.bucket)
    body = read_object(source.bucket, source.key)
    return replace(spec, file_name=spec.file_name or PurePosixPath(source.key).name), body
