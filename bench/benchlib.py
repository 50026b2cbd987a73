"""Shared helpers for the side-by-side benchmarks in this directory.

* ``running_system()``: a real Lakehouse (server process + Envoy, local storage) on
  a temp ``LAKEHOUSE_HOME``, always stopped and removed afterwards;
* ``interleaved()``: warm-up, then round-robin timed runs of every variant (the
  order alternates each round) so background noise hits every side alike;
* ``Table``: the report: absolute numbers, ratios, target and verdict.

Benchmarks report; they never assert. A missed target prints ``MISS``, not a failure.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DATA = BENCH_DIR / "data"  # gitignored: generated inputs and the last tables

# `python bench/x.py` puts bench/ on sys.path, not the repo root (tests.support lives there).
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MB = 1_000_000  # throughput in decimal megabytes (MB/s), as file sizes are usually quoted


def _sigterm(*_: object) -> None:
    raise SystemExit(143)


def install_signal_handlers() -> None:
    """SIGTERM unwinds like Ctrl-C, so ``finally`` blocks stop the system."""
    signal.signal(signal.SIGTERM, _sigterm)


@contextlib.contextmanager
def running_system(env: dict[str, str] | None = None) -> Iterator[Any]:
    """Start the embedded system on a fresh temp home; stop it and delete the home, always."""
    from tests.support.system import System

    tmp = Path(tempfile.mkdtemp(prefix="lakehouse-bench-"))
    system = None
    try:
        started = time.perf_counter()
        system = System.start(tmp / "home", env)
        log(
            f"system up in {time.perf_counter() - started:.1f}s: envoy {system.grpc_address}, "
            f"server {system.state.grpc_upstream}, home {tmp / 'home'}"
        )
        yield system
    finally:
        if system is not None:
            with contextlib.suppress(Exception):
                system.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def environment() -> str:
    import duckdb
    import grpc
    import pyarrow

    return (
        f"python {platform.python_version()}, duckdb {duckdb.__version__}, pyarrow {pyarrow.__version__}, "
        f"grpcio {grpc.__version__}, {os.cpu_count()} cpus, {platform.machine()}"
    )


def interleaved(
    runs: dict[str, Callable[[], Any]], repeat: int, warmup: int = 1, between: Callable[[], None] | None = None
) -> dict[str, list[float]]:
    """Seconds per run of every variant: ``warmup`` untimed rounds, then ``repeat`` timed
    rounds, round-robin, the order reversed every other round. ``between`` runs untimed
    after each run (e.g. cleanup)."""
    names = list(runs)
    for _ in range(warmup):
        for name in names:
            runs[name]()
            if between:
                between()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_no in range(repeat):
        order = names if round_no % 2 == 0 else names[::-1]
        for name in order:
            started = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - started)
            if between:
                between()
        done = ", ".join(f"{n} {times[n][-1]:.3f}s" for n in names)
        log(f"round {round_no + 1}/{repeat}: {done}")
    return times


def interleave_queries(
    variants: dict[str, Callable[[int], Any]],
    count: int,
    limits: dict[str, int] | None = None,
    gap_s: float = 0.0,
) -> tuple[dict[str, list[float]], dict[str, list[Any]]]:
    """Latency (ms) and result ids of every variant, query by query, the variant order reversed
    every other query; a variant with a limit runs only the first ``limits[name]`` queries.
    ``gap_s``: idle time (sleep) before every call, as sparse real traffic has."""
    names = list(variants)
    limits = limits or {}
    lat: dict[str, list[float]] = {n: [] for n in names}
    got: dict[str, list[Any]] = {n: [] for n in names}
    for i in range(count):
        for name in names if i % 2 == 0 else names[::-1]:
            if i >= limits.get(name, count):
                continue
            if gap_s:
                time.sleep(gap_s)
            started = time.perf_counter()
            ids = variants[name](i)
            lat[name].append((time.perf_counter() - started) * 1000)
            got[name].append(ids)
    return lat, got


class ServicerContext:
    """The few ``grpc.ServicerContext`` methods servicers and the server's interceptors touch,
    for calling them in-process (no RPC) in the profiling scripts."""

    def invocation_metadata(self):
        return ()

    def is_active(self) -> bool:
        return True

    def time_remaining(self):
        return None

    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"

    def add_callback(self, _callback) -> bool:
        return True

    def set_code(self, _code) -> None: ...

    def set_details(self, _details) -> None: ...

    def set_trailing_metadata(self, _md) -> None: ...

    def abort_with_status(self, status):
        raise RuntimeError(f"aborted: {status}")


class RecordedCall:
    """Recorded replies standing in for a server-streaming call (iterable, cancellable)."""

    def __init__(self, replies: list) -> None:
        self._replies = replies

    def __iter__(self):
        return iter(self._replies)

    def cancel(self) -> bool:
        return False


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank-with-interpolation percentile (p in 0..100)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * p / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def fmt_num(value: float, unit: str = "") -> str:
    if unit == "s":
        return f"{value:.3f}" if value < 10 else f"{value:.2f}"
    if unit == "ms":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.2f}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:.1f}k"
    return f"{value:.1f}"


def count_label(n: int) -> str:
    """1000000 -> '1M', 250000 -> '250k', 1500 -> '1500'."""
    for div, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= div and n % (div // 10) == 0:
            return f"{n / div:g}{suffix}"
    return str(n)


@dataclass
class Row:
    metric: str
    lakehouse: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    ok: bool | None = None  # None: informational, no target


@dataclass
class Table:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: Any, **kw: Any) -> None:
        self.rows.append(Row(*args, **kw))

    def render(self) -> str:
        header = Row("metric", "lakehouse", "baseline", "ratio", "target")
        cells = [header, *self.rows]
        widths = [
            max(len(getattr(r, attr)) for r in cells) + 2
            for attr in ("metric", "lakehouse", "baseline", "ratio", "target")
        ]
        lines = [f"== {self.title} =="]
        for r in cells:
            verdict = "" if r is header or r.ok is None else ("OK" if r.ok else "MISS")
            lines.append(
                f"{r.metric:<{widths[0]}}{r.lakehouse:<{widths[1]}}{r.baseline:<{widths[2]}}"
                f"{r.ratio:<{widths[3]}}{r.target:<{widths[4]}}{verdict}".rstrip()
            )
        lines.extend(f"  * {n}" for n in self.notes)
        return "\n".join(lines)

    def emit(self, name: str) -> None:
        """Print the table and keep a copy in bench/data/<name>.table.txt (for run_all)."""
        text = self.render()
        print(text, flush=True)
        DATA.mkdir(parents=True, exist_ok=True)
        (DATA / f"{name}.table.txt").write_text(text + "\n")
