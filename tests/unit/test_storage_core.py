"""StorageCore: built-in lake and rescue buckets, a persisted registry, secrets kept private."""

from __future__ import annotations

import json
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.api import errors
from lakehouse.servers.settings import Settings, StorageSettings
from lakehouse.servers.storage.core import RESCUE_BUCKET, StorageCore
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.storage.policy import MANAGED_PREFIXES, endpoint_keys
from lakehouse.servers.storage.s3 import S3ObjectStore


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def s3_allowed(tmp_path: Path) -> Settings:
    """A local lake that may register S3 buckets on 127.0.0.1:1 (nothing listens there)."""
    return Settings(home=tmp_path / "home", storage=StorageSettings(s3_bucket_endpoints=["127.0.0.1:1"]))


def test_builtin_buckets(settings: Settings) -> None:
    core = StorageCore(settings)
    assert [b.name for b in core.list_buckets()] == ["lake", "rescue"]
    # Callers see locations relative to LAKEHOUSE_HOME, never server paths.
    assert core.get_bucket("lake").location == "local:lake"
    assert core.get_bucket(RESCUE_BUCKET).location == "local:rescue"
    assert all(str(settings.home_dir) not in b.location for b in core.list_buckets())
    core.lake().put("k", [b"v"])
    assert (settings.lake_root / "k").read_bytes() == b"v"
    assert isinstance(core.store("rescue"), LocalObjectStore)


def test_s3_lake_from_settings_is_lazy(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        storage=StorageSettings(backend="s3", s3_endpoint="127.0.0.1:1", s3_bucket="lake-bucket", lake_bucket="data"),
    )
    core = StorageCore(settings)  # no network at construction
    lake = core.lake()
    assert isinstance(lake, S3ObjectStore)
    assert core.get_bucket("data").location == "s3://127.0.0.1:1/lake-bucket"


def test_register_persist_reload_and_delete(settings: Settings) -> None:
    core = StorageCore(settings)
    where = settings.local_bucket_roots[0] / "archive"
    info = core.register_bucket("archive", "local", root=str(where))
    assert (info.name, info.backend, info.location) == ("archive", "local", "local:buckets/archive")
    core.store("archive").put("x", [b"1"])
    assert (where / "x").read_bytes() == b"1"

    again = StorageCore(settings)
    assert [b.name for b in again.list_buckets()] == ["archive", "lake", "rescue"]
    assert again.get_bucket("archive") == info
    again.delete_bucket("archive")
    with pytest.raises(errors.NotFound) as caught:
        again.get_bucket("archive")
    assert caught.value.reason == "BUCKET_NOT_FOUND"
    assert [b.name for b in StorageCore(settings).list_buckets()] == ["lake", "rescue"]
    assert (where / "x").exists()  # forgetting a bucket keeps its data


def test_relative_local_root_is_under_home(settings: Settings) -> None:
    info = StorageCore(settings).register_bucket("rel", "local", root="buckets/rel")
    assert info.location == "local:buckets/rel"


def test_s3_secret_is_stored_0600_and_never_returned(s3_allowed: Settings) -> None:
    settings = s3_allowed
    core = StorageCore(settings)
    info = core.register_bucket(
        "remote",
        "s3",
        endpoint="127.0.0.1:1",
        bucket="remote-bucket",
        access_key="AK",
        secret_key="TOP-SECRET",
        verify=False,
    )
    assert "TOP-SECRET" not in repr(info) and "TOP-SECRET" not in repr(core.list_buckets())
    registry = settings.home_dir / "buckets.json"
    assert stat.S_IMODE(registry.stat().st_mode) == 0o600
    saved = json.loads(registry.read_text())
    assert saved["buckets"][0]["secret_key"] == "TOP-SECRET"
    assert info.location == "s3://127.0.0.1:1/remote-bucket"


def test_register_verifies_the_backend_first(s3_allowed: Settings) -> None:
    settings = s3_allowed
    core = StorageCore(settings)
    with pytest.raises(errors.Unavailable):
        core.register_bucket(
            "remote", "s3", endpoint="127.0.0.1:1", bucket="remote-bucket", access_key="a", secret_key="b"
        )
    assert [b.name for b in core.list_buckets()] == ["lake", "rescue"]
    assert not (settings.home_dir / "buckets.json").exists()


