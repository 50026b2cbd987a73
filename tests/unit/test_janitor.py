"""Start-up collection (servers/janitor.py) on a real catalog, a local lake and real files."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

from lakehouse.api.catalog import WriteMode
from lakehouse.servers.app import build_server
from lakehouse.servers.catalog.core import CatalogCore
from lakehouse.servers.ingest.core import IngestCore, IngestSpec
from lakehouse.servers.janitor import JOURNAL_OPERATION, Janitor, collect_at_start
from lakehouse.servers.settings import JanitorSettings, Settings
from lakehouse.servers.storage.journal import ErrorJournal
from lakehouse.servers.storage.local import TEMP_PREFIX, LocalObjectStore
from lakehouse.servers.vector.layout import corpus_key, generation_key, log_key
from lakehouse.servers.vector.persistence import CorpusRecord, write_corpus

OLD_S = 3600.0  # how long before "start" the leftovers were last touched


class RecordingJournal:
    def __init__(self) -> None:
        self.records: list[tuple[str, BaseException, dict[str, str]]] = []

    def record(self, operation: str, error: BaseException, context: dict[str, str] | None = None) -> str:
        self.records.append((operation, error, dict(context or {})))
        return f"id-{len(self.records)}"


class ListingOnly:
    """The lake seen only through the ObjectStore API (as an S3 bucket is): no ``root``."""

    def __init__(self, store: LocalObjectStore) -> None:
        self._store = store
        self.info = store.info

    def list(self, *a, **kw):
        return self._store.list(*a, **kw)

    def get(self, *a, **kw):
        return self._store.get(*a, **kw)

    def delete(self, key: str) -> None:
        self._store.delete(key)


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.settings = Settings(home=tmp_path / "home")
        self.store = LocalObjectStore("lake", self.settings.lake_root)
        self.catalog = CatalogCore(self.settings.catalog_db, self.store, self.settings.catalog)
        self.journal = RecordingJournal()
        self.legacy = tmp_path / "systmp"
        self.legacy.mkdir()
        self.started_at = time.time()

    @property
    def lake(self) -> Path:
        return self.settings.lake_root

    def ingest(self, name: str, data: bytes, mode: WriteMode = WriteMode.APPEND, **kw):
        core = IngestCore(self.catalog, self.store, None, self.settings)
        return core.ingest(IngestSpec(name, "csv", mode, **kw), [data])

    def leftover(self, path: Path, data: bytes = b"x" * 100, age_s: float = OLD_S) -> Path:
        """A file last modified ``age_s`` before the janitor's start."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        stamp = self.started_at - age_s
        os.utime(path, (stamp, stamp))
        return path

    def age_tree(self, path: Path, age_s: float = OLD_S) -> None:
        stamp = self.started_at - age_s
        for root, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                os.utime(os.path.join(root, name), (stamp, stamp))
        os.utime(path, (stamp, stamp))

    def janitor(self, **kw) -> Janitor:
        kw.setdefault("catalog", self.catalog)
        kw.setdefault("corpora", True)
        kw.setdefault("legacy_temp_root", self.legacy)
        store = kw.pop("store", self.store)
        return Janitor(self.settings, store, self.journal, started_at=self.started_at, **kw)

    def lake_files(self, prefix: str = "") -> list[str]:
        return sorted(p.relative_to(self.lake).as_posix() for p in (self.lake / prefix).rglob("*") if p.is_file())


@pytest.fixture
def env(tmp_path: Path):
    e = Env(tmp_path)
    yield e
    e.catalog.close()


# Dataset orphans -----------------------------------------------------------------


def _seed_datasets(env: Env) -> dict[str, str]:
    env.ingest("people", b"id,name\n1,ann\n2,bo\n", WriteMode.CREATE, primary_key=("id",))
    env.ingest("people", b"id\n2\n", WriteMode.DELETE)
    committed = env.catalog.get_dataset("people").current
    for f in (*committed.files, *committed.deltas):
        env.age_tree(env.lake / f.path)
    keys = {
        "truncated": "datasets/people/v3/part-00000-deadbeef.parquet",
        "delta": "datasets/people/deltas/0000000003-00000-deadbeef.parquet",
        "foreign": "datasets/ghost/v1/part-00000-cafecafe.parquet",  # a dataset that never committed
        "recent": "datasets/people/v3/part-00001-deadbeef.parquet",
        "unknown": "datasets/people/notes.txt",
        "temp": f"datasets/people/v1/{TEMP_PREFIX}0123abcd",
    }
    for name, key in keys.items():
        env.leftover(env.lake / key, b"PAR1 no footer", age_s=-60 if name == "recent" else OLD_S)
    return keys


