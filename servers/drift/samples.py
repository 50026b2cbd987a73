"""The vectors an embedding drift report compares, read straight from the lake.

A stored generation is its ``vectors.parquet`` (checked against the manifest's sha256,
tombstones dropped): the data plane goes direct, as every engine here does, so a drift
run never streams a corpus through the vector service. The active generation is read as
it serves: its rows plus the write log after them, replayed in order (the live items). A
time window keeps the live items whose metadata time falls in ``[start, end)``. Inline
vectors are validated here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.api import errors
from lakehouse.api.drift import (
    EMPTY_SAMPLE,
    INVALID_SAMPLE,
    INVALID_WINDOW,
    SINGLE_GENERATION,
    EmbeddingSample,
    GenerationSample,
    VectorSample,
    WindowSample,
)
from lakehouse.api.errors import invalid_field
from lakehouse.api.vector import DIMENSION_MISMATCH, GENERATION_NOT_FOUND, CorpusInfo
from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.vector.layout import LOG_DIR, classify, corpus_prefix
from lakehouse.servers.vector.persistence import (
    Manifest,
    list_all,
    read_log,
    read_manifest,
    read_vectors_file,
    vectors_of,
)
from lakehouse.servers.vector.vectors import OP_DELETE

# A KS test compares two empirical distributions: each needs at least two points.
MIN_VECTORS = 2
# The write of the corpus moved on while it was being read (a checkpoint folded the log).
CORPUS_CHANGED = "CORPUS_CHANGED"


@dataclass(frozen=True)
class Resolved:
    label: str  # e.g. "corpus docs generation 3"
    vectors: np.ndarray  # (n, d) float32
    corpus: str = ""
    generation: int = 0


class SampleReader:
    """Resolves ``EmbeddingSample``s: ``corpus_info`` names a corpus's generations (the
    matrix listing, so any vector host's corpus is found), ``store`` is the lake bucket."""

    def __init__(self, store: ObjectStore, corpus_info: Callable[[str], CorpusInfo], time_field: str) -> None:
        self._store = store
        self._info = corpus_info
        self._time_field = time_field

    def resolve(
        self, sample: EmbeddingSample | None, field: str, max_inline: int, after: Resolved | None = None
    ) -> Resolved:
        """``after``: the current sample, when this is the baseline (its generation 0 is then
        the newest generation older than the current one of the same corpus)."""
        if isinstance(sample, VectorSample):
            return Resolved(f"{len(sample.vectors)} inline vectors", inline(sample.vectors, field, max_inline))
        if isinstance(sample, GenerationSample):
            return self._generation(sample, f"{field}.generation", after)
        if isinstance(sample, WindowSample):
            return self._window(sample, f"{field}.window")
        raise invalid_field(field, "give a generation, a window or inline vectors", INVALID_SAMPLE)

    def _corpus(self, name: str, field: str) -> CorpusInfo:
        if not name:
            raise invalid_field(f"{field}.corpus", "required", INVALID_SAMPLE)
        return self._info(name)

    def _generation(self, sample: GenerationSample, field: str, after: Resolved | None) -> Resolved:
        info = self._corpus(sample.corpus, field)
        gen = sample.generation
        if gen < 0:
            raise invalid_field(f"{field}.generation", "must be 0 (default) or a generation number", INVALID_SAMPLE)
        if gen == 0 and after is not None and after.corpus == info.name and after.generation:
            older = [g for g in info.generations if g < after.generation]
            if not older:
                raise errors.FailedPrecondition(
                    f"corpus {info.name!r} has no generation older than {after.generation} "
                    f"(complete generations: {list(info.generations)}); rebuild it to compare generations",
                    reason=SINGLE_GENERATION,
                    metadata={"corpus": info.name, "generations": ",".join(map(str, info.generations))},
                )
            gen = max(older)
        elif gen == 0:
            gen = info.generation
        if gen not in info.generations:
            raise errors.NotFound(
                f"corpus {info.name!r} has no complete generation {gen}; available: {list(info.generations)}",
                reason=GENERATION_NOT_FOUND,
                metadata={"corpus": info.name, "generation": str(gen)},
            )
        if gen == info.generation:  # as it serves: its rows and the writes logged since
            vectors, _ = self._live(info, with_metadata=False)
        else:
            vectors, _ = self._read_generation(info.name, gen)
        _enough(len(vectors), f"corpus {info.name!r} generation {gen}", field)
        return Resolved(f"corpus {info.name} generation {gen}", vectors, info.name, gen)

    def _read_generation(
        self, corpus: str, gen: int, manifest: Manifest | None = None, columns: Sequence[str] = ()
    ) -> tuple[np.ndarray, pa.Table]:
        """Live rows of a stored generation: (vectors, a table of the other ``columns`` asked for)."""
        try:
            manifest = manifest or read_manifest(self._store, corpus, gen)
            table = read_vectors_file(self._store, manifest, ["vector", "deleted", *columns])
        except errors.NotFound as exc:
            raise _changed(corpus) from exc
        live = table.filter(pc.invert(table.column("deleted")))
        vectors = vectors_of(live, manifest.params.dimension)
        return vectors, live.drop_columns(["vector", "deleted"])

    def _window(self, sample: WindowSample, field: str) -> Resolved:
        info = self._corpus(sample.corpus, field)
        start, end = sample.start, sample.end
        if start is not None and end is not None and end <= start:
            raise invalid_field(f"{field}.end", "must be after start", INVALID_WINDOW)
        time_field = sample.time_field or self._time_field
        vectors, metadata = self._live(info, with_metadata=True)
        keep = [i for i, m in enumerate(metadata) if _in_window(_time_of(m, time_field), start, end)]
        label = f"corpus {info.name} {time_field} in [{_iso(start)}, {_iso(end)})"
        _enough(len(keep), label, field)
        return Resolved(label, vectors[np.asarray(keep, dtype=np.int64)], info.name)

    def _live(self, info: CorpusInfo, with_metadata: bool) -> tuple[np.ndarray, list[str]]:
        """The corpus's live items (vectors, and their metadata when asked): the active
        generation, then every logged write after it (a write replaces a live item of the
        same id; a delete removes it)."""
        gen = info.generation
        try:
            manifest = read_manifest(self._store, info.name, gen)
        except errors.NotFound as exc:
            raise _changed(info.name) from exc
        prefix = corpus_prefix(info.name) + LOG_DIR + "/"
        kinds = (classify(info.name, o.key) for o in list_all(self._store, prefix))
        newer = sorted(k.number for k in kinds if k.kind == "log" and k.number > manifest.log_seq)
        columns = [*(["id"] if newer else []), *(["metadata"] if with_metadata else [])]
        vectors, table = self._read_generation(info.name, gen, manifest, columns)
        metadata: list[str] = table.column("metadata").to_pylist() if with_metadata else []
        if not newer:
            return vectors, metadata
        ids: list[str] = table.column("id").to_pylist()
        parts = [vectors]
        alive = [np.ones(len(ids), dtype=bool)]
        position = {item_id: i for i, item_id in enumerate(ids)}
        killed: list[int] = []
        for seq in newer:
            try:
                batch = read_log(self._store, info.name, seq, info.dimension)
            except errors.NotFound as exc:
                raise _changed(info.name) from exc
            killed.extend(i for i in (position.pop(item_id, None) for item_id in batch.ids) if i is not None)
            if batch.op != OP_DELETE and batch.ids:
                start = len(ids)
                ids.extend(batch.ids)
                if with_metadata:
                    metadata.extend(m or "{}" for m in batch.metadata)
                parts.append(batch.vectors)
                alive.append(np.ones(len(batch.ids), dtype=bool))
                position.update(zip(batch.ids, range(start, start + len(batch.ids)), strict=True))
        keep_mask = np.concatenate(alive)
        keep_mask[killed] = False
        keep = np.flatnonzero(keep_mask)
        return np.concatenate(parts)[keep], [metadata[i] for i in keep] if with_metadata else []