@pytest.mark.parametrize("name", ["", "a", "A-bucket", "1abc", "has_underscore", "x" * 64, "dots.no"])
def test_bad_bucket_names(settings: Settings, tmp_path: Path, name: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        StorageCore(settings).register_bucket(name, "local", root=str(tmp_path / "b"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"backend": "ftp", "root": "/tmp/x"},
        {"backend": "local"},
        {"backend": "local", "root": "/tmp/x", "endpoint": "h:1"},
        {"backend": "s3", "bucket": "abc"},
        {"backend": "s3", "endpoint": "h:1"},
        {"backend": "s3", "endpoint": "h:1", "bucket": "Bad_Bucket"},
        {"backend": "s3", "endpoint": "ftp://h:1", "bucket": "abc"},
        {"backend": "s3", "endpoint": "h:1", "bucket": "abc", "access_key": "only-half"},
    ],
)
def test_bad_registrations(settings: Settings, kwargs: dict[str, str]) -> None:
    with pytest.raises(errors.InvalidArgument):
        StorageCore(settings).register_bucket("good-name", verify=False, **kwargs)  # type: ignore[arg-type]


def test_names_are_unique_and_builtins_protected(settings: Settings) -> None:
    core = StorageCore(settings)
    core.register_bucket("dup", "local", root="buckets/d")
    for name in ("dup", "lake", "rescue"):
        with pytest.raises(errors.AlreadyExists):
            core.register_bucket(name, "local", root="buckets/other")
    for name in ("lake", "rescue"):
        with pytest.raises(errors.FailedPrecondition) as caught:
            core.delete_bucket(name)
        assert caught.value.reason == "BUCKET_PROTECTED"
    with pytest.raises(errors.NotFound):
        core.delete_bucket("never-registered")
    with pytest.raises(errors.NotFound):
        core.store("never-registered")


def test_damaged_registry_stops_startup(settings: Settings) -> None:
    settings.home_dir.mkdir(parents=True)
    (settings.home_dir / "buckets.json").write_text("{broken")
    with pytest.raises(errors.FailedPrecondition) as caught:
        StorageCore(settings)
    assert caught.value.reason == "BUCKET_REGISTRY_CORRUPT"


def test_journal_writes_to_lake_and_rescues_locally(settings: Settings) -> None:
    core = StorageCore(settings)
    record_id = core.journal.record("op", RuntimeError("boom"), {"k": "v"})
    assert [i.key.endswith(f"{record_id}.json") for i in core.lake().list("_errors/")[0]] == [True]
    settings.lake_root.rename(settings.lake_root.with_name("moved"))
    settings.lake_root.write_text("a file where the lake directory was")  # the lake is now unusable
    rescued = core.journal.record("op", RuntimeError("again"), {})
    assert [i.key.endswith(f"{rescued}.json") for i in core.store("rescue").list("_errors/")[0]] == [True]


# Bucket policy (issue: no caller may reach outside the lake) ------------------


def _denied(caught: pytest.ExceptionInfo[errors.PermissionDenied], reason: str, setting: str) -> None:
    assert caught.value.reason == reason
    assert caught.value.metadata["setting"] == setting
    assert setting in caught.value.message


@pytest.mark.parametrize(
    "where",
    ["/etc", "/", "buckets/../../outside", "buckets/../lake/sub", "buckets", "lake", "", "/tmp"],
)
def test_local_bucket_outside_the_allowed_roots_is_denied(settings: Settings, where: str) -> None:
    core = StorageCore(settings)
    if where == "":
        where = str(settings.home_dir)
    with pytest.raises(errors.PermissionDenied) as caught:
        core.register_bucket("etcb", "local", root=where)
    _denied(caught, "BUCKET_LOCATION_NOT_ALLOWED", "LAKEHOUSE_STORAGE__LOCAL_BUCKET_ROOTS")
    assert str(settings.home_dir) not in caught.value.message  # no server path in the answer
    assert [b.name for b in core.list_buckets()] == ["lake", "rescue"]
    assert not (settings.home_dir / "buckets.json").exists()


def test_symlink_out_of_the_root_is_denied_and_inside_is_fine(settings: Settings, tmp_path: Path) -> None:
    root = settings.local_bucket_roots[0]
    root.mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "escape").symlink_to(tmp_path / "outside")
    (root / "real").mkdir()
    (root / "alias").symlink_to(root / "real")
    core = StorageCore(settings)
    for where in (str(root / "escape"), "buckets/escape", str(root / "escape" / "deeper")):
        with pytest.raises(errors.PermissionDenied) as caught:
            core.register_bucket("esc", "local", root=where)
        _denied(caught, "BUCKET_LOCATION_NOT_ALLOWED", "LAKEHOUSE_STORAGE__LOCAL_BUCKET_ROOTS")
    info = core.register_bucket("alias", "local", root=str(root / "alias"))
    assert info.location == "local:buckets/real"  # stored resolved, shown relative to LAKEHOUSE_HOME


