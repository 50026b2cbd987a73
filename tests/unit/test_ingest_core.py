"""IngestCore end to end on a real CatalogCore (tmp SQLite) and a local object store."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import DELTA_OP_COLUMN, DELTA_SEQ_COLUMN, WriteMode
from lakehouse.servers.catalog.core import CatalogCore
from lakehouse.servers.ingest.core import IngestCore, IngestProgress, IngestSpec
from lakehouse.servers.settings import IngestSettings, Settings
from lakehouse.servers.storage.local import LocalObjectStore

MiB = 1024 * 1024


# Fixtures and helpers ---------------------------------------------------------


class RecordingJournal:
    def __init__(self) -> None:
        self.records: list[tuple[str, BaseException, dict[str, str]]] = []

    def record(self, operation: str, error: BaseException, context: dict[str, str] | None = None) -> str:
        self.records.append((operation, error, dict(context or {})))
        return f"id-{len(self.records)}"


class Env:
    def __init__(self, tmp_path: Path, **ingest: int) -> None:
        self.settings = Settings(home=tmp_path / "home", ingest=IngestSettings(**ingest))
        self.catalog = CatalogCore(self.settings.catalog_db)
        self.store = LocalObjectStore("lake", self.settings.lake_root)
        self.journal = RecordingJournal()
        self.core = IngestCore(self.catalog, self.store, self.journal, self.settings)

    @property
    def lake(self) -> Path:
        return self.settings.lake_root

    def ingest(
        self,
        name: str,
        data: bytes | list[bytes],
        mode: WriteMode = WriteMode.APPEND,
        fmt: str = "auto",
        **kw,
    ):
        chunks = data if isinstance(data, list) else [data]
        return self.core.ingest(IngestSpec(name, fmt, mode, **kw), chunks)

    def parquet_files(self) -> list[str]:
        return sorted(str(p.relative_to(self.lake)) for p in self.lake.rglob("*.parquet"))

    def spool_files(self) -> list[Path]:
        return list(self.settings.spool_dir.glob("ingest-*")) if self.settings.spool_dir.exists() else []

    def base_table(self, name: str) -> pa.Table:
        current = self.catalog.get_dataset(name).current
        tables = [pq.read_table(self.lake / f.path) for f in current.files]
        return pa.concat_tables(tables) if tables else current.schema.empty_table()

    def delta_tables(self, name: str) -> list[pa.Table]:
        return [pq.read_table(self.lake / f.path) for f in self.catalog.get_dataset(name).current.deltas]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    assert e.spool_files() == []  # the spool is cleaned in every case
    e.catalog.close()


def _reason(info: pytest.ExceptionInfo) -> str:
    return info.value.reason


def _assert_nothing_written(env: Env, name: str) -> None:
    with pytest.raises(errors.NotFound):
        env.catalog.get_dataset(name)
    assert env.parquet_files() == []


# Inference and formats --------------------------------------------------------

TYPED_CSV = (
    b"i,f,b,d,ts,s,n\n"
    b"1,1.5,true,2024-01-02,2024-01-02 03:04:05,hello,\n"
    b'-2,2.25,false,2024-02-29,2024-02-29T23:59:59,"with, comma",\n'
    b"3,,true,,,,\n"
)


def test_csv_inference_every_type(env: Env) -> None:
    result = env.ingest("typed", TYPED_CSV, WriteMode.CREATE, "csv")
    expected = pa.schema(
        [
            ("i", pa.int64()),
            ("f", pa.float64()),
            ("b", pa.bool_()),
            ("d", pa.date32()),
            ("ts", pa.timestamp("us")),
            ("s", pa.string()),
            ("n", pa.string()),
        ]
    )
    assert result.schema.equals(expected)
    assert (result.rows, result.version, result.files, result.deduplicated) == (3, 1, 1, False)
    table = env.base_table("typed")
    assert table.schema.equals(expected)
    rows = table.to_pylist()
    assert rows[0]["i"] == 1 and rows[1]["f"] == 2.25 and rows[1]["b"] is False
    assert str(rows[1]["d"]) == "2024-02-29" and str(rows[1]["ts"]) == "2024-02-29 23:59:59"
    assert rows[1]["s"] == "with, comma"
    assert rows[2]["f"] is None and rows[2]["d"] is None and rows[2]["s"] is None
    assert table.column("n").null_count == 3


def test_sniffer_guesses_never_drop_rows(env: Env) -> None:
    """DuckDB would take line 3 as the header after a 'preamble', and skip '#' lines as comments."""
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("pre", b"a,b\n1,2\n3,4,5\n", WriteMode.CREATE, "csv")
    assert _reason(info) == "CSV_DIALECT_NOT_FOUND" and info.value.metadata["line"] == "3"
    env.ingest("hashes", b"a,b\n#1,2\n3,4\n#5,6\n", WriteMode.CREATE, "csv")
    assert env.base_table("hashes").column("a").to_pylist() == ["#1", "3", "#5"]
    env.ingest("empties", b'a,b\n1,""\n2,\n', WriteMode.CREATE, "csv")
    assert env.base_table("empties").column("b").to_pylist() == ["", None]


def test_tsv(env: Env) -> None:
    result = env.ingest("tabs", b"a\tb\tc\n1\tx, y\t2.5\n2\tz\t3.5\n", WriteMode.CREATE, "tsv")
    assert result.schema.names == ["a", "b", "c"]
    assert env.base_table("tabs").column("b").to_pylist() == ["x, y", "z"]


def test_auto_detects_tsv_and_semicolons(env: Env) -> None:
    env.ingest("semi", b"a;b\n1;x\n2;y\n", WriteMode.CREATE)
    assert env.base_table("semi").column("b").to_pylist() == ["x", "y"]


def test_json_array_with_nested_values(env: Env) -> None:
    data = json.dumps(
        [
            {"id": 1, "name": "ann", "score": 1.5, "ok": True, "tags": ["a", "b"], "addr": {"zip": "60601"}},
            {"id": 2, "name": "bob", "score": None, "ok": False, "tags": [], "addr": {"zip": "10001"}},
        ]
    ).encode()
    result = env.ingest("people", b"  \n" + data, WriteMode.CREATE, "auto")
    schema = result.schema
    assert schema.field("id").type == pa.int64() and schema.field("ok").type == pa.bool_()
    assert pa.types.is_list(schema.field("tags").type) and pa.types.is_struct(schema.field("addr").type)
    assert env.base_table("people").column("addr").to_pylist()[1] == {"zip": "10001"}


def test_ndjson_and_all_null_column(env: Env) -> None:
    data = b'{"id": 1, "name": "a", "gone": null}\n{"id": 2, "name": "b", "gone": null}\n'
    result = env.ingest("lines", data, WriteMode.CREATE, "ndjson")
    assert result.rows == 2
    assert result.schema.field("gone").type == pa.string()  # all-null JSON column stays usable
    assert env.base_table("lines").column("id").to_pylist() == [1, 2]


def test_json_concatenated_pretty_objects(env: Env) -> None:
    env.ingest("pretty", b'{\n "a": 1\n}\n{\n "a": 2\n}\n', WriteMode.CREATE, "json")
    assert env.base_table("pretty").column("a").to_pylist() == [1, 2]


def test_parquet_upload_is_detected(env: Env) -> None:
    table = pa.table({"id": pa.array([1, 2, 3], pa.int32()), "name": ["a", "b", None]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    result = env.ingest("pq", sink.getvalue(), WriteMode.CREATE)
    assert result.rows == 3
    assert result.schema.field("id").type == pa.int32()
    assert env.base_table("pq").to_pylist() == table.to_pylist()


def test_late_rows_contradicting_the_type_sample_fall_back(env: Env) -> None:
    """A column that is numeric for longer than DuckDB's sample must not be mis-typed."""
    rows = 50_000
    data = b"a,b\n" + b"".join(b"%d,x\n" % i for i in range(rows)) + b"hello,y\n"
    result = env.ingest("late", data, WriteMode.CREATE, "csv")
    assert result.rows == rows + 1
    assert result.schema.field("a").type == pa.string()
    assert env.base_table("late").column("a").to_pylist()[-1] == "hello"
    assert len(env.parquet_files()) == 1  # the first, failed pass left nothing behind


