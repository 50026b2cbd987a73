"""Arrow IPC over the ExecuteQuery stream, with as few copies as possible.

Every ExecuteQueryResponse carries exactly one encapsulated IPC message: the
schema first, then one record batch each. Concatenated, they form a valid Arrow
IPC stream; read one by one, each decodes in place. Responses are encoded to
protobuf wire format here (field 1 bytes, field 2 varint) straight from the
Arrow buffers, skipping the message object and its extra copies; a unit test
pins the encoding to what the generated ExecuteQueryResponse produces.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from lakehouse.api import errors

# Keep each gRPC message well under the 4 MiB default receive limit of generic clients.
MAX_MESSAGE_BYTES = 3 * 1024 * 1024
_ARROW_IPC_TAG = b"\x0a"  # field 1, length-delimited
_ROWS_TAG = b"\x10"  # field 2, varint
# Tags, lengths and the row count around one payload, at most.
RESPONSE_OVERHEAD_BYTES = 32
ROW_TOO_LARGE = "ROW_TOO_LARGE"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def encode_response(payload: pa.Buffer | bytes, rows: int = 0) -> bytes:
    """Serialized ExecuteQueryResponse(arrow_ipc=payload, rows=rows)."""
    parts: list = [_ARROW_IPC_TAG, _varint(len(payload)), payload] if len(payload) else []
    if rows:
        parts += [_ROWS_TAG, _varint(rows)]
    return b"".join(parts)


def _read_varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


_FIXED_WIDTH = {1: 8, 5: 4}  # wire types 1 (64-bit) and 5 (32-bit)


def decode_response(raw: bytes) -> memoryview:
    """arrow_ipc of a serialized ExecuteQueryResponse, as a view into ``raw`` (no copy).
    Unknown fields are skipped, so newer servers stay readable."""
    data = memoryview(raw)
    pos, payload = 0, data[:0]
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire_type = key >> 3, key & 0x7
        if wire_type == 0:
            _, pos = _read_varint(data, pos)
        elif wire_type == 2:
            length, pos = _read_varint(data, pos)
            if field == 1:
                payload = data[pos : pos + length]
            pos += length
        elif wire_type in _FIXED_WIDTH:
            pos += _FIXED_WIDTH[wire_type]
        else:
            raise ValueError(f"unsupported wire type {wire_type} in ExecuteQueryResponse")
    return payload


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """Dictionary columns (e.g. DuckDB ENUMs) as their value type: every message
    then stands alone, with no dictionary batches to track across messages."""
    fields = [f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def slices(batch: pa.RecordBatch, max_bytes: int = MAX_MESSAGE_BYTES) -> Iterator[pa.RecordBatch]:
    if batch.nbytes <= max_bytes or batch.num_rows <= 1:
        yield batch
        return
    step = max(1, batch.num_rows * max_bytes // batch.nbytes)
    for offset in range(0, batch.num_rows, step):
        yield batch.slice(offset, step)


def encode_stream(schema: pa.Schema, batches: Iterator[pa.RecordBatch], max_response_bytes: int = 0) -> Iterator[bytes]:
    """Serialized responses: the schema, then each (sliced) batch. A single row too large
    for one response (``max_response_bytes``, the server's gRPC send limit; 0: no check)
    is refused with ROW_TOO_LARGE rather than failing in the transport."""
    wire_schema = plain_schema(schema)
    needs_cast = wire_schema != schema
    yield encode_response(wire_schema.serialize())
    for batch in batches:
        if needs_cast:
            batch = batch.cast(wire_schema)
        for part in slices(batch):
            # Checked before serializing too, so an oversized row is never copied.
            if max_response_bytes and part.nbytes + RESPONSE_OVERHEAD_BYTES > max_response_bytes:
                raise _row_too_large(part.nbytes, max_response_bytes)
            payload = part.serialize()
            size = payload.size
            if max_response_bytes and size + RESPONSE_OVERHEAD_BYTES > max_response_bytes:
                del payload
                raise _row_too_large(size, max_response_bytes)
            yield encode_response(payload, part.num_rows)


def _row_too_large(size: int, limit: int) -> errors.InvalidArgument:
    return errors.InvalidArgument(
        f"a result row of {size} bytes does not fit in one response of at most {limit} bytes"
        " (server.max_message_bytes)",
        reason=ROW_TOO_LARGE,
        metadata={"limit_bytes": str(limit)},
    )


def decode_stream(payloads: Iterator[bytes | memoryview]) -> pa.RecordBatchReader:
    """The client side: one IPC message per payload, decoded without re-buffering."""
    it = iter(payloads)
    schema = pa.ipc.read_schema(pa.py_buffer(next(it)))

    def batches() -> Iterator[pa.RecordBatch]:
        for payload in it:
            if payload:
                yield pa.ipc.read_record_batch(pa.py_buffer(payload), schema)

    return pa.RecordBatchReader.from_batches(schema, batches())
