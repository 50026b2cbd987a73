"""Memory: sizes in settings, the machine's memory, the process's data cap, and
getting freed memory back to the system.

A memory setting is either a share of the machine (``"30%"``, resolved when the
process starts) or a size (``"512MB"``, ``"2GiB"``, ``"1073741824"``). The machine's
memory is the smaller of physical RAM and the cgroup limit, so a container's limit
counts rather than the host's RAM.

What bounds what (measured on DuckDB 2.0.1): DuckDB's ``memory_limit`` covers its
buffer-managed memory — aggregates such as ``list()``, sorts, joins, and values built
while a query runs — and fails the query as out of memory. It does not cover constant
expressions DuckDB folds while planning (``repeat('x', 2000000000)``: 2 GB per value,
any number of values per query): only the process's data cap (RLIMIT_DATA, see
``cap_process_data``) stops those. Freed memory goes back to the system only with the
allocator settings below; pyarrow's pool keeps its own (``release_arrow_memory``).
"""

from __future__ import annotations

import logging
import os
import re
import resource
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("lakehouse.memory")

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
    "t": 1024**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
# DuckDB's allocator (its own jemalloc) reads its options from this variable when the
# library loads. By default it keeps the address space of freed memory: the data
# segment then stays at its peak, which counts against RLIMIT_DATA and which only
# DuckDB can reuse (after one bomb, pyarrow or Python allocations would fail at the
# cap). retain:false gives the address space back.
DUCKDB_ALLOCATOR_ENV = "DUCKDB_JE_MALLOC_CONF"
DUCKDB_ALLOCATOR_CONF = "retain:false"
# How often the allocator watch re-enables DuckDB's background memory release (see below).
ALLOCATOR_REFRESH_S = 1.0
_ALLOCATOR_SQL = "SET allocator_background_threads = true"
_allocator_lock = threading.Lock()
_allocator_thread: threading.Thread | None = None
# cgroup v2 and v1 memory limits; "max" or a huge v1 value means none.
_CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def machine_memory() -> int:
    """Bytes of memory this process can count on: physical RAM, or the cgroup limit if lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in _CGROUP_LIMITS:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


def check_memory(spec: str, *, allow_empty: bool = False) -> str:
    """``spec`` unchanged if it is a valid memory setting (for settings validators)."""
    if not spec.strip():
        if allow_empty:
            return spec
        raise ValueError("a memory setting is required: a share like '30%' or a size like '512MB'")
    memory_bytes(spec)
    return spec


def memory_bytes(spec: str, total: int | None = None) -> int:
    """Bytes meant by a memory setting; 0 for "" (no limit). ``total`` overrides the machine's memory."""
    if not spec.strip():
        return 0
    percent = _PERCENT.match(spec)
    if percent:
        share = float(percent.group(1))
        if not 0 < share <= 100:
            raise ValueError(f"memory share {spec!r} must be above 0% and at most 100%")
        return int((machine_memory() if total is None else total) * share / 100)
    size = _SIZE.match(spec)
    if not size or (size.group(2) or "").lower() not in _UNITS:
        raise ValueError(f"{spec!r} is not a memory size: use a share like '30%' or a size like '512MB' or '2GiB'")
    value = int(float(size.group(1)) * _UNITS[(size.group(2) or "").lower()])
    if value <= 0:
        raise ValueError(f"memory size {spec!r} must be positive")
    return value


def process_data_bytes() -> int:
    """This process's data segment now (VmData: what RLIMIT_DATA counts), 0 if unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def apply_process_cap(process_limit: str, engine_limit: str) -> int:
    """Cap the data segment at ``process_limit`` (a memory setting; "" for none), but never
    below what the process already uses plus ``engine_limit``: the segment counts reserved
    address space (thread stacks, allocator arenas), not only resident memory. The cap set, or 0."""
    cap = memory_bytes(process_limit)
    if not cap:
        return 0
    cap = max(cap, process_data_bytes() + memory_bytes(engine_limit))
    cap_process_data(cap)
    return cap


def cap_process_data(limit: int) -> None:
    """Lower the soft RLIMIT_DATA of this process to ``limit`` bytes (never above the hard limit).

    An allocation past it fails (DuckDB reports it as out of memory) instead of growing
    the process until the kernel's OOM killer ends it. Only the soft limit is set, so
    it can be raised again. 0 leaves the limit as it is.
    """
    if limit <= 0:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def configure_duckdb_allocator() -> bool:
    """Set DuckDB's allocator options (unless the environment already has some); they
    only apply if DuckDB is not loaded yet, so a server calls this first thing."""
    if "_duckdb" in sys.modules:
        return False
    os.environ.setdefault(DUCKDB_ALLOCATOR_ENV, DUCKDB_ALLOCATOR_CONF)
    return True


def keep_duckdb_releasing_memory() -> None:
    """Make freed DuckDB memory go back to the system, for the life of the process.

    DuckDB's allocator returns freed memory only while its background threads run
    (``allocator_background_threads``; without them a failed 500 MB query stayed
    resident indefinitely). The setting is process-wide, and closing *any* DuckDB
    database (every ingest has one) switches it off again (measured on DuckDB 2.0.1).
    A hardened query engine cannot set it again (its configuration is locked), so one
    daemon thread, with a private database that runs nothing else, re-enables it every
    ALLOCATOR_REFRESH_S. Started once; later calls do nothing.
    """
    global _allocator_thread
    with _allocator_lock:
        if _allocator_thread is not None:
            return
        _allocator_thread = threading.Thread(target=_refresh_allocator, name="lakehouse-duckdb-allocator", daemon=True)
        _allocator_thread.start()


def _refresh_allocator() -> None:
    import duckdb

    con = duckdb.connect(":memory:")
    while True:
        try:
            con.execute(_ALLOCATOR_SQL)
        except duckdb.Error:
            log.exception("cannot enable DuckDB's background memory release")
            return
        time.sleep(ALLOCATOR_REFRESH_S)


def release_arrow_memory() -> None:
    """Hand the memory pyarrow's pool keeps after freeing back to the system. Its
    allocator (mimalloc) works per thread, so the thread that built the buffers calls
    this; cheap (about a microsecond) when there is nothing to release."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