def test_root_itself_and_lakehouse_directories_are_never_buckets(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home, storage=StorageSettings(local_bucket_roots=[tmp_path]))
    core = StorageCore(settings)
    for where in (tmp_path, home, home / "lake", home / "lake" / "sub", home / "rescue", home / "spool", home / "run"):
        with pytest.raises(errors.PermissionDenied) as caught:
            core.register_bucket("clash", "local", root=str(where))
        assert caught.value.reason == "BUCKET_LOCATION_NOT_ALLOWED", where
    assert core.register_bucket("mine", "local", root=str(home / "mine")).location == "local:mine"
    there = core.register_bucket("there", "local", root=str(tmp_path / "there"))
    assert there.location == "local:there"  # outside LAKEHOUSE_HOME: named by the bucket, not its path


def test_no_local_roots_means_no_local_buckets(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", storage=StorageSettings(local_bucket_roots=[]))
    with pytest.raises(errors.PermissionDenied):
        StorageCore(settings).register_bucket("any", "local", root="buckets/any")


def test_local_path_with_nul_is_invalid(settings: Settings) -> None:
    with pytest.raises(errors.InvalidArgument):
        StorageCore(settings).register_bucket("nul", "local", root="buckets/a\x00b")


def test_registry_entries_the_policy_forbids_are_not_served(settings: Settings, tmp_path: Path) -> None:
    """A buckets.json written before the policy (or under wider settings) is refused on open."""
    settings.home_dir.mkdir(parents=True)
    entries = [
        {"name": "etcb", "backend": "local", "root": "/etc"},
        {"name": "wide", "backend": "local", "root": str(tmp_path / "wide")},
        {"name": "ssrf", "backend": "s3", "endpoint": "127.0.0.1:22", "bucket": "xyz", "region": "us-east-1"},
    ]
    (settings.home_dir / "buckets.json").write_text(json.dumps({"version": 1, "buckets": entries}))
    core = StorageCore(settings)
    for name, reason in (
        ("etcb", "BUCKET_LOCATION_NOT_ALLOWED"),
        ("wide", "BUCKET_LOCATION_NOT_ALLOWED"),
        ("ssrf", "S3_ENDPOINT_NOT_ALLOWED"),
    ):
        for call in (core.store, core.get_bucket):
            with pytest.raises(errors.PermissionDenied) as caught:
                call(name)
            assert caught.value.reason == reason
    assert [b.name for b in core.list_buckets()] == ["etcb", "lake", "rescue", "ssrf", "wide"]
    core.delete_bucket("etcb")  # an administrator can still remove them
    assert "etcb" not in [b.name for b in core.list_buckets()]


def test_a_symlink_swapped_in_after_registration_is_not_served(settings: Settings, tmp_path: Path) -> None:
    core = StorageCore(settings)
    where = settings.local_bucket_roots[0] / "swap"
    core.register_bucket("swap", "local", root=str(where))
    if where.exists():
        where.rmdir()
    (tmp_path / "target").mkdir()
    where.symlink_to(tmp_path / "target")
    with pytest.raises(errors.PermissionDenied) as caught:
        StorageCore(settings).store("swap")
    assert caught.value.reason == "BUCKET_LOCATION_NOT_ALLOWED"


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    return sock


def test_s3_endpoint_off_the_allow_list_is_denied_without_connecting(settings: Settings) -> None:
    core = StorageCore(settings)  # local lake: no S3 endpoint is allowed by default
    with _listener() as listening:
        open_port = listening.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        answers = []
        for port in (open_port, closed_port):
            with pytest.raises(errors.PermissionDenied) as caught:
                core.register_bucket(
                    "scan", "s3", endpoint=f"127.0.0.1:{port}", bucket="abc", access_key="a", secret_key="b"
                )
            _denied(caught, "S3_ENDPOINT_NOT_ALLOWED", "LAKEHOUSE_STORAGE__S3_BUCKET_ENDPOINTS")
            answers.append((caught.value.code, caught.value.reason, caught.value.message))
        with pytest.raises(BlockingIOError):
            listening.accept()  # nobody connected
    assert answers[0] == answers[1]  # the answer does not depend on reachability
    assert [b.name for b in core.list_buckets()] == ["lake", "rescue"]


def test_s3_lake_allows_its_own_endpoint_but_not_its_own_bucket(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        storage=StorageSettings(backend="s3", s3_endpoint="127.0.0.1:1", s3_bucket="lake-bucket"),
    )
    core = StorageCore(settings)
    info = core.register_bucket("other", "s3", endpoint="http://127.0.0.1:1", bucket="other-bucket", verify=False)
    assert info.location == "s3://127.0.0.1:1/other-bucket"
    with pytest.raises(errors.PermissionDenied) as caught:
        core.register_bucket("alias", "s3", endpoint="127.0.0.1:1", bucket="lake-bucket", verify=False)
    assert caught.value.reason == "BUCKET_LOCATION_NOT_ALLOWED"
    for endpoint in ("127.0.0.1:2", "localhost:1", "127.0.0.1"):
        with pytest.raises(errors.PermissionDenied) as caught:
            core.register_bucket("far", "s3", endpoint=endpoint, bucket="abc", verify=False)
        assert caught.value.reason == "S3_ENDPOINT_NOT_ALLOWED", endpoint


def test_bucket_registration_can_be_switched_off(settings: Settings) -> None:
    StorageCore(settings).register_bucket("kept", "local", root="buckets/kept")
    closed = settings.model_copy(update={"storage": StorageSettings(allow_bucket_registration=False)})
    core = StorageCore(closed)
    for call in (lambda: core.register_bucket("new", "local", root="buckets/new"), lambda: core.delete_bucket("kept")):
        with pytest.raises(errors.PermissionDenied) as caught:
            call()
        _denied(caught, "BUCKET_REGISTRATION_DISABLED", "LAKEHOUSE_STORAGE__ALLOW_BUCKET_REGISTRATION")
    assert core.get_bucket("kept").name == "kept"  # using registered buckets is not an admin operation


# Managed prefixes are read-only through the object API -----------------------


def _never_read() -> Iterator[bytes]:
    raise AssertionError("the upload was read although it is refused")
    yield b""  # pragma: no cover


@pytest.mark.parametrize("key", [f"{p}/x/part.parquet" for p in MANAGED_PREFIXES] + ["datasets", "_errors"])
def test_managed_prefixes_of_builtin_buckets_are_read_only(settings: Settings, key: str) -> None:
    core = StorageCore(settings)
    core.lake().put(key, [b"committed"])  # engines write through the store directly
    for bucket in ("lake", "rescue"):
        with pytest.raises(errors.PermissionDenied) as caught:
            core.put_object(bucket, key, _never_read())
        assert caught.value.reason == "MANAGED_PREFIX_READ_ONLY"
        assert caught.value.metadata["key"] == key
        with pytest.raises(errors.PermissionDenied):
            core.delete_object(bucket, key)
    assert b"".join(core.lake().get(key)) == b"committed"


def test_other_keys_and_other_buckets_stay_writable(settings: Settings) -> None:
    core = StorageCore(settings)
    for key in ("scratch/x", "datasetsx/y", "my/datasets/z", "_errorsx"):
        core.put_object("lake", key, [b"1"])
        core.delete_object("lake", key)
    core.register_bucket("mine", "local", root="buckets/mine")
    core.put_object("mine", "datasets/d/v1/part.parquet", [b"mine"])
    core.delete_object("mine", "datasets/d/v1/part.parquet")
    with pytest.raises(errors.InvalidArgument):
        core.put_object("lake", "datasets/../x", [b"1"])  # bad keys stay 400, not 403


def test_long_key_segment_is_invalid_not_unavailable(settings: Settings) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        StorageCore(settings).put_object("lake", "scratch/" + "x" * 300, [b"1"])
    assert "255" in caught.value.message


@pytest.mark.parametrize(
    ("endpoint", "secure", "keys"),
    [
        ("127.0.0.1:9000", False, {"127.0.0.1:9000"}),
        ("http://LocalHost:9000", None, {"localhost:9000"}),
        ("https://s3.example.com", None, {"s3.example.com:443"}),
        ("s3.example.com", True, {"s3.example.com:443"}),
        ("s3.example.com", None, {"s3.example.com:80", "s3.example.com:443"}),  # an allow-list entry
        ("[::1]:9000", False, {"[::1]:9000"}),
    ],
)
def test_endpoints_compare_as_host_and_port(endpoint: str, secure: bool | None, keys: set[str]) -> None:
    assert endpoint_keys(endpoint, secure) == keys


@pytest.mark.parametrize("endpoint", ["evil@127.0.0.1:9000", "h:", "h:99999", "http://h:1/path", ":80", "h:0090"])
def test_odd_endpoints_are_invalid_not_allowed_by_accident(endpoint: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        endpoint_keys(endpoint, False)
