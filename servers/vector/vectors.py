"""Turn client items and queries into validated float32 matrices (a ``WriteBatch``).

Everything a write can be rejected for is checked here, before anything is logged
or indexed, so a write either fails whole with a named field or goes through.
Texts without a vector are embedded in one embedder call per batch.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lakehouse.api import errors
from lakehouse.api.errors import invalid_field
from lakehouse.api.vector import (
    DIMENSION_MISMATCH,
    DUPLICATE_IDS,
    EMBEDDER_BAD_OUTPUT,
    EMBEDDER_UNAVAILABLE,
    INVALID_ID,
    INVALID_METADATA,
    INVALID_QUERY,
    INVALID_VECTOR,
    MISSING_VECTOR,
    NON_FINITE_VECTOR,
    TOO_MANY_ITEMS,
    ZERO_VECTOR,
)
from lakehouse.servers.models.model import Embedder
from lakehouse.servers.vector.model import MAX_ID_CHARS, MAX_METADATA_BYTES, HnswParams, Item

OP_ADD = "add"
OP_UPSERT = "upsert"
OP_DELETE = "delete"
OPS = (OP_ADD, OP_UPSERT, OP_DELETE)
# How many offending ids an error message lists.
MAX_IDS_IN_MESSAGE = 10
EMPTY_METADATA = "{}"


@dataclass
class WriteBatch:
    """One validated write; ``seq`` is assigned when it is logged."""

    op: str
    ids: list[str]
    vectors: np.ndarray | None  # (len(ids), d) float32, unit length for cosine; None for deletes
    metadata: list[str]  # JSON objects
    texts: list[str | None]
    seq: int = 0


def check_count(count: int, limit: int, field_name: str) -> None:
    if count > limit:
        raise invalid_field(field_name, f"at most {limit} per request, got {count}", TOO_MANY_ITEMS)


def validate_ids(ids: Sequence[str], field_name: str) -> list[str]:
    for i, item_id in enumerate(ids):
        if not isinstance(item_id, str) or not 0 < len(item_id) <= MAX_ID_CHARS:
            raise invalid_field(f"{field_name}[{i}]", f"id must be a string of 1-{MAX_ID_CHARS} characters", INVALID_ID)
    return list(ids)


def reject_duplicates(ids: list[str], field_name: str) -> None:
    if len(set(ids)) == len(ids):
        return
    dupes = [item_id for item_id, n in Counter(ids).items() if n > 1]
    shown = ", ".join(repr(d) for d in dupes[:MAX_IDS_IN_MESSAGE])
    raise errors.InvalidArgument(
        f"{field_name}: duplicate ids in one request: {shown}",
        reason=DUPLICATE_IDS,
        metadata={"ids": ",".join(dupes[:MAX_IDS_IN_MESSAGE])},
        violations=[errors.FieldViolation(field_name, f"duplicate ids: {shown}")],
    )


def encode_metadata(metadata: object, field_name: str) -> str:
    """Compact JSON of a JSON object; NaN and non-string keys are refused (they do not round-trip)."""
    if not metadata and (metadata is None or isinstance(metadata, dict)):
        return EMPTY_METADATA
    if not isinstance(metadata, dict):
        raise invalid_field(field_name, "must be a JSON object", INVALID_METADATA)
    try:
        encoded = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise invalid_field(field_name, f"not JSON-serialisable: {exc}", INVALID_METADATA) from None
    if any(not isinstance(key, str) for key in metadata):
        raise invalid_field(field_name, "keys must be strings", INVALID_METADATA)
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise invalid_field(field_name, f"larger than {MAX_METADATA_BYTES} bytes as JSON", INVALID_METADATA)
    return encoded


def _as_vector(value: object, dimension: int, field_name: str) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.dtype == np.float32 and value.shape == (dimension,):
        return value  # the common case, from Arrow or an embedder: nothing to convert
    try:
        with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf: NON_FINITE_VECTOR below
            vec = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise invalid_field(field_name, "must be a sequence of numbers", INVALID_VECTOR) from None
    if vec.ndim != 1:
        raise invalid_field(field_name, f"must be one-dimensional, got shape {vec.shape}", INVALID_VECTOR)
    if vec.shape[0] != dimension:
        raise invalid_field(
            field_name, f"has dimension {vec.shape[0]}, the corpus has dimension {dimension}", DIMENSION_MISMATCH
        )
    return vec


def embed_texts(embedder: Embedder | None, texts: list[str], model: str, dimension: int, field_name: str) -> np.ndarray:
    if embedder is None:
        raise errors.FailedPrecondition(
            f"{field_name}: text given but no embedder is configured; send vectors", reason=EMBEDDER_UNAVAILABLE
        )
    out = np.array(embedder.embed(texts, model), dtype=np.float32)  # our own copy: normalised in place later
    if out.ndim != 2 or out.shape[0] != len(texts):
        raise errors.Internal(f"embedder returned shape {out.shape} for {len(texts)} texts", reason=EMBEDDER_BAD_OUTPUT)
    if out.shape[1] != dimension:
        raise invalid_field(
            field_name,
            f"model {model or '(default)'!r} yields dimension {out.shape[1]}, the corpus has dimension {dimension}",
            DIMENSION_MISMATCH,
        )
    return out


def finish_vectors(mat: np.ndarray, metric: str, field_of: Callable[[int], str]) -> np.ndarray:
    """Reject non-finite rows; for cosine, reject zero rows and scale to unit length (in place:
    ``mat`` is the caller's own buffer)."""
    finite = np.isfinite(mat).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise invalid_field(field_of(bad), "contains NaN or infinity", NON_FINITE_VECTOR)
    if metric != "cosine":
        return mat
    norms = np.linalg.norm(mat, axis=1)
    zero = norms == 0
    if zero.any():
        bad = int(np.flatnonzero(zero)[0])
        raise invalid_field(field_of(bad), "is the zero vector, which has no direction (cosine metric)", ZERO_VECTOR)
    mat /= norms[:, None]
    return mat


def prepare_query_matrix(
    values: np.ndarray, params: HnswParams, max_queries: int, field_name: str = "query_matrix"
) -> np.ndarray:
    """Query vectors given as one matrix: (n, d), or the same flattened row-major (as
    ``query_matrix`` arrives), as an (n, d) float32 matrix in the corpus's space."""
    dimension = params.dimension
    if values.ndim == 1:
        if values.size % dimension:
            raise invalid_field(
                field_name,
                f"holds {values.size} values, not whole rows of the corpus's dimension {dimension}",
                DIMENSION_MISMATCH,
            )
        values = values.reshape(-1, dimension)
    elif values.ndim != 2 or values.shape[1] != dimension:
        raise invalid_field(
            field_name, f"has shape {values.shape}, the corpus takes (n, {dimension})", DIMENSION_MISMATCH
        )
    if not len(values):
        raise invalid_field(field_name, "give at least one query", INVALID_QUERY)
    check_count(len(values), max_queries, field_name)  # before copying any
    try:
        with np.errstate(over="ignore"):
            mat = np.array(values, dtype=np.float32)  # our own copy: normalised in place below
    except (TypeError, ValueError):
        raise invalid_field(field_name, "must hold numbers", INVALID_VECTOR) from None
    return finish_vectors(mat, params.metric, lambda i: f"{field_name}[{i}]")


def prepare_items(
    op: str,
    items: Sequence[Item],
    params: HnswParams,
    embedder: Embedder | None,
    model: str,
    *,
    embed_batch: int,
    field_name: str = "items",
) -> WriteBatch:
    """Validate ids, metadata and vectors, embed the texts that need it (``embed_batch`` per
    embedder call); no side effects. The vectors land in one new matrix, copied once."""
    ids = validate_ids([getattr(item, "id", None) for item in items], field_name)
    reject_duplicates(ids, field_name)
    metadata = [encode_metadata(item.metadata, f"{field_name}[{i}].metadata") for i, item in enumerate(items)]
    texts: list[str | None] = []
    mat = np.empty((len(items), params.dimension), dtype=np.float32)
    to_embed: list[int] = []
    for i, item in enumerate(items):
        if item.text is not None and not isinstance(item.text, str):
            raise invalid_field(f"{field_name}[{i}].text", "must be a string", INVALID_VECTOR)
        texts.append(item.text)
        if item.vector is not None:
            mat[i] = _as_vector(item.vector, params.dimension, f"{field_name}[{i}].vector")
        elif item.text:
            to_embed.append(i)
        else:
            raise invalid_field(f"{field_name}[{i}]", "needs a vector or a non-empty text", MISSING_VECTOR)
    for start in range(0, len(to_embed), embed_batch):
        rows = to_embed[start : start + embed_batch]
        mat[rows] = embed_texts(embedder, [texts[i] or "" for i in rows], model, params.dimension, f"{field_name}.text")
    embedded = set(to_embed)
    vectors = finish_vectors(mat, params.metric, lambda i: f"{field_name}[{i}].{'text' if i in embedded else 'vector'}")
    return WriteBatch(op, ids, vectors, metadata, texts)


def prepare_query(
    vector: object, text: str | None, params: HnswParams, embedder: Embedder | None, model: str
) -> np.ndarray:
    """Exactly one of vector/text; the result is a (1, d) float32 query in the corpus's space."""
    return prepare_queries([(vector, text)], params, embedder, model, field_name="")


def prepare_queries(
    queries: Sequence[tuple[object, str | None]],
    params: HnswParams,
    embedder: Embedder | None,
    model: str,
    *,
    field_name: str = "queries",
) -> np.ndarray:
    """(vector, text) pairs, exactly one of each given, as an (n, d) float32 matrix in the
    corpus's space; the texts are embedded in one call. ``field_name`` "" names the fields
    of a single query (``vector``, ``text``), otherwise ``queries[i].vector``."""
    mat = np.empty((len(queries), params.dimension), dtype=np.float32)
    texts: list[str] = []
    embedded: list[int] = []
    where = (lambda i, name: name) if not field_name else (lambda i, name: f"{field_name}[{i}].{name}")
    for i, (vector, text) in enumerate(queries):
        if (vector is None) == (text is None or text == ""):
            raise invalid_field(where(i, "query"), "give exactly one of vector or text", INVALID_QUERY)
        if vector is not None:
            mat[i] = _as_vector(vector, params.dimension, where(i, "vector"))
        else:
            embedded.append(i)
            texts.append(str(text))
    if texts:
        text_field = f"{field_name}.text" if field_name else "text"
        mat[embedded] = embed_texts(embedder, texts, model, params.dimension, text_field)
    chosen = set(embedded)
    return finish_vectors(mat, params.metric, lambda i: where(i, "text" if i in chosen else "vector"))
