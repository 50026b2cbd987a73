"""A server killed mid-ingest leaves nothing behind once it is restarted: no spool file,
no truncated part file, no query temp directory, and /v1/errors says what was collected."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.api.errors import LakehouseError
from lakehouse.servers.storage.core import StorageCore
from tests.support.seaweed import SeaweedS3
from tests.support.system import System

ROWS_PER_CHUNK = 20_000
# Generous bound for the first part file of the big ingest to appear on disk.
PART_FILE_WAIT_S = 120.0
POLL_S = 0.05


def _csv_chunks(chunks: int, start: int = 0):
    yield b"id,name,city,score\n"
    for c in range(start, start + chunks):
        base = c * ROWS_PER_CHUNK
        yield "".join(f"{i},name{i},city{i % 97},{i % 1000}.25\n" for i in range(base, base + ROWS_PER_CHUNK)).encode()


def _start(tmp_path: Path) -> tuple[System, Path]:
    """A system whose processes get a private system temp directory (TMPDIR), so what
    they leave there is theirs alone, whatever else runs on this machine."""
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    return System.start(tmp_path / "home", {"TMPDIR": str(systmp)}), systmp


def _query_temp_dirs(home: Path, systmp: Path) -> set[Path]:
    """Query engine temp directories: under <home>/tmp/query, or (older layout) in the system temp dir."""
    own = home / "tmp" / "query"
    current = set(own.iterdir()) if own.is_dir() else set()
    return current | set(systmp.glob("lakehouse-query-*"))


def _has_footer(path: Path) -> bool:
    try:
        pq.read_metadata(path)
    except (pa.ArrowInvalid, OSError):
        return False
    return True


def test_restart_after_kill_mid_ingest_collects_what_the_crash_left(tmp_path):
    system, systmp = _start(tmp_path)
    settings = system.settings
    lake = settings.lake_root
    try:
        with system.client() as lh:
            lh.ingest("crashy", _csv_chunks(1), format="csv", mode="create")
            # The query engine exists (and with it its temp directory) before the crash.
            assert lh.sql("SELECT count(*) FROM crashy").rows == [[ROWS_PER_CHUNK]]
            failure: list[BaseException] = []

            def big_ingest():
                try:
                    with system.client() as other:
                        other.ingest("crashy", _csv_chunks(60, start=1), format="csv", mode="append")
                except BaseException as exc:  # noqa: BLE001 - inspected below
                    failure.append(exc)

            worker = threading.Thread(target=big_ingest)
            worker.start()
            deadline = time.monotonic() + PART_FILE_WAIT_S
            while not list((lake / "datasets/crashy/v2").glob("part-*.parquet")):
                assert time.monotonic() < deadline, "the big ingest never started writing its part file"
                assert worker.is_alive(), failure
                time.sleep(POLL_S)
            system.kill_server()
            worker.join(60)
            assert failure and isinstance(failure[0], LakehouseError)

        # What the crash left behind: the premise of this test.
        spooled = list(settings.spool_dir.glob("ingest-*.upload"))
        assert spooled, "the killed ingest left no spool file"
        orphans = sorted((lake / "datasets/crashy/v2").glob("part-*.parquet"))
        assert orphans and not all(_has_footer(p) for p in orphans)
        query_dirs = _query_temp_dirs(settings.home_dir, systmp)
        assert query_dirs, "the killed server left no query temp directory"

        system.restart()

        assert not list(settings.spool_dir.glob("ingest-*.upload"))
        assert not [d for d in query_dirs if d.exists()]
        with system.client() as lh:
            current = lh.get_dataset("crashy").current
            assert current.version == 1
            named = {f.path for f in (*current.files, *current.deltas)}
            on_lake = {p.relative_to(lake).as_posix() for p in (lake / "datasets").rglob("*") if p.is_file()}
            assert on_lake == named  # no orphan part file, and every committed one intact
            assert lh.sql("SELECT count(*) FROM crashy").rows == [[ROWS_PER_CHUNK]]

            # /v1/errors tells what was collected, by lake key and spool file name.
            records = httpx.get(f"{system.rest}/v1/errors").json()["errors"]
            janitor = [r for r in records if r["operation"] == "janitor"]
            assert janitor, records
            context = janitor[0]["context"]
            assert janitor[0]["reason"] == "JANITOR_COLLECTED"
            for orphan in orphans:
                assert orphan.relative_to(lake).as_posix() in context["dataset_names"]
            for spool_file in spooled:
                assert spool_file.name in context["spool_names"]
            assert int(context["temp_count"]) >= len(query_dirs)
            assert str(settings.home_dir) not in str(janitor[0])  # names, never server paths

            # The catalog is consistent and the same ingest now goes through.
            again = lh.ingest("crashy", _csv_chunks(60, start=1), format="csv", mode="append")
            assert again.version == 2
            assert lh.sql("SELECT count(*) FROM crashy").rows == [[61 * ROWS_PER_CHUNK]]
    finally:
        system.stop()


def test_a_clean_restart_journals_nothing(tmp_path):
    system, _ = _start(tmp_path)
    try:
        with system.client() as lh:
            lh.ingest("calm", _csv_chunks(1), format="csv", mode="create")
        system.restart()
        records = httpx.get(f"{system.rest}/v1/errors").json().get("errors", [])
        assert not [r for r in records if r["operation"] == "janitor"]
        with system.client() as lh:
            assert lh.sql("SELECT count(*) FROM calm").rows == [[ROWS_PER_CHUNK]]
    finally:
        system.stop()


def test_orphans_on_s3_are_collected_at_start(tmp_path):
    """The lake seen only through the S3 API: the listing path of the collection."""
    with SeaweedS3() as s3:
        system = System.start(
            tmp_path / "home",
            s3.lake_env("lake-janitor"),
        )
        try:
            with system.client() as lh:
                lh.ingest("on_s3", _csv_chunks(1), format="csv", mode="create")
            # What a writer killed before its commit leaves on S3 (written around the API,
            # whose managed prefixes are read-only).
            lake = StorageCore(system.settings).lake()
            orphan = "datasets/on_s3/v2/part-00000-deadbeef.parquet"
            lake.put(orphan, [b"PAR1 and no footer"])
            system.restart()
            with system.client() as lh:
                current = lh.get_dataset("on_s3").current
                keys = {o.key for o in lh.list_objects("lake", prefix="datasets/").objects}
                assert keys == {f.path for f in current.files}
                assert lh.sql("SELECT count(*) FROM on_s3").rows == [[ROWS_PER_CHUNK]]
                janitor = [e for e in lh.list_errors() if e.operation == "janitor"]
                assert janitor and orphan in janitor[0].context["dataset_names"]
        finally:
            system.stop()
