"""Start-up collection of what a crashed process left behind.

A process killed mid-ingest leaves its spool file, the ingest engine's spill files,
the query engine's temp directory and a truncated part file no manifest names; a
crashed corpus create or build leaves generation files without a manifest. Before a
process serves, ``Janitor`` removes, for the components it hosts:

* temp files (every process): spool uploads (``<spool>/ingest-*.upload``), spill
  files below ``<spool>/duckdb-tmp/``, every entry below ``<home>/tmp/<kind>/``, and
  the query engine's directories of older releases (``<system tmp>/lakehouse-query-*``
  owned by this user);
* dataset orphans (where the catalog is hosted): data files under ``datasets/``
  (``v<N>/…parquet`` and ``deltas/…parquet``) that no kept version of any dataset
  names, plus the local store's unfinished-put temp files there;
* corpus orphans (where the vector service is hosted): everything of a corpus
  without ``corpus.json`` (a crashed create or delete; nothing would ever load it),
  and generation files without a manifest numbered above every complete generation
  and not active or previous (a build that crashed before its manifest). Anything
  else of a corpus is kept: its record, active and previous generations, the write
  log, other complete generations (the vector core collects those itself), unknown
  keys, and all of a corpus whose record cannot be read.

Two guards keep it off live work. Age: only what was last modified before
``started_at - janitor.grace_s`` is touched (0 for the embedded single process;
see the setting for deployments where other processes write the same lake). Use:
on Linux, anything a process holds open or has as its working directory is kept
(``/proc/<pid>/fd``), so a shared home's live spool files and spill files survive
whatever their age. An idle query temp directory of a live process may go: DuckDB
recreates its temp directory when it next spills.

What was collected is journaled as one ``janitor`` record (counts, lake keys and
entry names relative to their directory, never server paths), so ``/v1/errors``
shows it. ``collect_at_start`` runs it bounded by ``janitor.max_seconds`` and never
raises: a failure is logged and journaled, and the server starts anyway.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat as statmod
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from lakehouse.api import errors
from lakehouse.api.paging import LARGEST_PAGE
from lakehouse.servers.ingest.core import DUCKDB_TEMP_SUBDIR as INGEST_SPILL_SUBDIR
from lakehouse.servers.ingest.layout import DATASETS_PREFIX
from lakehouse.servers.ingest.spool import SPOOL_PREFIX, SPOOL_SUFFIX
from lakehouse.servers.settings import Settings
from lakehouse.servers.storage.local import TEMP_PREFIX as LOCAL_TEMP_PREFIX
from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.vector.layout import CORPORA_PREFIX

log = logging.getLogger("lakehouse.janitor")

JOURNAL_OPERATION = "janitor"
# Reasons of the janitor's journal records (no RPC returns them): what it collected, and a
# start-up collection that ran past its time.
JANITOR_COLLECTED = "JANITOR_COLLECTED"
JANITOR_SLOW = "JANITOR_SLOW"
SPOOL_GLOB = f"{SPOOL_PREFIX}*{SPOOL_SUFFIX}"
HOME_TEMP_SUBDIR = "tmp"  # <home>/tmp/<kind>/...
LEGACY_QUERY_TEMP_GLOB = "lakehouse-query-*"  # tempfile.mkdtemp(prefix=...) of older releases
# How much longer than janitor.max_seconds start-up waits for a janitor stuck in one call.
JOIN_SLACK_S = 5.0

# Data files of the dataset layout (servers/ingest/layout.py); other keys are never touched.
_DATA_FILE_RE = re.compile(r"^datasets/[a-z][a-z0-9_]{0,62}/(v[1-9][0-9]*|deltas)/[^/]+\.parquet$")

KIND_SPOOL = "spool"
KIND_TEMP = "temp"
KIND_DATASET = "dataset"
KIND_CORPUS = "corpus"
KIND_LAKE_TEMP = "lake_temp"
KINDS = (KIND_SPOOL, KIND_TEMP, KIND_DATASET, KIND_CORPUS, KIND_LAKE_TEMP)


class Journal(Protocol):
    def record(self, operation: str, error: BaseException, context: dict[str, str] | None = None) -> str: ...


class Catalog(Protocol):
    def referenced_paths(self) -> set[str]: ...


class JanitorRecord(errors.LakehouseError):
    """The journal entry of a collection: not a failure (code OK), but recorded with
    the failures because that is where an operator looks after a crash."""

    code = "OK"


@dataclass(frozen=True)
class Collected:
    kind: str
    name: str  # a lake key, or a temp entry's name relative to its directory
    bytes: int


@dataclass
class JanitorReport:
    collected: list[Collected] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    kept_in_use: int = 0
    kept_recent: int = 0
    complete: bool = True  # False: stopped at its deadline

    def names(self, kind: str) -> list[str]:
        return [c.name for c in self.collected if c.kind == kind]

    @property
    def bytes(self) -> int:
        return sum(c.bytes for c in self.collected)


@dataclass(frozen=True)
class _Entry:
    key: str
    size: int
    mtime: float


def _tree(path: Path) -> tuple[float, int]:
    """Newest mtime and total size of a file or directory tree (symlinks not followed)."""
    st = path.lstat()
    newest, size = st.st_mtime, st.st_size if statmod.S_ISREG(st.st_mode) else 0
    if statmod.S_ISDIR(st.st_mode):
        for root, dirs, files in os.walk(path, followlinks=False):
            for name in (*dirs, *files):
                try:
                    sub = os.lstat(os.path.join(root, name))
                except FileNotFoundError:
                    continue
                newest = max(newest, sub.st_mtime)
                if statmod.S_ISREG(sub.st_mode):
                    size += sub.st_size
    return newest, size


def _children(directory: Path) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def open_paths(proc: Path, roots: list[Path]) -> set[str]:
    """Paths below ``roots`` that some process has open or as its working directory.
    Empty where ``proc`` is not a procfs (the age guard then stands alone)."""
    prefixes = tuple(f"{os.path.realpath(r)}{os.sep}" for r in roots)
    found: set[str] = set()
    for pid in _children(proc):
        if not pid.name.isdigit():
            continue
        links = [pid / "cwd"]
        try:
            links += list((pid / "fd").iterdir())
        except OSError:
            pass  # gone, or not ours to read
        for link in links:
            try:
                target = os.readlink(link)
            except OSError:
                continue
            if target.startswith(prefixes):
                found.add(target.removesuffix(" (deleted)"))
    return found


class Janitor:
    """Collects one process's crash leftovers (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        journal: Journal | None,
        *,
        started_at: float,
        catalog: Catalog | None = None,
        corpora: bool = False,
        legacy_temp_root: Path | None = None,
        proc: Path = Path("/proc"),
        stop: threading.Event | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._journal = journal
        self._catalog = catalog
        self._corpora = corpora
        self._cutoff = started_at - settings.janitor.grace_s
        self._legacy_root = legacy_temp_root if legacy_temp_root is not None else Path(tempfile.gettempdir())
        self._proc = proc
        self._stop = stop or threading.Event()
        self._deadline = time.monotonic() + settings.janitor.max_seconds
        local_root = getattr(store, "root", None)
        self._lake_root: Path | None = Path(local_root) if local_root is not None else None
        self._in_use: set[str] = set()
        self.report = JanitorReport()

    # Public --------------------------------------------------------------

    def run(self) -> JanitorReport:
        """Collect, journal what was collected, and return the report."""
        roots = [self._settings.spool_dir, self._settings.home_dir / HOME_TEMP_SUBDIR, self._legacy_root]
        if self._lake_root is not None:
            roots.append(self._lake_root)
        self._in_use = open_paths(self._proc, roots)
        self._temp()
        if self._catalog is not None:
            self._datasets()
        if self._corpora:
            self._corpus_orphans()
        self._record()
        return self.report

    # Guards --------------------------------------------------------------

    def _stopped(self) -> bool:
        if self._stop.is_set() or time.monotonic() > self._deadline:
            self.report.complete = False
            return True
        return False

    def _busy(self, path: Path) -> bool:
        real = os.path.realpath(path)
        inside = f"{real}{os.sep}"
        return any(p == real or p.startswith(inside) for p in self._in_use)

    def _collectable(self, mtime: float, path: Path | None) -> bool:
        if mtime >= self._cutoff:
            self.report.kept_recent += 1
            return False
        if path is not None and self._busy(path):
            self.report.kept_in_use += 1
            return False
        return True

    # Temp files ------------------------------------------------------------

    def _temp_entries(self) -> Iterator[tuple[str, Path, str]]:
        """(kind, path, name shown in the journal) of every temp candidate."""
        spool = self._settings.spool_dir
        for path in sorted(spool.glob(SPOOL_GLOB)) if spool.is_dir() else []:
            yield KIND_SPOOL, path, path.name
        for path in _children(spool / INGEST_SPILL_SUBDIR):
            yield KIND_TEMP, path, f"{INGEST_SPILL_SUBDIR}/{path.name}"
        home_tmp = self._settings.home_dir / HOME_TEMP_SUBDIR
        for kind_dir in _children(home_tmp):
            if kind_dir.is_dir() and not kind_dir.is_symlink():
                for path in _children(kind_dir):
                    yield KIND_TEMP, path, f"{HOME_TEMP_SUBDIR}/{kind_dir.name}/{path.name}"
            else:
                yield KIND_TEMP, kind_dir, f"{HOME_TEMP_SUBDIR}/{kind_dir.name}"
        uid = os.getuid()
        for path in sorted(self._legacy_root.glob(LEGACY_QUERY_TEMP_GLOB)):
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            if statmod.S_ISDIR(st.st_mode) and st.st_uid == uid:
                yield KIND_TEMP, path, path.name

    def _temp(self) -> None:
        for kind, path, name in self._temp_entries():
            if self._stopped():
                return
            try:
                newest, size = _tree(path)
                if not self._collectable(newest, path):
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue  # removed meanwhile by its owner
            except OSError as exc:
                log.warning("janitor: cannot remove %s: %s", name, exc.strerror or exc)
                self.report.failed.append(name)
                continue
            self.report.collected.append(Collected(kind, name, size))

    # Lake ------------------------------------------------------------------

    def _lake_entries(self, prefix: str) -> Iterator[_Entry]:
        """Every object under ``prefix``. A local store is walked directly: its listing
        would hash every file written by the data plane just to report an etag."""
        if self._lake_root is None:
            token = ""
            while not self._stopped():
                page, token = self._store.list(prefix, page_size=LARGEST_PAGE, page_token=token)
                for info in page:
                    yield _Entry(info.key, info.size, info.modified_at.timestamp())
                if not token:
                    return
            return
        top = self._lake_root / prefix.rstrip("/")
        for root, dirs, files in os.walk(top, followlinks=False):
            dirs.sort()
            for name in sorted(files):
                path = Path(root) / name
                try:
                    st = path.lstat()
                except FileNotFoundError:
                    continue
                if statmod.S_ISREG(st.st_mode):
                    yield _Entry(path.relative_to(self._lake_root).as_posix(), st.st_size, st.st_mtime)

    def _local_path(self, key: str) -> Path | None:
        return self._lake_root / key if self._lake_root is not None else None

    def _delete(self, kind: str, entry: _Entry) -> None:
        if self._stopped() or not self._collectable(entry.mtime, self._local_path(entry.key)):
            return
        try:
            if kind == KIND_LAKE_TEMP:
                self._local_path(entry.key).unlink()
            else:
                self._store.delete(entry.key)
        except (FileNotFoundError, errors.NotFound):
            return
        except (OSError, errors.LakehouseError) as exc:
            log.warning("janitor: cannot delete %s: %s", entry.key, exc)
            self.report.failed.append(entry.key)
            return
        self.report.collected.append(Collected(kind, entry.key, entry.size))

    def _datasets(self) -> None:
        # Listed before the catalog is read: a file committed in between is then named.
        entries = list(self._lake_entries(f"{DATASETS_PREFIX}/"))
        if self._stopped():
            return
        referenced = self._catalog.referenced_paths()
        for entry in entries:
            if entry.key.rsplit("/", 1)[-1].startswith(LOCAL_TEMP_PREFIX):
                self._delete(KIND_LAKE_TEMP, entry)
            elif entry.key not in referenced and _DATA_FILE_RE.match(entry.key):
                self._delete(KIND_DATASET, entry)

    def _corpus_orphans(self) -> None:
        # Imported here: a process that does not host vectors never loads the vector package.
        from lakehouse.servers.vector.layout import MANIFEST_FILE, classify, corpus_key
        from lakehouse.servers.vector.persistence import read_corpus

        by_corpus: dict[str, list[_Entry]] = {}
        for entry in self._lake_entries(CORPORA_PREFIX):
            parts = entry.key.split("/")
            if len(parts) >= 3:
                by_corpus.setdefault(parts[1], []).append(entry)
        for name, entries in sorted(by_corpus.items()):
            if self._stopped():
                return
            temps = [e for e in entries if e.key.rsplit("/", 1)[-1].startswith(LOCAL_TEMP_PREFIX)]
            objects = [e for e in entries if e not in temps]
            keys = {e.key for e in objects}
            for entry in temps:
                self._delete(KIND_LAKE_TEMP, entry)
            if corpus_key(name) not in keys:
                doomed = objects  # a crashed create or delete: no record, never loaded
            else:
                try:
                    record = read_corpus(self._store, name)
                except errors.LakehouseError as exc:
                    log.warning("janitor: keeping every file of corpus %s: %s", name, exc)
                    continue
                complete = {
                    k.number
                    for e in objects
                    if (k := classify(name, e.key)).kind == "gen" and k.filename == MANIFEST_FILE
                }
                live = {record.active, record.previous, *complete}
                top = max(complete, default=0)
                doomed = [
                    e
                    for e in objects
                    if (k := classify(name, e.key)).kind == "gen" and k.number not in live and k.number > top
                ]
            for entry in doomed:
                self._delete(KIND_CORPUS, entry)

    # Journal ----------------------------------------------------------------

    def _record(self) -> None:
        report = self.report
        if self._journal is None or not (report.collected or report.failed or not report.complete):
            return
        cap = self._settings.janitor.journal_max_keys
        counts = {kind: len(report.names(kind)) for kind in KINDS}
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "nothing"
        message = f"start-up collection removed {summary} ({report.bytes} bytes)"
        if not report.complete:
            message += "; stopped at its deadline, the rest is collected at the next start"
        context = {
            **{f"{kind}_count": str(n) for kind, n in counts.items()},
            "bytes": str(report.bytes),
            "complete": str(report.complete).lower(),
            "kept_in_use": str(report.kept_in_use),
            "kept_recent": str(report.kept_recent),
        }
        for kind, n in counts.items():
            if n:
                names = report.names(kind)
                context[f"{kind}_names"] = ",".join(names[:cap]) + (f",... ({n - cap} more)" if n > cap else "")
        if report.failed:
            context["failed"] = ",".join(report.failed[:cap])
        self._journal.record(JOURNAL_OPERATION, JanitorRecord(message, reason=JANITOR_COLLECTED), context)


