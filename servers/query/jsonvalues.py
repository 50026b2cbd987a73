"""Arrow columns to JSON-friendly Python values, for row responses (REST).

Conversion is driven by the Arrow type, column by column, so nested values convert
the same way as top-level ones and nanosecond or out-of-range temporals never fail:

=====================================  ==========================================
Arrow (DuckDB) type                     JSON value
=====================================  ==========================================
null                                    null
bool, integers                          bool / number (exact Python ints; on the
                                        wire, beyond 2**53 they travel as strings:
                                        api/query.py rows_to_pb)
float, double                           number; NaN, Infinity, -Infinity as the
                                        strings "NaN", "Infinity", "-Infinity"
decimal with scale 0 (HUGEINT,          number (exact integer), so e.g. sum(BIGINT)
UHUGEINT, DECIMAL(p, 0))                reads as a number
other decimal                           string, e.g. "12.50" (exact)
string (VARCHAR, UUID, ENUM)            string
binary (BLOB, BIT, BIGNUM)              base64 string (standard alphabet, padded)
date                                    "YYYY-MM-DD"
time                                    "HH:MM:SS[.ffffff[fff]]"
timestamp[, tz]                         ISO 8601 "YYYY-MM-DDTHH:MM:SS[.fraction]"
                                        (+offset when zoned); DuckDB's infinite
                                        values as "infinity" / "-infinity"
interval, duration                      ISO 8601 duration, e.g. "P1M2DT3.5S"
list, array                             array
struct                                  object
map                                     object; keys as strings
union, other                            the value, or its string form
=====================================  ==========================================
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa

NAN = "NaN"
POSITIVE_INFINITY = "Infinity"
NEGATIVE_INFINITY = "-Infinity"
INFINITE_TIME = "infinity"
NEGATIVE_INFINITE_TIME = "-infinity"
UUID_EXTENSION = "arrow.uuid"
NANOS_PER_SECOND = 1_000_000_000
NANOS_PER_MICRO = 1_000
_UNIT_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": NANOS_PER_SECOND}
_UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_DATE = dt.date(1970, 1, 1)
# Magnitude at and above which DuckDB's temporal values mean +/- infinity.
_INFINITE_DAYS = 2**31 - 1
_INFINITE_TICKS = 2**63 - 1

Row = list[Any]


def rows(batch: pa.RecordBatch | pa.Table) -> list[Row]:
    """The rows of a batch as lists of JSON-friendly values."""
    columns = [column_values(batch.column(i)) for i in range(batch.num_columns)]
    return [list(values) for values in zip(*columns, strict=True)] if columns else [[] for _ in range(batch.num_rows)]


def column_values(array: pa.Array | pa.ChunkedArray) -> list[Any]:
    """One column's values, JSON-friendly (see the module table)."""
    if isinstance(array, pa.ChunkedArray):
        return [v for chunk in array.chunks for v in column_values(chunk)]
    return _converter(array.type)(array)


def _converter(t: pa.DataType) -> Callable[[pa.Array], list[Any]]:
    if pa.types.is_null(t):
        return lambda a: [None] * len(a)
    if pa.types.is_dictionary(t):
        return lambda a: column_values(a.dictionary_decode())
    if isinstance(t, pa.BaseExtensionType):
        return _extension
    if pa.types.is_floating(t):
        return lambda a: [_float(v) for v in a.to_pylist()]
    if pa.types.is_decimal(t) and t.scale == 0:
        return lambda a: [None if v is None else int(v) for v in a.to_pylist()]
    if pa.types.is_decimal(t):
        return lambda a: [None if v is None else str(v) for v in a.to_pylist()]
    if (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or _is(t, "binary_view")
    ):
        return lambda a: [None if v is None else base64.b64encode(v).decode("ascii") for v in a.to_pylist()]
    if pa.types.is_date(t):
        return _dates
    if pa.types.is_time(t):
        return _times
    if pa.types.is_timestamp(t):
        return _timestamps
    if pa.types.is_duration(t):
        return _durations
    if t == pa.month_day_nano_interval():
        return lambda a: [None if v is None else _iso_duration(v.months, v.days, v.nanoseconds) for v in a.to_pylist()]
    if pa.types.is_map(t):
        return _maps
    if pa.types.is_fixed_size_list(t) or _is(t, "list_view") or _is(t, "large_list_view"):
        return lambda a: _lists(a.cast(pa.large_list(t.value_type)))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _lists
    if pa.types.is_struct(t):
        return _structs
    if pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        return lambda a: a.to_pylist()
    return lambda a: [_plain(v) for v in a.to_pylist()]


def _is(t: pa.DataType, name: str) -> bool:
    check = getattr(pa.types, f"is_{name}", None)
    return bool(check and check(t))


