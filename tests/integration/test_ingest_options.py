"""Read options through the real interfaces, beyond the corpus walk: each sheet to its own
dataset, the options as part of an upload's identity, options that do not apply, and
JSON keys renamed for case staying filled on append."""

from __future__ import annotations

import gzip
import io

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.api.errors import InvalidArgument, NotFound
from tests.support import ingest_corpus as corpus


def _rest_ingest(system, dataset: str, body: bytes, **params) -> httpx.Response:
    return httpx.post(
        f"{system.rest}/v1/datasets/{dataset}:ingest",
        params=params,
        content=body,
        headers={"content-type": "application/octet-stream"},
        timeout=120,
    )


def test_every_sheet_to_its_own_dataset_over_grpc(client):
    result = client.ingest("book", corpus.raw("staffing.xlsx"), format="xlsx", sheet="*", mode="create")
    by_sheet = {s.read_options.sheet: s for s in result.sheets}
    assert list(by_sheet) == ["Staff", "Totals", "Empty"]
    assert by_sheet["Staff"].dataset == "book_staff" and by_sheet["Staff"].rows == 3
    assert by_sheet["Totals"].dataset == "book_totals" and by_sheet["Totals"].rows == 2
    assert by_sheet["Empty"].version == 0 and "empty" in by_sheet["Empty"].reasoning  # reported, not written
    assert result.rows == 5 and result.read_options.sheet == "*"
    with pytest.raises(NotFound):
        client.get_dataset("book_empty")
    assert client.query("SELECT sum(Total)::BIGINT AS t FROM book_totals").to_pylist() == [{"t": 38}]
    again = client.ingest("book", corpus.raw("staffing.xlsx"), format="xlsx", sheet="*", mode="append")
    assert all(s.deduplicated for s in again.sheets if s.version) and again.deduplicated


def test_sheet_dataset_pattern_over_rest(system, client):
    r = _rest_ingest(system, "wb", corpus.raw("staffing.xlsx"), sheet="*", sheet_dataset_pattern="{sheet}_of_{dataset}")
    assert r.status_code == 200, r.text
    assert [s["dataset"] for s in r.json()["sheets"]] == ["staff_of_wb", "totals_of_wb", "empty_of_wb"]
    assert client.get_dataset("staff_of_wb").current.base_rows == 3
    bad = _rest_ingest(system, "wb2", corpus.raw("staffing.xlsx"), sheet="*", sheet_dataset_pattern="{owner}")
    assert bad.status_code == 400 and "sheet_dataset_pattern" in bad.text


def test_read_options_are_part_of_an_uploads_identity(client):
    body = b"id,name\n1,ann\n2,bo\n"
    first = client.ingest("ident", body, mode="append")
    assert first.header == "detected" and first.rows == 2
    assert client.ingest("ident_raw", body, mode="append", header="false").rows == 3
    # The same bytes read the same way change nothing; read another way they are new.
    assert client.ingest("ident", body, mode="append").deduplicated
    same_again = client.ingest("ident_twice", body, mode="append", header="false")
    assert client.ingest("ident_twice", body, mode="append", header="false").deduplicated
    assert same_again.source_hash != first.source_hash and same_again.source_hash.startswith(first.source_hash)


def test_the_same_file_gzipped_lands_the_same(client):
    body = b"id,name\n1,ann\n2,bo\n"
    plain = client.ingest("zipped_plain", body, mode="create")
    packed = client.ingest("zipped", gzip.compress(body), mode="create")
    assert packed.read_options.compression == "gzip" and plain.read_options.compression == "none"
    assert packed.rows == plain.rows and packed.bytes_in < len(body) + 64
    assert client.query("SELECT * FROM zipped").equals(client.query("SELECT * FROM zipped_plain"))


@pytest.mark.parametrize(
    ("fmt", "option", "value"),
    [
        ("ndjson", "delimiter", ";"),
        ("parquet", "encoding", "latin-1"),
        ("csv", "sheet", "Staff"),
        ("ndjson", "skip", 2),
    ],
)
def test_an_option_that_does_not_apply_is_refused_by_name(system, client, fmt, option, value):
    bodies = {"ndjson": corpus.raw("case_keys.ndjson"), "parquet": _tiny_parquet(), "csv": b"a,b\n1,2\n"}
    body = bodies[fmt]
    with pytest.raises(InvalidArgument) as info:
        client.ingest(f"na_{option}", body, format=fmt, **{option: value})
    assert info.value.reason == "INVALID_FIELD" and option in info.value.message
    r = _rest_ingest(system, f"na_rest_{option}", body, format=fmt, **{option: value})
    assert r.status_code == 400 and option in r.json()["message"]


def _tiny_parquet() -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table({"a": [1]}), out)
    return out.getvalue()


def test_renamed_json_keys_stay_filled_when_appending(client):
    """An append enforces the dataset's types; the renamed key must still map to its column."""
    client.ingest("keys", corpus.raw("case_keys.ndjson"), format="ndjson", mode="create")
    more = b'{"Platform":"mac","platform":"macOS","n":4}\n{"Platform":"win","platform":"Windows","n":5}\n'
    result = client.ingest("keys", more, format="ndjson", mode="append")
    assert {r.original: r.name for r in result.renames} == {"platform": "platform_1"}
    rows = client.query("SELECT * FROM keys ORDER BY n").to_pylist()
    assert [r["platform_1"] for r in rows] == ["iOS", "Android", "Web", "macOS", "Windows"]
    assert [r["Platform"] for r in rows] == ["ios", "android", None, "mac", "win"]


def test_a_header_line_matching_the_dataset_is_a_header_on_append(client):
    """All text, one data row: only the dataset's own column names show line 1 is the header."""
    client.ingest("people_one", b"name,city\nann,Chicago\n", mode="create", header="true")
    alone = client.ingest("people_other", b"name,city\nbo,Peoria\n", mode="create")
    assert alone.header == "absent" and alone.rows == 2  # unsure means data: nothing dropped
    result = client.ingest("people_one", b"name,city\nbo,Peoria\n", mode="append")
    assert result.header == "detected" and result.rows == 1, result.reasoning


def test_skip_zero_is_not_skip_unset(system, client):
    """skip=0 turns preamble detection off (the field's presence matters, over REST too)."""
    body = corpus.raw("preamble.csv")
    assert _rest_ingest(system, "pre_auto", body).status_code == 200
    r = _rest_ingest(system, "pre_zero", body, skip=0)
    assert r.status_code == 400 and r.json()["details"][0]["reason"] == "CSV_DIALECT_NOT_FOUND", r.text
    with pytest.raises(InvalidArgument) as info:
        client.ingest("pre_zero_grpc", body, skip=0)
    assert info.value.reason == "CSV_DIALECT_NOT_FOUND"