def collect_at_start(runtime, started_at: float) -> JanitorReport | None:
    """Run the janitor for this process's components before it serves. Bounded by
    ``janitor.max_seconds`` (a janitor stuck in one storage call is left behind, told to
    stop); never raises. Returns the report, or None when it did not finish."""
    settings: Settings = runtime.settings
    if not settings.janitor.enabled:
        return None
    stop = threading.Event()
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            catalog = runtime.catalog if "catalog" in runtime.components else None
            janitor = Janitor(
                settings,
                runtime.storage.lake(),
                runtime.storage.journal,
                started_at=started_at,
                catalog=catalog,
                corpora="vector" in runtime.components,
                stop=stop,
            )
            outcome["report"] = janitor.run()
        except BaseException as exc:  # noqa: BLE001 - reported below; start-up goes on
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="lakehouse-janitor", daemon=True)
    worker.start()
    worker.join(settings.janitor.max_seconds + JOIN_SLACK_S)
    if worker.is_alive():
        stop.set()
        _journal_failure(runtime, errors.DeadlineExceeded("start-up collection did not finish", reason=JANITOR_SLOW))
        return None
    error = outcome.get("error")
    if isinstance(error, BaseException):
        log.error("janitor failed; starting anyway", exc_info=error)
        _journal_failure(runtime, error)
        return None
    report = outcome.get("report")
    if isinstance(report, JanitorReport) and report.collected:
        log.info("janitor: collected %d leftovers (%d bytes)", len(report.collected), report.bytes)
    return report if isinstance(report, JanitorReport) else None


def _journal_failure(runtime, error: BaseException) -> None:
    try:
        runtime.storage.journal.record(
            JOURNAL_OPERATION, error, {"note": "start-up collection failed or was cut short; the server started anyway"}
        )
    except Exception:  # noqa: BLE001 - the journal itself may be what is broken
        log.exception("janitor: could not journal its own failure")