# Explicit schema ----------------------------------------------------------------


def test_explicit_schema_overrides_inference(env: Env) -> None:
    data = b"zip,amount,name\n00123,5,ann\n60601,7,bob\n"
    result = env.ingest("zips", data, WriteMode.CREATE, "csv", schema="zip:string, amount:float64")
    assert result.schema.field("zip").type == pa.string()
    assert result.schema.field("amount").type == pa.float64()
    assert result.schema.field("name").type == pa.string()
    assert env.base_table("zips").column("zip").to_pylist() == ["00123", "60601"]


def test_explicit_schema_conflict_names_column_and_line(env: Env) -> None:
    data = b"a,b\n1,2024-01-01\n2,not a date\n"
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("conf", data, WriteMode.CREATE, "csv", schema="b:date")
    assert _reason(info) == "SCHEMA_CONFLICT"
    assert "'b'" in str(info.value) and info.value.metadata["line"] == "3"
    _assert_nothing_written(env, "conf")


def test_explicit_schema_conflict_in_json(env: Env) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("jc", b'{"a": 1}\n{"a": "x"}\n', WriteMode.CREATE, "ndjson", schema="a:int64")
    assert _reason(info) == "SCHEMA_CONFLICT"


def test_explicit_schema_conflict_in_parquet(env: Env) -> None:
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": ["1", "x"]}), sink)
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("pc", sink.getvalue(), WriteMode.CREATE, "parquet", schema="a:int64")
    assert _reason(info) == "SCHEMA_CONFLICT" and info.value.metadata["column"] == "a"
    _assert_nothing_written(env, "pc")


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ("a:uuid", "INVALID_SCHEMA"),
        ("a", "INVALID_SCHEMA"),
        ("a:int64,a:string", "INVALID_SCHEMA"),
        ("zz:int64", "SCHEMA_CONFLICT"),
    ],
)
def test_invalid_explicit_schemas(env: Env, schema: str, reason: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("bad", b"a,b\n1,2\n", WriteMode.CREATE, "csv", schema=schema)
    assert _reason(info) == reason


def test_odd_column_names_are_quoted(env: Env) -> None:
    data = b'"we""ird",x\'y,"sp ace"\n1,2,3\n'
    result = env.ingest("odd", data, WriteMode.CREATE, "csv", schema="x'y:string, we\"ird:float64")
    assert result.schema.names == ['we"ird', "x'y", "sp ace"]
    assert env.base_table("odd").to_pylist() == [{'we"ird': 1.0, "x'y": "2", "sp ace": 3}]


# Malformed input -----------------------------------------------------------------

FILLER = b"".join(b"%d,2,3\n" % i for i in range(60_000))  # longer than the sniffer's sample


@pytest.mark.parametrize(
    ("data", "reason", "line"),
    [
        (b"a,b,c\n1,2,3\n4,5\n6,7,8\n", "CSV_DIALECT_NOT_FOUND", 3),  # ragged, short row inside the sample
        (b"a,b,c\n1,2,3\n4,5,6,7\n6,7,8\n", "CSV_DIALECT_NOT_FOUND", 3),  # ragged, long row inside the sample
        (b"a,b,c\n" + FILLER + b"4,5\n7,8,9\n", "MALFORMED_INPUT", 60_002),  # ragged, after the sample
        (b"a,b,c\n" + FILLER[:200_000] + b"4,5\n7,8,9\n", "MALFORMED_INPUT", 21_113),  # in the engine's sample only
        (b'a,b\n1,"abc\n2,3\n', "MALFORMED_QUOTED_FIELD", 2),  # unterminated quote
        (b'a,b\n1,"ab"c\n2,3\n', "MALFORMED_QUOTED_FIELD", 2),  # junk after a closing quote
        (b"a,b,c\n" + FILLER + b'4,"ab"c,1\n7,8,9\n', "MALFORMED_QUOTED_FIELD", 60_002),  # after the sample
        (b"# note\na,b,c\n" + FILLER + b"4,5\n7,8,9\n", "MALFORMED_INPUT", 60_003),  # a removed comment line
    ],
    ids=[
        "short-row",
        "long-row",
        "late-ragged",
        "mid-ragged",
        "unterminated",
        "junk-after-quote",
        "late-quote",
        "after-comment",
    ],
)
def test_malformed_csv_is_rejected_not_skipped(env: Env, data: bytes, reason: str, line: int) -> None:
    """Each refusal names the upload's own line (past quoted newlines and removed lines)."""
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("bad", data, WriteMode.CREATE, "csv")
    assert _reason(info) == reason
    assert info.value.metadata["line"] == str(line) and f"line {line}" in info.value.message
    assert "strict_mode" not in info.value.message and "ignore_errors" not in info.value.message
    _assert_nothing_written(env, "bad")


def test_malformed_json(env: Env) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("bad", b'{"a": 1}\n{"a": \n', WriteMode.CREATE, "ndjson")
    assert _reason(info) == "MALFORMED_INPUT"


def test_garbage_parquet(env: Env) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("bad", b"PAR1 this is not parquet", WriteMode.CREATE, "parquet")
    assert _reason(info) == "MALFORMED_INPUT"


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"a,b\n1,\xff\xfe\n2,3\n", "csv"),
        (b"a,b,c\n" + FILLER + b"1,\xc3\x28,3\n", "csv"),
        (b'{"a": "\xff"}\n', "ndjson"),
    ],
    ids=["csv-early", "csv-late", "ndjson"],
)
def test_invalid_utf8(env: Env, data: bytes, fmt: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("enc", data, WriteMode.CREATE, fmt)
    assert _reason(info) == "INVALID_ENCODING"
    _assert_nothing_written(env, "enc")


@pytest.mark.parametrize("chunks", [[], [b""], [b"", b""], [b"  \n\t\n"]], ids=["none", "empty", "empties", "blank"])
def test_empty_upload(env: Env, chunks: list[bytes]) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("empty", chunks, WriteMode.CREATE, "csv")
    assert _reason(info) == "EMPTY_INPUT"
    _assert_nothing_written(env, "empty")


@pytest.mark.parametrize(
    ("data", "fmt", "reason"),
    [
        (b"\x00\x01\x02 binary", "auto", "MALFORMED_INPUT"),
        ("a,b\n1,2\n".encode("utf-16"), "csv", "INVALID_ENCODING"),
        (b" [ ]\n", "auto", "EMPTY_INPUT"),
        (b"[1, 2, 3]", "json", "MALFORMED_INPUT"),  # values, not records
        (b'{"a": 1}\n7\n', "ndjson", "MALFORMED_INPUT"),
    ],
    ids=["binary", "utf16", "empty-array", "scalars", "scalar-line"],
)
def test_content_that_is_not_records(env: Env, data: bytes, fmt: str, reason: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("odd", data, WriteMode.CREATE, fmt)
    assert _reason(info) == reason
    _assert_nothing_written(env, "odd")


def test_header_only_csv_creates_an_empty_version(env: Env) -> None:
    result = env.ingest("shape", b"a,b\n", WriteMode.CREATE, "csv", schema="a:int64")
    assert (result.rows, result.files, result.version) == (0, 0, 1)
    assert result.schema.field("a").type == pa.int64()
    assert env.catalog.get_dataset("shape").current.files == ()


def _huge_field(total: int, prefix: bytes, suffix: bytes) -> Iterator[bytes]:
    yield prefix
    block = b"x" * MiB
    for _ in range(total // MiB):
        yield block
    yield suffix


def test_100mb_single_field_is_rejected_early(env: Env) -> None:
    seen = []

    def chunks() -> Iterator[bytes]:
        for chunk in _huge_field(100 * MiB, b"a,b\n1,", b"\n2,y\n"):
            seen.append(len(chunk))
            yield chunk

    with pytest.raises(errors.InvalidArgument) as info:
        env.core.ingest(IngestSpec("huge", "csv", WriteMode.CREATE), chunks())
    assert _reason(info) == "RECORD_TOO_LARGE"
    assert sum(seen) < 100 * MiB  # rejected while arriving, not after
    assert len(str(info.value)) < 1000  # the record is never echoed back
    _assert_nothing_written(env, "huge")


def test_100mb_json_array_object_is_rejected(env: Env) -> None:
    chunks = list(_huge_field(100 * MiB, b'[{"a": 1, "b": "', b'"}]'))
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("huge", chunks, WriteMode.CREATE, "json")
    assert _reason(info) == "RECORD_TOO_LARGE"
    assert len(str(info.value)) < 1000
    _assert_nothing_written(env, "huge")


def test_long_records_below_the_limit_are_accepted(env: Env) -> None:
    """A 5 MB one-line field and a 4 MB quoted field of short lines (DuckDB's default limit is 2 MB)."""
    one_line = b"a,b\n1," + b"y" * (5 * MiB) + b"\n2,z\n"
    assert env.ingest("long", one_line, WriteMode.CREATE, "csv").rows == 2
    multi = b'a,b\n1,"' + b"short line\n" * 400_000 + b'"\n2,z\n'
    assert env.ingest("multi", multi, WriteMode.CREATE, "csv").rows == 2
    assert len(env.base_table("multi").column("b")[0].as_py()) == 4_400_000


# Idempotency and modes ---------------------------------------------------------------

PEOPLE = b"id,name,city\n1,ann,chicago\n2,bob,peoria\n"


def test_reingest_same_bytes_is_deduplicated(env: Env) -> None:
    first = env.ingest("people", PEOPLE, WriteMode.CREATE)
    files = env.parquet_files()
    gen = env.catalog.generation()
    for mode in (WriteMode.CREATE, WriteMode.APPEND):
        again = env.ingest("people", [PEOPLE[:5], PEOPLE[5:]], mode)  # chunking does not matter
        assert again.deduplicated and again.version == first.version == 1
        assert again.rows == first.rows and again.source_hash == first.source_hash
    assert env.catalog.get_dataset("people").version_count == 1
    assert env.parquet_files() == files and env.catalog.generation() == gen
    assert env.base_table("people").num_rows == 2


def test_create_existing_with_other_content(env: Env) -> None:
    env.ingest("people", PEOPLE, WriteMode.CREATE)
    with pytest.raises(errors.AlreadyExists) as info:
        env.ingest("people", PEOPLE + b"3,cy,rome\n", WriteMode.CREATE)
    assert _reason(info) == "DATASET_EXISTS"


def test_append_keeps_previous_files(env: Env) -> None:
    v1 = env.ingest("people", PEOPLE, WriteMode.CREATE)
    v2 = env.ingest("people", b"city,id,name\nrome,3,cy\n", WriteMode.APPEND)  # other column order
    assert v2.version == 2 and v2.rows == 1 and not v2.deduplicated
    current = env.catalog.get_dataset("people").current
    assert len(current.files) == 2 and current.files[0] == env.catalog.get_version("people", 1).files[0]
    assert current.files[1].path.startswith("datasets/people/v2/part-")
    assert sorted(env.base_table("people").column("id").to_pylist()) == [1, 2, 3]
    assert v1.schema.equals(v2.schema)


def test_append_uses_dataset_types(env: Env) -> None:
    env.ingest("zips", b"zip,n\n00123,1\n", WriteMode.CREATE, "csv", schema="zip:string")
    env.ingest("zips", b"zip,n\n60601,2\n", WriteMode.APPEND)  # would infer int64 on its own
    assert env.base_table("zips").column("zip").to_pylist() == ["00123", "60601"]


def test_append_into_missing_dataset_creates_it(env: Env) -> None:
    assert env.ingest("fresh", PEOPLE, WriteMode.APPEND).version == 1


@pytest.mark.parametrize(
    ("data", "names"),
    [
        (b"id,name\n3,cy\n", ["city"]),
        (b"id,name,city,extra\n3,cy,rome,1\n", ["extra"]),
        (b"id,name,city\nthree,cy,rome\n", ["id"]),
    ],
    ids=["missing", "extra", "type"],
)
def test_append_schema_mismatch(env: Env, data: bytes, names: list[str]) -> None:
    env.ingest("people", PEOPLE, WriteMode.CREATE)
    files = env.parquet_files()
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("people", data, WriteMode.APPEND)
    assert _reason(info) == "SCHEMA_MISMATCH"
    assert all(n in str(info.value) for n in names)
    assert env.catalog.get_dataset("people").current_version == 1 and env.parquet_files() == files


def test_replace_clears_files_and_deltas(env: Env) -> None:
    env.ingest("people", PEOPLE, WriteMode.CREATE, primary_key=("id",))
    env.ingest("people", b"id,name,city\n1,ann,rome\n", WriteMode.UPSERT)
    result = env.ingest("people", b"id,other\n9,z\n", WriteMode.REPLACE)
    current = env.catalog.get_dataset("people").current
    assert result.version == 3 and current.deltas == ()
    assert [f.path for f in current.files] == [f.path for f in current.files if "/v3/" in f.path]
    assert env.base_table("people").to_pylist() == [{"id": 9, "other": "z"}]
    assert current.primary_key == ("id",)  # kept: its column survived


def test_upsert_writes_a_delta(env: Env) -> None:
    env.ingest("people", PEOPLE, WriteMode.CREATE, primary_key=("id",))
    base = env.catalog.get_dataset("people").current.files
    result = env.ingest("people", b"id,name,city\n2,bob,rome\n5,eve,paris\n", WriteMode.UPSERT)
    current = env.catalog.get_dataset("people").current
    assert result.version == 2 and result.rows == 2 and result.files == 1
    assert current.files == base and len(current.deltas) == 1
    assert current.deltas[0].path.startswith("datasets/people/deltas/")
    delta = env.delta_tables("people")[0]
    assert delta.schema.names == ["id", "name", "city", DELTA_OP_COLUMN, DELTA_SEQ_COLUMN]
    assert delta.schema.field(DELTA_SEQ_COLUMN).type == pa.int64()
    assert delta.to_pylist() == [
        {"id": 2, "name": "bob", "city": "rome", DELTA_OP_COLUMN: "U", DELTA_SEQ_COLUMN: 2},
        {"id": 5, "name": "eve", "city": "paris", DELTA_OP_COLUMN: "U", DELTA_SEQ_COLUMN: 2},
    ]
    # A second upsert keeps the first delta and gets a higher sequence.
    env.ingest("people", b"id,name,city\n2,bob,lyon\n", WriteMode.UPSERT)
    deltas = env.delta_tables("people")
    assert len(deltas) == 2 and deltas[1].column(DELTA_SEQ_COLUMN).to_pylist() == [3]


def test_delete_writes_key_only_delta(env: Env) -> None:
    env.ingest("people", PEOPLE, WriteMode.CREATE, primary_key=("id",))
    env.ingest("people", b"id,name,city\n1,ann,rome\n", WriteMode.UPSERT)
    result = env.ingest("people", b"id\n2\n", WriteMode.DELETE)
    current = env.catalog.get_dataset("people").current
    assert result.version == 3 and len(current.deltas) == 2
    delta = env.delta_tables("people")[1]
    assert delta.to_pylist() == [{"id": 2, "name": None, "city": None, DELTA_OP_COLUMN: "D", DELTA_SEQ_COLUMN: 3}]
    assert delta.schema.field("id").type == pa.int64()


def test_upsert_into_missing_dataset_creates_base(env: Env) -> None:
    result = env.ingest("fresh", PEOPLE, WriteMode.UPSERT, primary_key=("id",))
    current = env.catalog.get_dataset("fresh").current
    assert result.version == 1 and current.deltas == () and len(current.files) == 1
    assert current.primary_key == ("id",) and current.mode == WriteMode.UPSERT


def test_key_rules(env: Env) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("people", PEOPLE, WriteMode.UPSERT)
    assert _reason(info) == "PRIMARY_KEY_REQUIRED"
    env.ingest("people", PEOPLE, WriteMode.CREATE, primary_key=("id",))
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("people", b"id,name,city\n1,a,b\n", WriteMode.UPSERT, primary_key=("name",))
    assert _reason(info) == "PRIMARY_KEY_MISMATCH"
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("people", b"id,name,city\n1,a,b\n1,c,d\n", WriteMode.UPSERT)
    assert _reason(info) == "INVALID_KEY" and "2 times" in str(info.value)
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("people", b"id,name,city\n,a,b\n", WriteMode.UPSERT)
    assert _reason(info) == "INVALID_KEY"
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("people", b"name\nann\n", WriteMode.DELETE)
    assert _reason(info) == "SCHEMA_MISMATCH"
    with pytest.raises(errors.NotFound) as info:
        env.ingest("nobody", b"id\n1\n", WriteMode.DELETE, primary_key=("id",))
    assert _reason(info) == "DATASET_NOT_FOUND"
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("other", b"id,_lh_op\n1,U\n", WriteMode.CREATE)
    assert _reason(info) == "RESERVED_COLUMN"
    assert env.catalog.get_dataset("people").current_version == 1


def test_invalid_spec(env: Env) -> None:
    with pytest.raises(errors.InvalidArgument):
        env.ingest("Bad-Name", PEOPLE)
    with pytest.raises(errors.InvalidArgument):
        env.ingest("ok", PEOPLE, fmt="xlsx")
    with pytest.raises(errors.InvalidArgument):
        env.ingest("ok", PEOPLE, primary_key=("id", "id"))


# Failures, races, cancellation ---------------------------------------------------------


class _FailingWriter:
    """A sink that accepts ``budget`` bytes, then fails like a dropped connection."""

    def __init__(self, path: str, budget: int | None) -> None:
        self._handle = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._budget = budget
        self.closed = False

    def write(self, data) -> int:
        if self._budget is not None:
            self._budget -= len(data)
            if self._budget < 0:
                raise OSError("simulated storage failure")
        return self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()

    def tell(self) -> int:
        return self._handle.tell()

    def close(self) -> None:
        self.closed = True
        self._handle.close()


class FailingHandler(pafs.FileSystemHandler):
    """Local filesystem whose ``fail_on``-th output stream fails after ``budget`` bytes."""

    def __init__(self, fail_on: int, budget: int) -> None:
        self.local = pafs.LocalFileSystem()
        self.fail_on, self.budget, self.opened = fail_on, budget, 0

    def open_output_stream(self, path, metadata):
        budget = self.budget if self.opened + 1 >= self.fail_on else None
        sink = _FailingWriter(path, budget)  # raises FileNotFoundError until the directory exists
        self.opened += 1
        return pa.PythonFile(sink, mode="w")

    def get_type_name(self):
        return "failing"

    def normalize_path(self, path):
        return path

    def equals(self, other):
        return self is other

    def get_file_info(self, paths):
        return self.local.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.local.get_file_info(selector)

    def create_dir(self, path, recursive):
        self.local.create_dir(path, recursive=recursive)

    def delete_dir(self, path):
        self.local.delete_dir(path)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self.local.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self):
        raise OSError("not supported")

    def delete_file(self, path):
        self.local.delete_file(path)

    def move(self, src, dest):
        self.local.move(src, dest)

    def copy_file(self, src, dest):
        self.local.copy_file(src, dest)

    def open_input_stream(self, path):
        return self.local.open_input_stream(path)

    def open_input_file(self, path):
        return self.local.open_input_file(path)

    def open_append_stream(self, path, metadata):
        raise OSError("not supported")


class FailingStore:
    """The local store, except that its data-plane filesystem fails mid-write."""

    def __init__(self, inner: LocalObjectStore, handler: FailingHandler) -> None:
        self._inner, self._handler = inner, handler
        self.info = inner.info

    def filesystem(self):
        return pafs.PyFileSystem(self._handler), str(self._inner.root)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _rows_csv(rows: int, start: int = 0) -> bytes:
    return b"id,name,score\n" + b"".join(b"%d,name_%d,%d.5\n" % (i, i % 7, i) for i in range(start, start + rows))


def test_storage_failure_mid_write_leaves_nothing(tmp_path: Path) -> None:
    env = Env(tmp_path, batch_rows=1000, row_group_rows=1000, rows_per_file=2000)
    handler = FailingHandler(fail_on=2, budget=2000)  # the first file completes, the second breaks
    env.core = IngestCore(env.catalog, FailingStore(env.store, handler), env.journal, env.settings)
    with pytest.raises(errors.Unavailable) as info:
        env.ingest("broken", _rows_csv(10_000), WriteMode.CREATE)
    assert _reason(info) == "STORAGE_UNAVAILABLE"
    assert handler.opened == 2
    _assert_nothing_written(env, "broken")
    assert env.spool_files() == []
    [(operation, error, context)] = env.journal.records
    assert operation == "ingest" and error is info.value
    assert context["dataset"] == "broken" and len(context["files_written"].split(",")) == 2
    assert context["files_left"] == ""


def test_failure_without_journal_and_with_broken_journal(tmp_path: Path) -> None:
    env = Env(tmp_path)

    class BrokenJournal:
        def record(self, *args, **kwargs):
            raise RuntimeError("journal down")

    for journal in (None, BrokenJournal()):
        store = FailingStore(env.store, FailingHandler(fail_on=1, budget=10))
        env.core = IngestCore(env.catalog, store, journal, env.settings)
        with pytest.raises(errors.Unavailable):
            env.ingest("broken", PEOPLE, WriteMode.CREATE)
        _assert_nothing_written(env, "broken")


class RacingCatalog:
    """Lets another writer commit version N+1 just before our commit (a second process)."""

    def __init__(self, inner: CatalogCore, rival) -> None:
        self._inner, self._rival = inner, rival

    def commit_version(self, new):
        if self._rival is not None:
            rival, self._rival = self._rival, None
            rival()
        return self._inner.commit_version(new)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_version_conflict_cleans_up(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.ingest("people", PEOPLE, WriteMode.CREATE)
    rival_core = IngestCore(env.catalog, env.store, None, env.settings)

    def rival() -> None:
        rival_core.ingest(IngestSpec("people", "csv", WriteMode.APPEND), [b"id,name,city\n7,rival,x\n"])

    env.core = IngestCore(RacingCatalog(env.catalog, rival), env.store, env.journal, env.settings)
    with pytest.raises(errors.Aborted) as info:
        env.ingest("people", b"id,name,city\n8,loser,y\n", WriteMode.APPEND)
    assert _reason(info) == "VERSION_CONFLICT"
    current = env.catalog.get_dataset("people").current
    assert current.version == 2
    live = {f.path for f in current.files}
    assert set(env.parquet_files()) == live  # the loser's file is gone, nothing else touched
    assert sorted(env.base_table("people").column("name").to_pylist()) == ["ann", "bob", "rival"]
    assert env.journal.records and env.journal.records[0][2]["reason"] == "VERSION_CONFLICT"


class FlakyCatalog:
    """commit_version raises Unavailable, either before or after really committing."""

    def __init__(self, inner: CatalogCore, commit_first: bool) -> None:
        self._inner, self._commit_first = inner, commit_first

    def commit_version(self, new):
        if self._commit_first:
            self._inner.commit_version(new)
        raise errors.Unavailable("catalog timed out", reason="DEADLINE")

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_commit_lost_reply_is_confirmed(env: Env) -> None:
    env.core = IngestCore(FlakyCatalog(env.catalog, commit_first=True), env.store, env.journal, env.settings)
    result = env.ingest("people", PEOPLE, WriteMode.CREATE)
    assert result.version == 1 and env.base_table("people").num_rows == 2
    assert env.journal.records == []


def test_commit_outcome_unknown_keeps_files(env: Env) -> None:
    env.core = IngestCore(FlakyCatalog(env.catalog, commit_first=False), env.store, env.journal, env.settings)
    with pytest.raises(errors.Unavailable):
        env.ingest("people", PEOPLE, WriteMode.CREATE)
    with pytest.raises(errors.NotFound):
        env.catalog.get_dataset("people")
    kept = env.parquet_files()
    assert len(kept) == 1  # an orphan to collect, never a dangling catalog entry
    [(_, _, context)] = env.journal.records
    assert context["files_left"] == kept[0] and "unknown" in context["note"]


def test_cancel_between_batches(tmp_path: Path) -> None:
    env = Env(tmp_path, batch_rows=500, row_group_rows=500)
    events: list[IngestProgress] = []

    def cancelled() -> bool:
        return any(e.phase == "convert" for e in events)

    with pytest.raises(errors.Cancelled):
        env.core.ingest(IngestSpec("c", "csv", WriteMode.CREATE), [_rows_csv(5000)], events.append, cancelled)
    assert sum(e.phase == "convert" for e in events) == 1
    _assert_nothing_written(env, "c")
    assert env.journal.records == [] and env.spool_files() == []


def test_cancel_during_upload(env: Env) -> None:
    calls = iter([False, True])
    with pytest.raises(errors.Cancelled):
        env.core.ingest(IngestSpec("c", "csv"), [PEOPLE, PEOPLE], cancelled=lambda: next(calls))
    _assert_nothing_written(env, "c")


def test_concurrent_ingests_into_one_dataset_serialize(env: Env) -> None:
    results, failures = [], []

    def run(i: int) -> None:
        try:
            results.append(env.ingest("shared", _rows_csv(100, start=i * 100)))
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(r.version for r in results) == [1, 2, 3, 4]
    assert env.base_table("shared").num_rows == 400


# Layout, progress, memory -----------------------------------------------------------------


def test_files_row_groups_and_hashes(tmp_path: Path) -> None:
    env = Env(tmp_path, batch_rows=1000, row_group_rows=2500, rows_per_file=6000)
    events: list[IngestProgress] = []
    result = env.core.ingest(IngestSpec("lay", "csv", WriteMode.CREATE), [_rows_csv(15_000)], events.append)
    files = env.catalog.get_dataset("lay").current.files
    assert result.files == 3 and [f.rows for f in files] == [6000, 6000, 3000]
    assert result.bytes_written == sum(f.bytes for f in files)
    for n, f in enumerate(files):
        assert f.path.startswith(f"datasets/lay/v1/part-{n:05d}-") and f.path.endswith(".parquet")
        raw = (env.lake / f.path).read_bytes()
        assert f.bytes == len(raw) and f.content_hash == "sha256:" + hashlib.sha256(raw).hexdigest()
        meta = pq.ParquetFile(env.lake / f.path).metadata
        groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert groups == ([2500, 2500, 1000] if f.rows == 6000 else [2500, 500])
        assert meta.row_group(0).column(0).compression == "ZSTD"
    phases = [e.phase for e in events]
    assert phases[0] == "upload" and phases[-1] == "commit"
    assert phases == sorted(phases, key=["upload", "convert", "commit"].index)
    convert = [e.rows_done for e in events if e.phase == "convert"]
    assert convert == list(range(1000, 15_001, 1000))
    assert events[-1].rows_done == 15_000 and events[-1].bytes_done == result.bytes_written
    assert [e for e in events if e.phase == "upload"][-1].bytes_done == result.bytes_in


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_large_streamed_csv_uses_bounded_memory(env: Env) -> None:
    """6M rows (~350 MB) generated on the fly: Python never holds the upload, and
    resident memory stops growing once the pipeline is warm (holding the batches
    would add ~45 bytes per row)."""
    rows, block_rows = 6_000_000, 10_000
    blocks = [
        "".join(
            f"{k * block_rows + i},name_{i % 977},{i * 0.25},{'true' if i % 2 else 'false'},"
            f"2024-02-{1 + i % 28:02d},2024-02-01 10:{i % 60:02d}:00\n"
            for i in range(block_rows)
        ).encode()
        for k in range(4)
    ]

    def chunks() -> Iterator[bytes]:
        yield b"id,name,score,flag,day,ts\n"
        for j in range(rows // block_rows):
            yield blocks[j % len(blocks)]

    samples: list[int] = []

    def progress(event: IngestProgress) -> None:
        if event.phase == "convert":
            samples.append(_rss())

    tracemalloc.start()
    try:
        result = env.core.ingest(IngestSpec("big", "csv", WriteMode.CREATE), chunks(), progress)
        python_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.rows == rows and result.bytes_in > 300 * MiB
    assert python_peak < result.bytes_in / 50
    warm = samples[len(samples) // 4]
    assert max(samples) - warm < result.bytes_in / 3
    assert pq.ParquetFile(env.lake / env.catalog.get_dataset("big").current.files[0].path).metadata.num_rows == rows


def test_required_columns_are_checked_before_anything_is_written(env: Env) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("needs_cols", b"id,name\n1,ann\n", required_columns=("id", "bio"))
    assert _reason(info) == "UNKNOWN_COLUMN" and "bio" in info.value.message
    _assert_nothing_written(env, "needs_cols")
    result = env.ingest("needs_cols", b"id,bio\n1,forklift\n", required_columns=("id", "bio"))
    assert result.rows == 1


def test_a_key_renamed_past_the_sample_is_reported(env: Env) -> None:
    """The key scan sees the head; the reader's own renames further on are reported too."""
    data = b'{"A": 1}\n' * 30_000 + b'{"a": 2}\n'
    result = env.ingest("late_case", data, WriteMode.CREATE, "ndjson")
    assert result.schema.names == ["A", "a_1"]
    assert [(r.original, r.name) for r in result.renames] == [("a", "a_1")]
    assert env.base_table("late_case").column("a_1").to_pylist()[-1] == 2


@pytest.mark.parametrize(
    ("data", "fmt"),
    [(b"[1, 2, 3]", "json"), (b'{"a": 1}\n7\n', "ndjson"), (b'{"a":1}\n{"a":\n', "ndjson"), (b"a,b\n1,2\n", "json")],
)
def test_json_errors_speak_of_the_file_not_the_engine(env: Env, data: bytes, fmt: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        env.ingest("bad_json", data, WriteMode.CREATE, fmt)
    message = info.value.message
    assert info.value.reason == "MALFORMED_INPUT"
    for engine_word in ("Binder Error", "Invalid Input Error", "json_read", "ignore_errors", "Try ", "spool"):
        assert engine_word not in message, message
