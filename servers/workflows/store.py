"""Runs remembered: the running ones, the last ``workflows.runs_kept`` finished ones in
memory, and each finished run as JSON under ``<home>/workflow_runs/`` (the newest
``workflows.runs_persisted``), so GetWorkflowRun still answers after a restart."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path

from google.protobuf import json_format

from lakehouse.api.workflows import WorkflowRun, run_from_pb, run_to_pb
from lakehouse.servers.workflows.runner import Runner
from lakehouse.v1 import observer_pb2

log = logging.getLogger("lakehouse.workflows")

# Run ids are uuid4 hex: anything else names no run (and never a path).
RUN_ID = re.compile(r"[0-9a-f]{32}\Z")
SUFFIX = ".json"
# Persisted runs beyond the limit are pruned this many at a time (oldest first).
PRUNE_SHARE = 10


class RunStore:
    def __init__(self, directory: Path, kept: int, persisted: int) -> None:
        self._dir = directory
        self._kept = kept
        self._persisted = persisted
        self._running: dict[str, Runner] = {}
        self._finished: OrderedDict[str, WorkflowRun] = OrderedDict()
        self._lock = threading.Lock()
        self._files: int | None = None  # counted on the first write

    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    def start(self, runner: Runner) -> None:
        with self._lock:
            self._running[runner.run_id] = runner

    def running(self) -> list[Runner]:
        with self._lock:
            return list(self._running.values())

    def runner(self, run_id: str) -> Runner | None:
        with self._lock:
            return self._running.get(run_id)

    def finish(self, runner: Runner) -> WorkflowRun:
        run = runner.snapshot()
        with self._lock:
            self._running.pop(run.run_id, None)
            self._finished[run.run_id] = run
            while len(self._finished) > self._kept:
                self._finished.popitem(last=False)
        if self._persisted:
            self._persist(run)
        return run

    def get(self, run_id: str) -> WorkflowRun | None:
        if not RUN_ID.match(run_id):
            return None
        with self._lock:
            runner = self._running.get(run_id)
            run = self._finished.get(run_id)
        if runner is not None:
            return runner.snapshot()
        if run is not None:
            return run
        return self._read(run_id)

    def _path(self, run_id: str) -> Path:
        return self._dir / f"{run_id}{SUFFIX}"

    def _persist(self, run: WorkflowRun) -> None:
        """Written whole (a temporary file renamed), never failing the run it records."""
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            path = self._path(run.run_id)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json_format.MessageToJson(run_to_pb(run), indent=None))
            os.replace(tmp, path)
            self._count_and_prune()
        except OSError:
            log.exception("could not persist workflow run %s", run.run_id)

    def _count_and_prune(self) -> None:
        with self._lock:
            if self._files is None:
                self._files = sum(1 for _ in self._dir.glob(f"*{SUFFIX}"))
            else:
                self._files += 1
            if self._files <= self._persisted:
                return
            excess = self._files - self._persisted + max(1, self._persisted // PRUNE_SHARE)
        files = sorted(self._dir.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime_ns)
        for path in files[:excess]:
            path.unlink(missing_ok=True)
        with self._lock:
            self._files = max(0, len(files) - excess)

    def _read(self, run_id: str) -> WorkflowRun | None:
        path = self._path(run_id)
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        except OSError:
            log.exception("could not read workflow run %s", run_id)
            return None
        message = observer_pb2.WorkflowRun()
        try:
            json_format.Parse(text, message)
        except json_format.ParseError:
            log.warning("workflow run file %s does not parse; ignored", path)
            return None
        return run_from_pb(message)
