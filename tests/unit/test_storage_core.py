"""StorageCore: built-in lake and rescue buckets, a persisted registry, secrets kept private."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from lakehouse.servers import errors
from lakehouse.servers.settings import Settings, StorageSettings
from lakehouse.servers.storage.core import RESCUE_BUCKET, StorageCore
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.storage.s3 import S3ObjectStore


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def test_builtin_buckets(settings: Settings) -> None:
    core = StorageCore(settings)
    assert [b.name for b in core.list_buckets()] == ["lake", "rescue"]
    assert core.get_bucket("lake").location == str(settings.lake_root)
    assert core.get_bucket(RESCUE_BUCKET).location == str(settings.rescue_root)
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


def test_register_persist_reload_and_delete(settings: Settings, tmp_path: Path) -> None:
    core = StorageCore(settings)
    info = core.register_bucket("archive", "local", root=str(tmp_path / "archive"))
    assert (info.name, info.backend, info.location) == ("archive", "local", str(tmp_path / "archive"))
    core.store("archive").put("x", [b"1"])
    assert (tmp_path / "archive" / "x").read_bytes() == b"1"

    again = StorageCore(settings)
    assert [b.name for b in again.list_buckets()] == ["archive", "lake", "rescue"]
    assert again.get_bucket("archive") == info
    again.delete_bucket("archive")
    with pytest.raises(errors.NotFound) as caught:
        again.get_bucket("archive")
    assert caught.value.reason == "BUCKET_NOT_FOUND"
    assert [b.name for b in StorageCore(settings).list_buckets()] == ["lake", "rescue"]
    assert (tmp_path / "archive" / "x").exists()  # forgetting a bucket keeps its data


def test_relative_local_root_is_under_home(settings: Settings) -> None:
    info = StorageCore(settings).register_bucket("rel", "local", root="buckets/rel")
    assert info.location == str(settings.home_dir / "buckets" / "rel")


def test_s3_secret_is_stored_0600_and_never_returned(settings: Settings) -> None:
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


def test_register_verifies_the_backend_first(settings: Settings) -> None:
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


def test_names_are_unique_and_builtins_protected(settings: Settings, tmp_path: Path) -> None:
    core = StorageCore(settings)
    core.register_bucket("dup", "local", root=str(tmp_path / "d"))
    for name in ("dup", "lake", "rescue"):
        with pytest.raises(errors.AlreadyExists):
            core.register_bucket(name, "local", root=str(tmp_path / "other"))
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
