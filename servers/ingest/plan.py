"""What an ingest will do to a dataset, decided before any byte is written.

Mode semantics (every version's manifest is a full snapshot):

- create: the dataset must not exist. Base files = the upload.
- append: previous files + new files; previous deltas are kept. Appending to a
  missing dataset creates it.
- replace: new files only; deltas cleared. Replacing a missing dataset creates it.
  Without a primary key in the spec the stored one is kept if its columns survive.
- upsert: previous files + previous deltas + one new delta (``_lh_op='U'``).
  Upserting into a missing dataset creates it with the upload as base files
  (there is nothing to merge with yet), and records the key.
- delete: the upload carries key columns only; one new delta (``_lh_op='D'``)
  whose other dataset columns are null. The dataset must exist.

Deltas carry ``_lh_seq`` = the new version number: strictly increasing per
dataset, and within one delta every key is unique (checked before writing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.api import errors
from lakehouse.api.catalog import (
    DATASET_EXISTS,
    DATASET_NOT_FOUND,
    DELTA_DELETE,
    DELTA_OP_COLUMN,
    DELTA_SEQ_COLUMN,
    DELTA_UPSERT,
    DataFile,
    Dataset,
    DatasetVersion,
    WriteMode,
)
from lakehouse.api.ingest import (
    PRIMARY_KEY_MISMATCH,
    PRIMARY_KEY_REQUIRED,
    RESERVED_COLUMN,
    SCHEMA_CONFLICT,
    SCHEMA_MISMATCH,
)
from lakehouse.servers.ingest.formats import duckdb_type, normalize_schema
from lakehouse.servers.ingest.layout import written_by
from lakehouse.servers.ingest.reader import Hint

RESERVED_PREFIX = "_lh_"
DELTA_FIELDS = (
    pa.field(DELTA_OP_COLUMN, pa.string(), nullable=False),
    pa.field(DELTA_SEQ_COLUMN, pa.int64(), nullable=False),
)


@dataclass(frozen=True)
class Plan:
    dataset: str
    mode: WriteMode
    current: DatasetVersion | None
    delta_op: str | None  # None: base files
    primary_key: tuple[str, ...]
    key_inherited: bool  # replace kept the stored key without being asked
    required_columns: tuple[str, ...] = ()  # the upload must contain these
    # The check suite (loaded by the ingest gate) the staged version must pass; None: none.
    checks: object | None = None

    @property
    def expected_version(self) -> int:
        return self.current.version if self.current else 0

    @property
    def version(self) -> int:
        return self.expected_version + 1

    @property
    def target(self) -> pa.Schema | None:
        """The schema the upload must fit, or None when the upload defines it."""
        if self.current is not None and self.mode in (WriteMode.APPEND, WriteMode.UPSERT, WriteMode.DELETE):
            return self.current.schema
        return None


def _mismatch(message: str, reason: str = SCHEMA_MISMATCH, **meta: str) -> errors.InvalidArgument:
    return errors.InvalidArgument(message, reason=reason, metadata=meta)


def make_plan(dataset: str, mode: WriteMode, spec_key: tuple[str, ...], existing: Dataset | None) -> Plan:
    current = existing.current if existing else None
    if mode == WriteMode.CREATE and current is not None:
        raise errors.AlreadyExists(
            f"dataset already exists: {dataset}", reason=DATASET_EXISTS, metadata={"dataset": dataset}
        )
    if mode == WriteMode.DELETE and current is None:
        raise errors.NotFound(f"dataset not found: {dataset}", reason=DATASET_NOT_FOUND, metadata={"dataset": dataset})
    stored = current.primary_key if current else ()
    inherited = False
    if current is None or mode == WriteMode.CREATE:
        key = spec_key
    elif mode == WriteMode.REPLACE:
        key, inherited = (spec_key, False) if spec_key else (stored, bool(stored))
    else:
        if spec_key and stored and spec_key != stored:
            raise errors.invalid_field(
                "primary_key",
                f"dataset {dataset} has primary key {list(stored)}, not {list(spec_key)}",
                reason=PRIMARY_KEY_MISMATCH,
            )
        key = stored or spec_key
    if mode in (WriteMode.UPSERT, WriteMode.DELETE) and not key:
        raise errors.invalid_field("primary_key", f"{mode.value} needs a primary key", reason=PRIMARY_KEY_REQUIRED)
    op = None
    if current is not None and mode == WriteMode.UPSERT:
        op = DELTA_UPSERT
    elif mode == WriteMode.DELETE:
        op = DELTA_DELETE
    return Plan(dataset, mode, current, op, tuple(key), inherited)


def check_columns(plan: Plan, upload: Sequence[str]) -> tuple[Plan, list[str] | None]:
    """Validate the upload's columns; return the (possibly key-adjusted) plan and
    the columns to read, in dataset order (None: all, in upload order)."""
    reserved = [n for n in upload if n.startswith(RESERVED_PREFIX)]
    if reserved:
        raise errors.invalid_field(
            "columns",
            f"column names starting with {RESERVED_PREFIX!r} are reserved: {reserved}",
            reason=RESERVED_COLUMN,
        )
    names = set(upload)
    target = plan.target
    if target is None:
        missing_key = [k for k in plan.primary_key if k not in names]
        if missing_key and plan.key_inherited:
            return Plan(plan.dataset, plan.mode, plan.current, plan.delta_op, (), False), None
        if missing_key:
            raise errors.invalid_field(
                "primary_key", f"key columns not in the upload: {missing_key}", reason=PRIMARY_KEY_MISMATCH
            )
        return plan, None
    unknown = [n for n in upload if n not in target.names]
    if plan.delta_op == DELTA_DELETE:
        missing = [k for k in plan.primary_key if k not in names]
        if missing or unknown:
            raise _mismatch(
                f"a delete upload must carry the key columns {list(plan.primary_key)} and only dataset columns;"
                f" missing {missing}, unknown {unknown}",
                missing=",".join(missing),
                unexpected=",".join(unknown),
            )
        return plan, list(plan.primary_key)
    missing = [n for n in target.names if n not in names]
    if missing or unknown:
        raise _mismatch(
            f"upload columns differ from dataset {plan.dataset}: missing {missing}, unexpected {unknown}",
            missing=",".join(missing),
            unexpected=",".join(unknown),
        )
    return plan, list(target.names)


def reader_hints(plan: Plan, explicit: dict[str, pa.DataType], upload: Sequence[str]) -> dict[str, Hint]:
    """Types the reader must enforce: the user's explicit ones, then the dataset's."""
    target = plan.target
    unknown = [n for n in explicit if n not in upload]
    if unknown:
        raise _mismatch(f"the schema names columns the upload does not have: {unknown}", SCHEMA_CONFLICT)
    hints: dict[str, Hint] = {}
    for name, arrow_type in explicit.items():
        if target is not None and name in target.names and target.field(name).type != arrow_type:
            raise _mismatch(
                f"column {name!r} is {target.field(name).type} in dataset {plan.dataset}, not {arrow_type}",
                column=name,
            )
        if (duck := duckdb_type(arrow_type)) is not None:
            hints[name] = Hint(duck, SCHEMA_CONFLICT)
    if target is not None:
        for field in target:
            if field.name in upload and field.name not in hints and (duck := duckdb_type(field.type)) is not None:
                hints[field.name] = Hint(duck, SCHEMA_MISMATCH)
    return hints


def dataset_schema(plan: Plan, upload_schema: pa.Schema, explicit: dict[str, pa.DataType]) -> pa.Schema:
    if plan.target is not None:
        return plan.target
    fields = [f.with_type(explicit[f.name]) if f.name in explicit else f for f in upload_schema]
    return normalize_schema(pa.schema(fields))


class Conformer:
    """Casts each batch (safely) to the dataset schema and adds delta columns."""

    def __init__(self, plan: Plan, schema: pa.Schema, explicit: dict[str, pa.DataType]) -> None:
        self.schema = schema
        self._plan = plan
        self._explicit = explicit
        self.write_schema = pa.schema([*schema, *DELTA_FIELDS]) if plan.delta_op else schema

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        rows = batch.num_rows
        arrays = []
        for field in self.schema:
            if field.name not in batch.schema.names:
                arrays.append(pa.nulls(rows, field.type))  # non-key columns of a delete
                continue
            column = batch.column(field.name)
            if column.type != field.type:
                column = self._cast(column, field)
            arrays.append(column)
        if self._plan.delta_op:
            arrays.append(pa.repeat(pa.scalar(self._plan.delta_op, pa.string()), rows))
            arrays.append(pa.repeat(pa.scalar(self._plan.version, pa.int64()), rows))
        return pa.RecordBatch.from_arrays(arrays, schema=self.write_schema)

    def _cast(self, column: pa.Array, field: pa.Field) -> pa.Array:
        try:
            return pc.cast(column, field.type, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            reason = SCHEMA_CONFLICT if field.name in self._explicit else SCHEMA_MISMATCH
            raise errors.InvalidArgument(
                f"column {field.name!r} ({column.type}) does not fit type {field.type}: {exc}",
                reason=reason,
                metadata={"column": field.name},
                violations=[errors.FieldViolation(field.name, str(exc))],
            ) from exc


def manifest(plan: Plan, new: list[DataFile]) -> tuple[tuple[DataFile, ...], tuple[DataFile, ...]]:
    cur = plan.current
    if plan.delta_op:
        return cur.files, (*cur.deltas, *new)
    if plan.mode == WriteMode.APPEND and cur is not None:
        return (*cur.files, *new), cur.deltas
    return tuple(new), ()


def reusable(mode: WriteMode, found: DatasetVersion, current: DatasetVersion) -> bool:
    """Whether re-ingesting the bytes ``found`` was made from would change nothing."""
    if mode == WriteMode.CREATE:
        return True  # the dataset exists with this exact content in its history
    if mode == WriteMode.APPEND:
        live = {f.path for f in (*current.files, *current.deltas)}
        return all(f.path in live for f in written_by(found))  # its rows are still there
    if found.version != current.version:
        return False  # something changed since; replaying the upload is not a no-op
    if mode == WriteMode.REPLACE:
        return found.mode in (WriteMode.CREATE, WriteMode.REPLACE)
    return found.mode == mode