def test_orphan_data_files_are_collected_and_committed_ones_kept(env: Env) -> None:
    keys = _seed_datasets(env)
    committed = {f.path for f in env.catalog.get_version("people", 1).files}
    committed |= {f.path for f in env.catalog.get_dataset("people").current.deltas}
    report = env.janitor().run()
    left = set(env.lake_files("datasets"))
    assert committed <= left
    assert {keys["recent"], keys["unknown"]} <= left  # too new / not a data file of the layout
    for name in ("truncated", "delta", "foreign", "temp"):
        assert keys[name] not in left, name
    assert sorted(report.names("dataset")) == sorted([keys["truncated"], keys["delta"], keys["foreign"]])
    assert report.names("lake_temp") == [keys["temp"]]
    assert report.kept_recent >= 1 and report.complete
    # The record says what went, by key, with complete counts.
    (operation, error, context), *_ = env.journal.records
    assert operation == JOURNAL_OPERATION and error.reason == "JANITOR_COLLECTED" and error.code == "OK"
    assert context["dataset_count"] == "3" and keys["truncated"] in context["dataset_names"]
    assert int(context["bytes"]) == report.bytes > 0


def test_lake_reached_only_through_its_listing_is_collected_too(env: Env) -> None:
    keys = _seed_datasets(env)
    report = env.janitor(store=ListingOnly(env.store)).run()
    assert sorted(report.names("dataset")) == sorted([keys["truncated"], keys["delta"], keys["foreign"]])
    assert keys["recent"] in env.lake_files("datasets")


def test_grace_keeps_files_another_process_may_still_commit(env: Env) -> None:
    keys = _seed_datasets(env)
    env.settings = env.settings.model_copy(update={"janitor": JanitorSettings(grace_s=2 * OLD_S)})
    report = env.janitor().run()
    assert report.names("dataset") == []
    assert keys["truncated"] in env.lake_files("datasets")


def test_nothing_to_collect_writes_no_record(env: Env) -> None:
    env.ingest("people", b"id,name\n1,ann\n", WriteMode.CREATE)
    report = env.janitor().run()
    assert report.collected == [] and env.journal.records == []


# Temp files -----------------------------------------------------------------------


def test_spool_spill_and_query_temp_dirs_are_collected(env: Env) -> None:
    spool = env.settings.spool_dir
    upload = env.leftover(spool / "ingest-abc123.upload", b"id\n" * 1000)
    spill = env.leftover(spool / "duckdb-tmp" / "duckdb_temp_storage_S32K-0.tmp")
    query_dir = env.settings.home_dir / "tmp" / "query" / "engine-1"
    env.leftover(query_dir / "spill.tmp")
    env.age_tree(query_dir)
    legacy = env.legacy / "lakehouse-query-x1y2z3"
    env.leftover(legacy / "duckdb_temp_block.tmp")
    env.age_tree(legacy)
    unrelated = env.leftover(env.legacy / "someone-else" / "f")
    fresh = env.leftover(spool / "ingest-fresh.upload", age_s=-60)

    report = env.janitor(catalog=None, corpora=False).run()

    assert not upload.exists() and not spill.exists() and not query_dir.exists() and not legacy.exists()
    assert unrelated.exists() and fresh.exists()
    assert (spool / "duckdb-tmp").is_dir()  # the engines' directory itself stays
    assert report.names("spool") == ["ingest-abc123.upload"]
    assert sorted(report.names("temp")) == sorted(
        ["duckdb-tmp/duckdb_temp_storage_S32K-0.tmp", "tmp/query/engine-1", "lakehouse-query-x1y2z3"]
    )
    # Names only: nothing a caller reads back holds a server path.
    _, _, context = env.journal.records[-1]
    assert str(env.tmp) not in json.dumps(context)
    assert context["spool_count"] == "1" and context["temp_count"] == "3"


def test_files_a_live_process_holds_open_are_kept_whatever_their_age(env: Env) -> None:
    spool = env.settings.spool_dir
    busy = env.leftover(spool / "ingest-busy.upload")
    busy_dir = env.settings.home_dir / "tmp" / "query" / "engine-live"
    busy_spill = env.leftover(busy_dir / "spill.tmp")
    env.age_tree(busy_dir)
    handles = [open(busy, "rb"), open(busy_spill, "rb")]  # noqa: SIM115 - held across the run
    try:
        report = env.janitor(catalog=None, corpora=False).run()
    finally:
        for handle in handles:
            handle.close()
    assert busy.exists() and busy_spill.exists()
    assert report.kept_in_use == 2 and report.collected == []


# Corpora ----------------------------------------------------------------------------


def _record(name: str, active: int, previous: int = 0) -> CorpusRecord:
    return CorpusRecord(name, 4, "cosine", 16, 100, "hash/test", "2026-01-01T00:00:00+00:00", active, previous)


