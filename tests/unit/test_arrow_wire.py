"""The hand-encoded ExecuteQuery responses are exactly the generated message's wire format,
and the stream decodes back to the same data."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lakehouse.api import arrow_wire
from lakehouse.v1 import query_pb2


@pytest.mark.parametrize("size", [0, 1, 127, 128, 300, 70_000, 3 * 1024 * 1024])
@pytest.mark.parametrize("rows", [0, 1, 127, 128, 1_000_000])
def test_encoding_matches_generated_message(size, rows):
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    expected = query_pb2.ExecuteQueryResponse(arrow_ipc=payload, rows=rows).SerializeToString()
    assert arrow_wire.encode_response(pa.py_buffer(payload), rows) == expected


def test_round_trip_including_dictionary_columns():
    table = pa.table(
        {
            "id": pa.array(range(50_000), pa.int64()),
            "state": pa.array(["IL", "WI", "MN", "IL"] * 12_500).dictionary_encode(),
            "note": pa.array([f"n{i}" * 20 for i in range(50_000)]),
        }
    )
    payloads = [
        query_pb2.ExecuteQueryResponse.FromString(b).arrow_ipc
        for b in arrow_wire.encode_stream(table.schema, iter(table.to_batches(max_chunksize=20_000)))
    ]
    result = arrow_wire.decode_stream(iter(payloads)).read_all()
    assert result.schema.field("state").type == pa.string()
    assert result.column("state").to_pylist() == table.column("state").to_pylist()
    assert result.column("id").to_pylist() == list(range(50_000))


def test_large_batches_are_sliced_under_the_message_limit():
    batch = pa.record_batch({"s": pa.array(["y" * 1000] * 10_000)})  # ~10 MB
    encoded = list(arrow_wire.encode_stream(batch.schema, iter([batch])))
    assert len(encoded) > 3
    assert all(len(e) < arrow_wire.MAX_MESSAGE_BYTES + 64 * 1024 for e in encoded)
    rows = sum(query_pb2.ExecuteQueryResponse.FromString(e).rows for e in encoded)
    assert rows == 10_000


def test_errors_raised_while_streaming_reach_the_reader():
    schema = pa.schema([("a", pa.int64())])

    class Boom(Exception):
        pass

    def payloads():
        yield schema.serialize().to_pybytes()
        yield pa.record_batch({"a": [1]}).serialize().to_pybytes()
        raise Boom("stream broke")

    reader = arrow_wire.decode_stream(payloads())
    with pytest.raises(Boom):
        reader.read_all()


@pytest.mark.parametrize("rows", [0, 5, 300])
def test_decode_response_slices_the_payload_and_skips_unknown_fields(rows):
    payload = b"\x01\x02arrow" * 1000
    raw = query_pb2.ExecuteQueryResponse(arrow_ipc=payload, rows=rows).SerializeToString()
    assert bytes(arrow_wire.decode_response(raw)) == payload
    # A newer server may add fields: a varint (field 7), bytes (field 8), fixed64 (9), fixed32 (10).
    extra = b"\x38\x96\x01" + b"\x42\x03abc" + b"\x49" + b"\x00" * 8 + b"\x55" + b"\x00" * 4
    assert bytes(arrow_wire.decode_response(extra + raw + extra)) == payload
    assert bytes(arrow_wire.decode_response(b"")) == b""
