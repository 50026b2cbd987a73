"""The ingest API's contract, run against IngestCore in-process and RemoteIngest over gRPC
(lakehouse.api.ingest): same domain types (read options, renames, progress), same errors."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pyarrow as pa
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import WriteMode
from lakehouse.api.ingest import IngestApi, IngestProgress, IngestResult, IngestSpec, ReadSpec, RemoteIngest
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import Settings
from tests.support.contract import IMPLEMENTATIONS, implementation

CSV = b"# exported 2026-12-01\nid;name;name\n1;ann;a\n2;bo;b\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    lh = build_server(Settings(home=tmp_path_factory.mktemp("ingest-contract") / "home"), "storage,catalog,ingest")
    yield lh
    lh.stop(0)


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest, server) -> Iterator[IngestApi]:
    yield from implementation(request.param, server.address, lambda: server.runtime.ingest, RemoteIngest)


@pytest.fixture
def dataset(request: pytest.FixtureRequest) -> str:
    """One dataset per test and implementation, so the two runs never meet."""
    return re.sub(r"[^a-z0-9]+", "_", request.node.name.lower().removeprefix("test_"))[:60].strip("_")


def test_an_ingest_reports_the_same_result_both_ways(api: IngestApi, dataset: str) -> None:
    seen: list[IngestProgress] = []
    result = api.ingest(IngestSpec(dataset, mode=WriteMode.CREATE), [CSV[:20], CSV[20:]], on_progress=seen.append)
    assert isinstance(result, IngestResult)
    assert (result.dataset, result.version, result.mode, result.rows) == (dataset, 1, WriteMode.CREATE, 2)
    assert result.schema == pa.schema([("id", pa.int64()), ("name", pa.string()), ("name_1", pa.string())])
    assert result.read is not None and (result.read.format, result.read.delimiter) == ("csv", ";")
    assert result.read.header is True and result.header == "detected" and result.skipped_lines == 1
    assert [(r.index, r.original, r.name) for r in result.renames] == [(2, "name", "name_1")]
    assert seen and all(isinstance(p, IngestProgress) for p in seen) and seen[-1].phase == "commit"

    again = api.ingest(IngestSpec(dataset), [CSV])
    assert again.deduplicated and again.version == 1 and again.source_hash == result.source_hash


def test_read_options_travel_and_compaction_answers_alike(api: IngestApi, dataset: str) -> None:
    spec = IngestSpec(dataset, mode=WriteMode.CREATE, read=ReadSpec(header="false", delimiter="|"))
    first = api.ingest(spec, [b"1|x\n2|y\n"])
    assert first.read is not None and first.read.header is False and first.header == "given"
    assert first.schema.names == ["column0", "column1"]
    upsert = IngestSpec(dataset, mode=WriteMode.UPSERT, primary_key=("column0",), read=ReadSpec(header="false"))
    api.ingest(upsert, [b"2,z\n"])
    compacted = api.compact(dataset)
    assert compacted.read is None and compacted.rows == 2 and compacted.version == 3


def test_a_cancelled_upload_commits_nothing(api: IngestApi, dataset: str, server) -> None:
    calls = itertools.count()
    chunks = (b"id,n\n" if i == 0 else b"1,2\n" for i in range(1000))
    with pytest.raises(errors.Cancelled):
        api.ingest(IngestSpec(dataset, mode=WriteMode.CREATE), chunks, cancelled=lambda: next(calls) > 3)
    with pytest.raises(errors.NotFound):
        server.runtime.catalog.get_dataset(dataset)


@pytest.mark.parametrize(
    ("spec", "chunks", "error", "reason"),
    [
        (IngestSpec("Bad Name"), [b"a\n1\n"], errors.InvalidArgument, "INVALID_DATASET_NAME"),
        (IngestSpec("fine", format="xml"), [b"<a/>"], errors.InvalidArgument, "INVALID_FIELD"),
        (IngestSpec("fine", read=ReadSpec(delimiter="ab")), [b"a\n1\n"], errors.InvalidArgument, "INVALID_FIELD"),
        (IngestSpec("nobody", mode=WriteMode.DELETE), [b"a\n1\n"], errors.NotFound, "DATASET_NOT_FOUND"),
        (IngestSpec("fine", mode=WriteMode.CREATE), [], errors.InvalidArgument, "EMPTY_INPUT"),
    ],
    ids=["bad-name", "bad-format", "bad-delimiter", "delete-missing", "empty"],
)
def test_errors_are_the_same_both_ways(api: IngestApi, spec, chunks, error, reason) -> None:
    with pytest.raises(errors.LakehouseError) as info:
        api.ingest(spec, chunks)
    assert type(info.value) is error and info.value.reason == reason, info.value


def test_field_violations_name_the_field_both_ways(api: IngestApi) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        api.ingest(IngestSpec("fine", read=ReadSpec(delimiter="ab")), [b"a\n1\n"])
    assert [v.field for v in info.value.violations] == ["delimiter"]