def test_corpus_files_are_collected_only_when_nothing_can_load_them(env: Env) -> None:
    put = env.store.put
    # A live corpus: active 3, previous 1; 2 is complete (the vector core's to collect);
    # 4 crashed before its manifest; a write log and an unknown key.
    write_corpus(env.store, _record("alive", active=3, previous=1))
    live = [corpus_key("alive"), log_key("alive", 7), "corpora/alive/README"]
    for gen in (1, 2, 3):
        for filename in ("vectors.parquet", "hnsw.faiss", "manifest.json"):
            put(generation_key("alive", gen, filename), [b"x"])
            live.append(generation_key("alive", gen, filename))
    put(log_key("alive", 7), [b"log"])
    put("corpora/alive/README", [b"?"])
    crashed = [generation_key("alive", 4, "vectors.parquet"), generation_key("alive", 4, "hnsw.faiss")]
    for key in crashed:
        put(key, [b"half"])
    # A corpus whose create crashed before its record: nothing will ever load it.
    ghost = [generation_key("ghost", 1, "vectors.parquet"), generation_key("ghost", 1, "manifest.json")]
    for key in ghost:
        put(key, [b"g"])
    # A corpus whose record cannot be read: kept whole.
    put(corpus_key("broken"), [b"{not json"])
    put(generation_key("broken", 9, "vectors.parquet"), [b"b"])
    env.age_tree(env.lake / "corpora")

    report = env.janitor(catalog=None).run()

    left = set(env.lake_files("corpora"))
    assert set(live) <= left
    assert {corpus_key("broken"), generation_key("broken", 9, "vectors.parquet")} <= left
    assert not (set(crashed) | set(ghost)) & left
    assert sorted(report.names("corpus")) == sorted(crashed + ghost)


def test_corpora_are_left_alone_where_the_vector_service_is_not_hosted(env: Env) -> None:
    key = generation_key("ghost", 1, "vectors.parquet")
    env.store.put(key, [b"g"])
    env.age_tree(env.lake / "corpora")
    env.janitor(corpora=False).run()
    assert key in env.lake_files("corpora")


# Bounds and failures ------------------------------------------------------------------


def test_a_stopped_janitor_removes_nothing_more_and_says_so(env: Env) -> None:
    upload = env.leftover(env.settings.spool_dir / "ingest-abc.upload")
    stop = threading.Event()
    stop.set()
    report = env.janitor(stop=stop).run()
    assert upload.exists() and not report.complete
    _, error, context = env.journal.records[-1]
    assert context["complete"] == "false" and "next start" in error.message


class _Storage:
    def __init__(self, env: Env) -> None:
        self.journal = ErrorJournal(env.store, LocalObjectStore("rescue", env.settings.rescue_root))
        self._store = env.store

    def lake(self):
        return self._store


class _BrokenCatalog:
    def referenced_paths(self) -> set[str]:
        raise RuntimeError("catalog on fire")


class _Runtime:
    def __init__(self, env: Env, catalog) -> None:
        self.settings = env.settings
        self.components = ["storage", "catalog", "ingest", "query"]
        self.storage = _Storage(env)
        self.catalog = catalog


def test_a_failing_janitor_is_journaled_and_start_up_goes_on(env: Env) -> None:
    env.ingest("people", b"id,name\n1,ann\n", WriteMode.CREATE)
    env.leftover(env.lake / "datasets/people/v2/part-00000-deadbeef.parquet")
    runtime = _Runtime(env, _BrokenCatalog())
    assert collect_at_start(runtime, env.started_at) is None
    records, _ = runtime.storage.journal.list()
    assert records[0]["operation"] == JOURNAL_OPERATION
    assert "catalog on fire" in records[0]["message"]


def test_collect_at_start_honours_enabled(env: Env) -> None:
    upload = env.leftover(env.settings.spool_dir / "ingest-abc.upload")
    env.settings = env.settings.model_copy(update={"janitor": JanitorSettings(enabled=False)})
    assert collect_at_start(_Runtime(env, env.catalog), env.started_at) is None
    assert upload.exists()


def test_build_server_collects_before_serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # leave the machine's own temp dir alone
    settings = Settings(home=tmp_path / "home")
    orphan = settings.lake_root / "datasets/people/v1/part-00000-deadbeef.parquet"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"PAR1")
    upload = settings.spool_dir / "ingest-left.upload"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"id\n1\n")
    stamp = time.time() - OLD_S
    for path in (orphan, upload):
        os.utime(path, (stamp, stamp))
    lh = build_server(settings, services="storage,catalog")
    try:
        assert not orphan.exists() and not upload.exists()
        records, _ = lh.runtime.storage.journal.list()
        janitor = [r for r in records if r["operation"] == JOURNAL_OPERATION]
        assert janitor and "datasets/people/v1/part-00000-deadbeef.parquet" in janitor[0]["context"]["dataset_names"]
        assert janitor[0]["context"]["spool_names"] == "ingest-left.upload"
    finally:
        lh.stop(0)
