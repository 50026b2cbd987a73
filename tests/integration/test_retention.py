"""Retention end to end: after a delete, compaction and a vacuum, the deleted row exists in
no file on the lake; SELECT and the version list still tell the truth. Over gRPC, REST
and the CLI, with bad requests answered cleanly on both interfaces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.api.errors import InvalidArgument, NotFound
from tests.support.seaweed import SeaweedS3
from tests.support.system import System

SECRET = "ssn-078-05-1120"  # the value that must disappear
PEOPLE = f"id,name,note\n1,ann,keep\n2,bo,{SECRET}\n3,cy,keep too\n".encode()
CLI_TIMEOUT_S = 120


def _reason(body: dict) -> str:
    return next(d["reason"] for d in body["details"] if d["@type"].endswith("ErrorInfo"))


def _lake_files(system, dataset: str) -> set[str]:
    lake = system.settings.lake_root
    root = lake / "datasets" / dataset
    return {p.relative_to(lake).as_posix() for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _values_on_lake(system, dataset: str) -> set:
    """Every value of every column in every Parquet file under the dataset's prefix."""
    values: set = set()
    for key in _lake_files(system, dataset):
        table = pq.read_table(system.settings.lake_root / key)
        for column in table.columns:
            values.update(column.to_pylist())
    return values


def _named(client, dataset: str) -> set[str]:
    current = client.get_dataset(dataset).current
    return {f.path for f in (*current.files, *current.deltas)}


def _versions(client, dataset: str) -> list[int]:
    return [v.version for v in client.list_versions(dataset)]


def test_deleted_row_leaves_the_lake_after_compact_and_vacuum(system, client):
    d = "ret_compacted"
    client.ingest(d, PEOPLE, format="csv", mode="create", primary_key=["id"])
    client.ingest(d, b"id\n2\n", format="csv", mode="delete")
    assert SECRET in _values_on_lake(system, d)  # merged away on read, still on the lake

    compacted = client.compact_dataset(d)
    assert compacted.version == 3 and compacted.rows == 2 and not compacted.deduplicated
    assert SECRET in _values_on_lake(system, d)  # older versions still name the old files

    resp = client.vacuum_datasets(d, retain_versions=0, retain_duration_s=0)
    assert [(r.dataset, list(r.expired_versions)) for r in resp.datasets] == [(d, [1, 2])]
    assert resp.datasets[0].files_deleted == 2 and resp.datasets[0].bytes_deleted > 0
    assert SECRET not in _values_on_lake(system, d)
    assert _lake_files(system, d) == _named(client, d)
    assert client.sql(f"SELECT id, name, note FROM {d} ORDER BY id").rows == [[1, "ann", "keep"], [3, "cy", "keep too"]]
    assert _versions(client, d) == [3]
    assert client.get_dataset(d).current.deltas == []
    # The dataset goes on as usual afterwards.
    client.ingest(d, b"id,name,note\n4,dee,new\n", format="csv", mode="upsert")
    assert client.sql(f"SELECT count(*) FROM {d}").rows == [[3]]


