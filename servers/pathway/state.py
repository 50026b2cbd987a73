"""The state file: every pathway, in recording order, as one JSON document whose bytes
are a function of its content (docs/pathway.md, "State file")::

    {"algorithm":"lakehouse.pathway.buckets.v1","buckets":32,"format":"lakehouse.pathway.state","version":1,"traces":[
    <trace>,
    <trace>
    ]}

one trace a line (sorted keys, no spaces, ASCII with \\u escapes), so the file diffs well
and a trace's text is computed once and reused while it does not change. It lives on the
lake at ``pathway.state_key`` and is replaced whole, atomically (the object store's put
writes a temporary file and renames it; S3's PUT is atomic), on every change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lakehouse.api.pathway import Pathway
from lakehouse.servers.pathway import buckets
from lakehouse.servers.pathway.types import StateError, pathway_from_json, pathway_json

FORMAT = "lakehouse.pathway.state"
VERSION = 1
CONTENT_TYPE = "application/json"
_HEAD = {"algorithm": buckets.ALGORITHM, "buckets": buckets.BUCKETS, "format": FORMAT, "version": VERSION}
HEADER = json.dumps(_HEAD, sort_keys=True, separators=(",", ":"))[:-1] + ',"traces":['
FOOTER = "]}\n"


def trace_text(p: Pathway) -> str:
    """One trace's line (without the separating comma)."""
    return json.dumps(pathway_json(p), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def encode_lines(lines: Sequence[str]) -> bytes:
    """The file's bytes from its traces' lines."""
    body = ",\n".join(lines)
    return (HEADER + "\n" + body + ("\n" if lines else "") + FOOTER).encode("ascii")


def encode(pathways: Iterable[Pathway]) -> bytes:
    return encode_lines([trace_text(p) for p in pathways])


@dataclass(frozen=True)
class Loaded:
    pathways: list[Pathway]
    rehashed: bool  # written by another algorithm version: vectors recomputed from the tasks


def decode(data: bytes) -> Loaded:
    """The pathways of a state file; a file this version cannot read is a StateError."""
    try:
        doc: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StateError(f"not a pathway state file (format is not {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise StateError(f"version {doc.get('version')!r}; this server reads version {VERSION}")
    if doc.get("buckets") != buckets.BUCKETS:
        raise StateError(f"buckets {doc.get('buckets')!r}, not {buckets.BUCKETS}")
    traces = doc.get("traces")
    if not isinstance(traces, list):
        raise StateError("traces: expected a list")
    pathways = [pathway_from_json(t, f"traces[{i}]") for i, t in enumerate(traces)]
    seen: set[str] = set()
    for i, p in enumerate(pathways):
        if p.id in seen:
            raise StateError(f"traces[{i}].id: {p.id!r} appears twice")
        seen.add(p.id)
        if len(p.vector) != buckets.VECTOR_BYTES:
            raise StateError(f"traces[{i}].vector: {len(p.vector)} bytes, not {buckets.VECTOR_BYTES}")
    rehashed = doc.get("algorithm") != buckets.ALGORITHM
    if rehashed:
        pathways = [replace(p, vector=buckets.vector_bytes(p.task)) for p in pathways]
    return Loaded(pathways, rehashed)
