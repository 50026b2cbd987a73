"""Row <-> plain-type conversion for the catalog's SQLite tables.

Kept apart from ``core.py`` so the transaction logic reads without the
serialization details. Schemas are stored as Arrow IPC bytes
(``schema.serialize()``) so every Arrow type, nested ones included, survives a
round trip exactly; manifests are JSON so they stay readable with the sqlite3 CLI.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from datetime import UTC, datetime

import pyarrow as pa

from lakehouse.api.catalog import DataFile, DatasetVersion, WriteMode
from lakehouse.api.paging import bad_page_token
from lakehouse.servers.clock import utc_now

MANIFEST_FORMAT = 1


now_utc = utc_now  # the catalog's timestamps come from the one clock


def encode_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def decode_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def encode_schema(schema: pa.Schema) -> bytes:
    return schema.serialize().to_pybytes()


def decode_schema(blob: bytes) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(blob))


def _files_to_json(files: Iterable[DataFile]) -> list[dict[str, object]]:
    return [{"path": f.path, "rows": f.rows, "bytes": f.bytes, "content_hash": f.content_hash} for f in files]


def _files_from_json(items: list[dict[str, object]]) -> tuple[DataFile, ...]:
    return tuple(
        DataFile(
            path=str(i["path"]),
            rows=int(i["rows"]),
            bytes=int(i["bytes"]),
            content_hash=str(i["content_hash"]),
        )
        for i in items
    )


def encode_manifest(files: Iterable[DataFile], deltas: Iterable[DataFile], extra: dict[str, str]) -> str:
    return json.dumps(
        {
            "format": MANIFEST_FORMAT,
            "files": _files_to_json(files),
            "deltas": _files_to_json(deltas),
            "extra": dict(extra),
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def decode_manifest(text: str) -> tuple[tuple[DataFile, ...], tuple[DataFile, ...]]:
    doc = json.loads(text)
    return _files_from_json(doc.get("files", [])), _files_from_json(doc.get("deltas", []))


def encode_key(primary_key: Iterable[str]) -> str:
    return json.dumps(list(primary_key))


def decode_key(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text or "[]"))


# Column list every version query selects, in the order ``version_from_row`` reads.
VERSION_COLUMNS = "v.dataset, v.version, v.manifest, v.schema, v.mode, v.source_hash, v.primary_key, v.created_at"


def version_from_row(row: tuple) -> DatasetVersion:
    dataset, version, manifest, schema, mode, source_hash, primary_key, created_at = row[:8]
    files, deltas = decode_manifest(manifest)
    return DatasetVersion(
        dataset=dataset,
        version=int(version),
        files=files,
        deltas=deltas,
        schema=decode_schema(schema),
        created_at=decode_time(created_at),
        mode=WriteMode(mode),
        source_hash=source_hash,
        primary_key=decode_key(primary_key),
    )


# Page tokens are opaque to clients: base64 of the last key returned.


def encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def decode_token(token: str, field_name: str = "page_token") -> str:
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise bad_page_token() from exc