def test_delete_then_replace_then_vacuum_removes_the_old_files(system, client):
    d = "ret_replaced"
    client.ingest(d, PEOPLE, format="csv", mode="create", primary_key=["id"])
    client.ingest(d, b"id\n2\n", format="csv", mode="delete")
    client.ingest(d, b"id,name,note\n7,gus,fresh\n", format="csv", mode="replace")
    old = _lake_files(system, d) - _named(client, d)
    assert old and SECRET in _values_on_lake(system, d)
    r = httpx.post(
        f"{system.rest}/v1/datasets:vacuum",
        json={"dataset": d, "retain_versions": 0, "retain_duration": "0s"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    (report,) = r.json()["datasets"]
    assert report["expired_versions"] == ["1", "2"] and report["files_deleted"] == str(len(old))
    assert not old & _lake_files(system, d)
    assert _lake_files(system, d) == _named(client, d)
    assert SECRET not in _values_on_lake(system, d)
    assert client.sql(f"SELECT id FROM {d}").rows == [[7]]


def test_dry_run_removes_nothing(system, client):
    d = "ret_dry"
    client.ingest(d, PEOPLE, format="csv", mode="create", primary_key=["id"])
    client.ingest(d, b"id\n2\n", format="csv", mode="delete")
    client.compact_dataset(d)
    before = _lake_files(system, d)
    resp = client.vacuum_datasets(d, retain_versions=0, retain_duration_s=0, dry_run=True)
    assert resp.dry_run and list(resp.datasets[0].expired_versions) == [1, 2]
    assert resp.datasets[0].files_deleted == 2
    assert _lake_files(system, d) == before and _versions(client, d) == [3, 2, 1]
    r = httpx.post(
        f"{system.rest}/v1/datasets:vacuum",
        json={"dataset": d, "retain_versions": 0, "retain_duration": "0s", "dry_run": True},
        timeout=60,
    )
    assert r.status_code == 200 and r.json()["dry_run"] is True
    assert _lake_files(system, d) == before and _versions(client, d) == [3, 2, 1]


def test_retention_settings_apply_when_the_request_is_silent(system, client):
    """The default keeps what stopped being current in the last week."""
    d = "ret_defaults"
    client.ingest(d, PEOPLE, format="csv", mode="create")
    client.ingest(d, b"id,name,note\n9,zoe,x\n", format="csv", mode="replace")
    before = _lake_files(system, d)
    (report,) = client.vacuum_datasets(d).datasets
    assert list(report.expired_versions) == [] and _lake_files(system, d) == before
    (report,) = client.vacuum_datasets(d, retain_versions=0).datasets
    assert list(report.expired_versions) == []


def test_unknown_and_bad_requests_over_grpc_and_rest(system, client):
    with pytest.raises(NotFound) as exc:
        client.vacuum_datasets("ret_never_was")
    assert exc.value.reason == "DATASET_NOT_FOUND"
    with pytest.raises(NotFound):
        client.compact_dataset("ret_never_was")
    with pytest.raises(InvalidArgument):
        client.vacuum_datasets("Not-A-Name")
    with pytest.raises(InvalidArgument) as exc:
        client.vacuum_datasets("", retain_versions=-1)
    assert exc.value.reason == "INVALID_RETENTION"

    rest = system.rest
    r = httpx.post(f"{rest}/v1/datasets:vacuum", json={"dataset": "ret_never_was"}, timeout=60)
    assert r.status_code == 404 and _reason(r.json()) == "DATASET_NOT_FOUND"
    r = httpx.post(f"{rest}/v1/datasets/ret_never_was:compact", json={}, timeout=60)
    assert r.status_code == 404 and _reason(r.json()) == "DATASET_NOT_FOUND"
    r = httpx.post(f"{rest}/v1/datasets:vacuum", json={"dataset": "ret_x", "retain_versions": -3}, timeout=60)
    assert r.status_code == 400 and _reason(r.json()) == "INVALID_RETENTION"
    r = httpx.post(f"{rest}/v1/datasets:vacuum", json={"dataset": "ret_x", "retain_duration": "-5s"}, timeout=60)
    assert r.status_code == 400 and _reason(r.json()) == "INVALID_RETENTION"
    r = httpx.post(f"{rest}/v1/datasets/Bad-Name:compact", json={}, timeout=60)
    assert r.status_code == 400 and _reason(r.json()) == "INVALID_DATASET_NAME"


def _cli(system, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAKEHOUSE_PORT": str(system.settings.port), "LAKEHOUSE_HOME": str(system.settings.home)}
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=check,
    )


def test_cli_compact_and_vacuum(system, client, tmp_path: Path):
    d = "ret_cli"
    client.ingest(d, PEOPLE, format="csv", mode="create", primary_key=["id"])
    client.ingest(d, b"id\n2\n", format="csv", mode="delete")
    compacted = json.loads(_cli(system, "compact", d, "--json").stdout)
    assert compacted["version"] == "3" and compacted["rows"] == "2"
    dry = json.loads(
        _cli(system, "vacuum", d, "--retain-versions", "0", "--retain-duration", "0", "--dry-run", "--json").stdout
    )
    assert dry["dry_run"] is True and dry["datasets"][0]["expired_versions"] == ["1", "2"]
    assert _versions(client, d) == [3, 2, 1]
    done = _cli(system, "vacuum", d, "--retain-versions", "0", "--retain-duration", "0s")
    assert f"{d}\texpired v1,v2\t2 files" in done.stdout
    assert _versions(client, d) == [3] and SECRET not in _values_on_lake(system, d)
    assert "nothing to compact" in _cli(system, "compact", d).stdout
    bad = _cli(system, "vacuum", d, "--retain-duration", "soon", check=False)
    assert bad.returncode != 0 and "duration" in bad.stderr
    missing = _cli(system, "vacuum", "ret_never_was", check=False)
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr


def test_compact_and_vacuum_on_s3(tmp_path):
    with SeaweedS3() as s3:
        system = System.start(
            tmp_path / "home",
            s3.lake_env("lake-retention"),
        )
        try:
            with system.client() as lh:
                d = "ret_s3"
                lh.ingest(d, PEOPLE, format="csv", mode="create", primary_key=["id"])
                lh.ingest(d, b"id\n2\n", format="csv", mode="delete")
                assert lh.compact_dataset(d).rows == 2
                lh.vacuum_datasets(d, retain_versions=0, retain_duration_s=0)
                keys = {o.key for o in lh.list_objects("lake", prefix=f"datasets/{d}/").objects}
                assert keys == _named(lh, d)
                for key in keys:
                    table = pq.read_table(pa.BufferReader(b"".join(lh.get_object("lake", key))))
                    assert SECRET not in {v for c in table.columns for v in c.to_pylist()}
                assert lh.sql(f"SELECT id FROM {d} ORDER BY id").rows == [[1], [3]]
        finally:
            system.stop()
