"""The sources API's contract, run against SourcesCore in-process and RemoteSources over
gRPC (lakehouse.api.sources): same domain types, same errors. Needs no PostgreSQL: pulls
here fail before or at connecting. Also the registry's files: modes, no password in the
registry, a damaged file refused without quoting it."""

from __future__ import annotations

import json
import socket
import stat
from collections.abc import Iterator

import pytest

from lakehouse.api import errors
from lakehouse.api.sources import PullSpec, RemoteSources, Source, SourcesApi, SourceSpec
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import Settings
from tests.support.contract import IMPLEMENTATIONS, implementation

PASSWORD = "hunter2-s3cret"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    settings = Settings(home=tmp_path_factory.mktemp("sources-contract") / "home", sources={"connect_timeout_s": 2})
    lh = build_server(settings, "storage,catalog,ingest")
    yield lh
    lh.stop(0)


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest, server) -> Iterator[SourcesApi]:
    yield from implementation(request.param, server.address, lambda: server.runtime.sources, RemoteSources)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_register_list_get_replace_delete(api: SourcesApi, request: pytest.FixtureRequest) -> None:
    name = f"crud_{request.node.callspec.id}"
    spec = SourceSpec(name, "db.example.com", "hr", "reader", port=6543, password=PASSWORD)
    created = api.create_source(spec)
    assert isinstance(created, Source) and created.has_password and created.port == 6543
    assert PASSWORD not in repr(spec) and PASSWORD not in repr(created)
    with pytest.raises(errors.AlreadyExists) as info:
        api.create_source(spec)
    assert info.value.reason == "SOURCE_EXISTS"
    replaced = api.create_source(SourceSpec(name, "10.0.0.5", "hr", "reader"), replace=True)
    assert (replaced.host, replaced.has_password, replaced.created_at) == ("10.0.0.5", False, created.created_at)
    assert api.get_source(name) == replaced
    listed, token = api.list_sources()
    assert name in [s.name for s in listed] and token == ""
    api.delete_source(name)
    with pytest.raises(errors.NotFound) as info:
        api.get_source(name)
    assert info.value.reason == "SOURCE_NOT_FOUND"


def test_listing_pages(api: SourcesApi, request: pytest.FixtureRequest) -> None:
    prefix = f"page_{request.node.callspec.id}_"
    for i in range(3):
        api.create_source(SourceSpec(f"{prefix}{i}", "h", "d", "u"), replace=True)
    seen, token = [], ""
    while True:
        page, token = api.list_sources(page_size=1, page_token=token)
        seen += [s.name for s in page]
        if not token:
            break
    assert [n for n in seen if n.startswith(prefix)] == [f"{prefix}{i}" for i in range(3)]
    with pytest.raises(errors.InvalidArgument):
        api.list_sources(page_token="%%%")


@pytest.mark.parametrize(
    ("call", "error", "reason", "field"),
    [
        (
            lambda a: a.create_source(SourceSpec("Bad-Name", "h", "d", "u")),
            errors.InvalidArgument,
            "INVALID_SOURCE_NAME",
            "name",
        ),
        (
            lambda a: a.create_source(SourceSpec("ok", "/var/run", "d", "u")),
            errors.InvalidArgument,
            "INVALID_FIELD",
            "host",
        ),
        (
            lambda a: a.create_source(SourceSpec("ok", "h?x=1", "d", "u")),
            errors.InvalidArgument,
            "INVALID_FIELD",
            "host",
        ),
        (
            lambda a: a.create_source(SourceSpec("ok", "h", "d", "u", port=70000)),
            errors.InvalidArgument,
            "INVALID_FIELD",
            "port",
        ),
        (
            lambda a: a.create_source(SourceSpec("ok", "h", "", "u")),
            errors.InvalidArgument,
            "INVALID_FIELD",
            "database",
        ),
        (lambda a: a.get_source("missing"), errors.NotFound, "SOURCE_NOT_FOUND", None),
        (lambda a: a.delete_source("missing"), errors.NotFound, "SOURCE_NOT_FOUND", None),
        (lambda a: a.pull(PullSpec("d", "missing", table="t")), errors.NotFound, "SOURCE_NOT_FOUND", None),
        (lambda a: a.pull(PullSpec("Bad", "s", table="t")), errors.InvalidArgument, "INVALID_DATASET_NAME", "dataset"),
        (lambda a: a.pull(PullSpec("d", "s")), errors.InvalidArgument, "INVALID_FIELD", "table"),
        (
            lambda a: a.pull(PullSpec("d", "s", table="t", query="SELECT 1")),
            errors.InvalidArgument,
            "INVALID_FIELD",
            "table",
        ),
        (
            lambda a: a.pull(PullSpec("d", "s", table="t", mode="delete")),
            errors.InvalidArgument,
            "INVALID_FIELD",
            "mode",
        ),
        (
            lambda a: a.pull(PullSpec("d", "s", table="t", mode="upsert")),
            errors.InvalidArgument,
            "PRIMARY_KEY_REQUIRED",
            "key",
        ),
        (
            lambda a: a.pull(PullSpec("d", "s", table="t", mode="replace", incremental_column="id")),
            errors.InvalidArgument,
            "INVALID_FIELD",
            "mode",
        ),
        (
            lambda a: a.pull(PullSpec("d", "s", query="DELETE FROM t")),
            errors.InvalidArgument,
            "QUERY_NOT_READ_ONLY",
            "query",
        ),
        (lambda a: a.pull(PullSpec("d", "s", table="a.b.c")), errors.InvalidArgument, "INVALID_TABLE_NAME", "table"),
    ],
    ids=[
        "bad-name",
        "socket-host",
        "uri-host",
        "port",
        "no-database",
        "get-missing",
        "delete-missing",
        "pull-missing-source",
        "pull-bad-dataset",
        "pull-nothing",
        "pull-both",
        "pull-mode",
        "upsert-no-key",
        "incremental-replace",
        "not-read-only",
        "three-part-name",
    ],
)
def test_errors_are_the_same_both_ways(api: SourcesApi, call, error, reason, field) -> None:
    with pytest.raises(errors.LakehouseError) as info:
        call(api)
    assert type(info.value) is error and info.value.reason == reason, info.value
    if field:
        assert [v.field for v in info.value.violations] == [field]


