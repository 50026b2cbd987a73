"""The catalog API's contract, run against CatalogCore in-process and RemoteCatalog over gRPC
(lakehouse.api.catalog): same domain types, same errors."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import CatalogApi, Dataset, DatasetVersion, NewVersion, RemoteCatalog, WriteMode
from lakehouse.servers.app import build_server
from lakehouse.servers.ingest.model import IngestSpec
from lakehouse.servers.settings import Settings
from tests.support.contract import IMPLEMENTATIONS, implementation


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    lh = build_server(Settings(home=tmp_path_factory.mktemp("catalog-contract") / "home"), "storage,catalog,ingest")
    lh.runtime.ingest.ingest(IngestSpec("people", mode=WriteMode.CREATE), [b"id,name\n1,ann\n2,bo\n"])
    yield lh
    lh.stop(0)


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest, server) -> Iterator[CatalogApi]:
    yield from implementation(request.param, server.address, lambda: server.runtime.catalog, RemoteCatalog)


def test_reads_return_the_same_domain_types(api: CatalogApi, server) -> None:
    dataset = api.get_dataset("people")
    assert isinstance(dataset, Dataset) and dataset.current.version == 1
    assert dataset.current.schema == pa.schema([("id", pa.int64()), ("name", pa.string())])
    version = api.get_version("people", 1)
    assert isinstance(version, DatasetVersion) and version.files == dataset.current.files
    assert api.find_by_source_hash("people", version.source_hash) == version
    assert api.find_by_source_hash("people", "sha256:" + "0" * 64) is None
    datasets, token = api.list_datasets()
    assert [d.name for d in datasets] == ["people"] and token == ""
    assert api.generation() == server.runtime.catalog.generation()


@pytest.mark.parametrize(
    ("call", "error", "reason"),
    [
        (lambda a: a.get_dataset("nobody"), errors.NotFound, "DATASET_NOT_FOUND"),
        (lambda a: a.get_version("people", 99), errors.NotFound, "VERSION_NOT_FOUND"),
        (lambda a: a.get_dataset("Bad Name"), errors.InvalidArgument, "INVALID_DATASET_NAME"),
        (
            lambda a: a.commit_version(
                NewVersion(
                    dataset="people",
                    expected_version=0,
                    files=(),
                    deltas=(),
                    schema=pa.schema([]),
                    mode=WriteMode.CREATE,
                )
            ),
            errors.AlreadyExists,
            "DATASET_EXISTS",
        ),
    ],
    ids=["missing", "missing-version", "bad-name", "create-existing"],
)
def test_errors_are_the_same_both_ways(api: CatalogApi, call, error, reason) -> None:
    with pytest.raises(errors.LakehouseError) as info:
        call(api)
    assert type(info.value) is error and info.value.reason == reason, info.value
