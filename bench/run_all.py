"""Run every benchmark in this directory, one after the other, and print all their tables.

    python bench/run_all.py [--only ingest,query,profile_query,vector] [--cprofile]

Each script runs in its own process (its own system on its own temp home), its
progress going to stderr as it runs; the tables are printed again together at the
end. Exits 0 when every script ran (missed targets are reported, not failures),
1 when a script itself failed.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

import benchlib

SCRIPTS = ("ingest", "query", "profile_query", "vector")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SCRIPTS), help="comma-separated subset of " + ", ".join(SCRIPTS))
    parser.add_argument("--cprofile", action="store_true", help="pass --cprofile to profile_query")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SCRIPTS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(SCRIPTS)}")

    current: list[subprocess.Popen] = []

    def forward(signum, _frame) -> None:
        for proc in current:
            proc.send_signal(signum)  # the script stops its system, then exits
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, forward)
    print(f"# {benchlib.environment()}", flush=True)
    failed, timings = [], []
    for name in chosen:
        table_file = benchlib.DATA / f"{name}.table.txt"
        table_file.unlink(missing_ok=True)
        cmd = [sys.executable, str(benchlib.BENCH_DIR / f"{name}.py")]
        if name == "profile_query" and args.cprofile:
            cmd.append("--cprofile")
        print(f"\n# {' '.join(cmd[1:])}", flush=True)
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=benchlib.REPO)
        current.append(proc)
        try:
            code = proc.wait()
        finally:
            current.clear()
        timings.append(f"{name} {time.perf_counter() - started:.0f}s")
        if code != 0 or not table_file.exists():
            failed.append(f"{name} (exit {code})")

    print("\n" + "=" * 100 + "\n# all tables (" + ", ".join(timings) + ")\n", flush=True)
    for name in chosen:
        table_file = benchlib.DATA / f"{name}.table.txt"
        if table_file.exists():
            print(table_file.read_text(), flush=True)
    if failed:
        print("# FAILED to run: " + ", ".join(failed), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