def _float(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return NAN
    return POSITIVE_INFINITY if value > 0 else NEGATIVE_INFINITY


def _ticks(array: pa.Array) -> list[int | None]:
    """The raw integer storage of a temporal array."""
    return array.view(pa.int32() if array.type.bit_width == 32 else pa.int64()).to_pylist()


def _infinite(value: int, limit: int) -> str | None:
    if value >= limit:
        return INFINITE_TIME
    if value <= -limit:
        return NEGATIVE_INFINITE_TIME
    return None


def _dates(array: pa.Array) -> list[Any]:
    unit_days = array.type == pa.date32()
    out: list[Any] = []
    for value in _ticks(array):
        if value is None:
            out.append(None)
            continue
        days = value if unit_days else value // (_UNIT_PER_SECOND["ms"] * 86_400)
        out.append(
            _infinite(days, _INFINITE_DAYS)
            or _safe(lambda d=days: (_EPOCH_DATE + dt.timedelta(days=d)).isoformat(), value)
        )
    return out


def _times(array: pa.Array) -> list[Any]:
    unit = array.type.unit
    per_second = _UNIT_PER_SECOND[unit]
    out: list[Any] = []
    for value in _ticks(array):
        if value is None:
            out.append(None)
            continue
        seconds, fraction = divmod(value, per_second)
        hours, rest = divmod(seconds, 3_600)
        minutes, secs = divmod(rest, 60)
        out.append(f"{hours:02d}:{minutes:02d}:{secs:02d}{_fraction(fraction, unit)}")
    return out


def _timestamps(array: pa.Array) -> list[Any]:
    unit, tz = array.type.unit, array.type.tz
    per_second = _UNIT_PER_SECOND[unit]
    zone = _zone(tz) if tz else None
    out: list[Any] = []
    for value in _ticks(array):
        if value is None:
            out.append(None)
            continue
        infinite = _infinite(value, _INFINITE_TICKS)
        if infinite:
            out.append(infinite)
            continue
        seconds, fraction = divmod(value, per_second)
        out.append(_safe(lambda s=seconds, f=fraction: _iso_timestamp(s, f, unit, zone), value))
    return out


def _iso_timestamp(seconds: int, fraction: int, unit: str, zone: dt.tzinfo | None) -> str:
    moment = _EPOCH + dt.timedelta(seconds=seconds)
    offset = ""
    if zone is not None:
        moment = moment.replace(tzinfo=dt.UTC).astimezone(zone)
        offset = moment.isoformat(timespec="seconds")[len("YYYY-MM-DDTHH:MM:SS") :]
    return f"{moment.replace(tzinfo=None).isoformat(timespec='seconds')}{_fraction(fraction, unit)}{offset}"


def _zone(tz: str) -> dt.tzinfo:
    """The zone of an Arrow timestamp type: an IANA name or a fixed "+HH:MM" offset."""
    if tz[:1] in "+-" and ":" in tz:
        sign = -1 if tz[0] == "-" else 1
        hours, minutes = (int(p) for p in tz[1:].split(":", 1))
        return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    from zoneinfo import ZoneInfo

    return ZoneInfo(tz)


def _fraction(fraction: int, unit: str) -> str:
    """The fraction ".ffffff" (digits of the unit, trailing zeros kept to the unit's precision), "" when zero."""
    if not fraction:
        return ""
    return f".{fraction:0{_UNIT_DIGITS[unit]}d}"


def _durations(array: pa.Array) -> list[Any]:
    per_second = _UNIT_PER_SECOND[array.type.unit]
    nanos_per_tick = NANOS_PER_SECOND // per_second
    return [None if v is None else _iso_duration(0, 0, v * nanos_per_tick) for v in _ticks(array)]


def _iso_duration(months: int, days: int, nanoseconds: int) -> str:
    """ISO 8601 duration; each component carries its own sign, as DuckDB intervals do."""
    date_part = "".join(f"{n}{u}" for n, u in ((months, "M"), (days, "D")) if n)
    time_part = ""
    if nanoseconds:
        sign = "-" if nanoseconds < 0 else ""
        hours, rest = divmod(abs(nanoseconds), 3_600 * NANOS_PER_SECOND)
        minutes, rest = divmod(rest, 60 * NANOS_PER_SECOND)
        seconds = format((decimal.Decimal(rest) / NANOS_PER_SECOND).normalize(), "f")
        parts = [(hours, "H"), (minutes, "M")]
        time_part = "T" + "".join(f"{sign}{n}{u}" for n, u in parts if n) + (f"{sign}{seconds}S" if rest else "")
    if not date_part and not time_part:
        return "PT0S"
    return f"P{date_part}{time_part}"


def _lists(array: pa.Array) -> list[Any]:
    offsets = array.offsets.to_pylist()
    start, end = offsets[0], offsets[-1]
    values = column_values(array.values.slice(start, end - start))
    valid = array.is_valid().to_pylist()
    return [values[offsets[i] - start : offsets[i + 1] - start] if valid[i] else None for i in range(len(array))]


def _maps(array: pa.MapArray) -> list[Any]:
    offsets = array.offsets.to_pylist()
    start, end = offsets[0], offsets[-1]
    key_array, item_array = array.values.slice(start, end - start).flatten()
    keys, items = column_values(key_array), column_values(item_array)
    valid = array.is_valid().to_pylist()
    out: list[Any] = []
    for i in range(len(array)):
        if not valid[i]:
            out.append(None)
            continue
        lo, hi = offsets[i] - start, offsets[i + 1] - start
        out.append({_key(k): v for k, v in zip(keys[lo:hi], items[lo:hi], strict=True)})
    return out


def _key(key: Any) -> str:
    return key if isinstance(key, str) else str(key)


def _structs(array: pa.StructArray) -> list[Any]:
    names = [array.type.field(i).name for i in range(array.type.num_fields)]
    fields = [column_values(child) for child in array.flatten()]
    valid = array.is_valid().to_pylist()
    return [
        {name: values[i] for name, values in zip(names, fields, strict=True)} if valid[i] else None
        for i in range(len(array))
    ]


def _extension(array: pa.ExtensionArray) -> list[Any]:
    if array.type.extension_name == UUID_EXTENSION:
        return [None if v is None else str(uuid.UUID(bytes=v)) for v in array.storage.to_pylist()]
    return column_values(array.storage)


def _safe(render: Callable[[], str], raw: int) -> str:
    """A temporal rendered, or its raw integer as text when Python's calendar cannot hold it."""
    try:
        return render()
    except (OverflowError, ValueError):
        return str(raw)


def _plain(value: Any) -> Any:
    """A Python value of an otherwise unhandled type (union members, ...), JSON-friendly."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)