def check_dimensions(baseline: Resolved, current: Resolved, inline_given: bool) -> None:
    a, b = baseline.vectors.shape[1], current.vectors.shape[1]
    if a == b:
        return
    message = f"the baseline has dimension {a} and the current sample {b}"
    metadata = {"baseline_dimension": str(a), "current_dimension": str(b)}
    if inline_given:
        raise errors.InvalidArgument(
            message,
            reason=DIMENSION_MISMATCH,
            metadata=metadata,
            violations=[errors.FieldViolation("current", message)],
        )
    raise errors.FailedPrecondition(message, reason=DIMENSION_MISMATCH, metadata=metadata)


def inline(rows: np.ndarray | Sequence[Sequence[float]], field: str, limit: int) -> np.ndarray:
    """Inline vectors as a (n, d) float32 matrix: one dimension, finite values, 2..limit rows."""
    n = len(rows)
    if n > limit:
        raise invalid_field(f"{field}.vectors", f"at most {limit} inline vectors, got {n}", INVALID_SAMPLE)
    if n < MIN_VECTORS:
        raise invalid_field(f"{field}.vectors", f"give at least {MIN_VECTORS} vectors, got {n}", EMPTY_SAMPLE)
    if not isinstance(rows, np.ndarray):
        width = len(rows[0])
        for i, row in enumerate(rows):
            if len(row) != width:
                message = f"has {len(row)} values, vector 0 has {width}: all must have one dimension"
                raise invalid_field(f"{field}.vectors[{i}]", message, DIMENSION_MISMATCH)
    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise invalid_field(f"{field}.vectors", "each vector needs at least one value", INVALID_SAMPLE)
    bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if len(bad):
        raise invalid_field(f"{field}.vectors[{bad[0]}]", "has a NaN or infinite value", INVALID_SAMPLE)
    return matrix


def _enough(count: int, what: str, field: str) -> None:
    if count < MIN_VECTORS:
        raise errors.FailedPrecondition(
            f"{what} has {count} live vectors; a drift test needs at least {MIN_VECTORS}",
            reason=EMPTY_SAMPLE,
            metadata={"sample": what, "vectors": str(count)},
            violations=[errors.FieldViolation(field, f"{count} vectors")],
        )


def _changed(corpus: str) -> errors.Aborted:
    return errors.Aborted(
        f"corpus {corpus!r} changed while it was read (a checkpoint or rebuild); retry",
        reason=CORPUS_CHANGED,
        metadata={"corpus": corpus},
    )


def _time_of(metadata: str | None, name: str) -> datetime | None:
    """The item's time: an ISO 8601 string (UTC when it names no zone) or epoch seconds."""
    if not metadata:
        return None
    value = orjson.loads(metadata).get(name)
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(value, UTC)
    return None


def _in_window(when: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    return when is not None and (start is None or when >= start) and (end is None or when < end)


def _iso(when: datetime | None) -> str:
    return when.astimezone(UTC).isoformat() if when else "-"