def test_an_unreachable_source_is_unavailable_both_ways(api: SourcesApi, request: pytest.FixtureRequest) -> None:
    name = f"closed_{request.node.callspec.id}"
    api.create_source(SourceSpec(name, "127.0.0.1", "d", "u", port=_closed_port(), password=PASSWORD), replace=True)
    with pytest.raises(errors.Unavailable) as info:
        api.pull(PullSpec("closed_pull", name, table="t"))
    assert info.value.reason == "SOURCE_UNREACHABLE" and PASSWORD not in info.value.message
    with pytest.raises(errors.Unavailable):
        api.create_source(
            SourceSpec(f"{name}_checked", "127.0.0.1", "d", "u", port=_closed_port()), check_connection=True
        )
    with pytest.raises(errors.NotFound):
        api.get_source(f"{name}_checked")  # a failed check registers nothing


def test_registry_files_keep_the_password_apart_and_private(server) -> None:
    core = server.runtime.sources
    core.create_source(SourceSpec("files", "h", "d", "u", password=PASSWORD), replace=True)
    directory = server.runtime.settings.home_dir / "sources"
    registry, secrets = directory / "registry.json", directory / "secrets.json"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert PASSWORD not in registry.read_text()
    assert json.loads(secrets.read_text())["passwords"]["files"] == PASSWORD
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]
    core.delete_source("files")
    assert "files" not in json.loads(secrets.read_text())["passwords"]


def test_a_damaged_secrets_file_is_refused_without_quoting_it(tmp_path) -> None:
    from lakehouse.servers.sources.secrets import SourceRegistry

    registry = SourceRegistry(tmp_path / "s", "registry.json", "secrets.json")
    registry.put(SourceSpec("a", "h", "d", "u", password=PASSWORD), replace=False)
    (tmp_path / "s" / "secrets.json").write_text('{"passwords": {"a": "' + PASSWORD)  # truncated
    with pytest.raises(errors.FailedPrecondition) as info:
        registry.password("a")
    assert info.value.reason == "SOURCE_REGISTRY_CORRUPT" and PASSWORD not in str(info.value)


def test_health_lists_both_services_of_a_remote_ingest(server, tmp_path) -> None:
    """A component with two services (ingest: IngestService and SourceService) is asked for
    each of them at its upstream, once."""
    from lakehouse.api.channel import open_channel
    from lakehouse.api.system import RemoteSystem

    front = build_server(Settings(home=tmp_path / "front", upstreams={"ingest": server.address}), "query")
    try:
        channel = open_channel(front.address)
        try:
            services = RemoteSystem(channel).health().services
        finally:
            channel.close()
    finally:
        front.stop(0)
    remote = [(s.service, s.status) for s in services if s.address == server.address]
    assert remote == [("lakehouse.v1.IngestService", "SERVING"), ("lakehouse.v1.SourceService", "SERVING")]
