"""WorkflowsCore: workflows loaded, validated and run; runs listed, fetched and cancelled.

A run request names a known workflow (``LAKEHOUSE_HOME/workflows/*.yaml``, then the
examples shipped in ``examples/``; a home workflow of the same name replaces the example)
or carries the YAML itself. Everything that can be refused is refused before the first
node runs: the definition (``schema.py``), the inputs (unknown, missing), the number of
runs in flight. After that a run always ends with a status; a failed node is part of the
result, not an exception.

The core is handed the services' APIs (``Services``: the co-resident cores, or remotes)
and the process's recorder, which receives every node execution as an ObservedOp.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lakehouse.api import errors
from lakehouse.api.errors import FieldViolation
from lakehouse.api.observer import Recorder
from lakehouse.api.workflows import (
    ORIGIN_EXAMPLE,
    ORIGIN_HOME,
    TOO_MANY_WORKFLOW_RUNS,
    WORKFLOW_MISSING_INPUT,
    WORKFLOW_NOT_FOUND,
    WORKFLOW_RUN_NOT_FOUND,
    WORKFLOW_SOURCE_REQUIRED,
    WORKFLOW_UNKNOWN_INPUT,
    RunFinished,
    RunRequest,
    Workflow,
    WorkflowEvent,
    WorkflowInfo,
    WorkflowListing,
    WorkflowRun,
)
from lakehouse.servers.settings import Settings
from lakehouse.servers.workflows.modes import ModeCatalog, Services, default_catalog
from lakehouse.servers.workflows.runner import Runner
from lakehouse.servers.workflows.schema import parse_workflow
from lakehouse.servers.workflows.store import RunStore

EXAMPLES_DIR = Path(__file__).parent / "examples"
PATTERNS = ("*.yaml", "*.yml")
_END = object()


class WorkflowsCore:
    def __init__(
        self,
        settings: Settings,
        services: Services,
        recorder: Recorder | None = None,
        catalog: ModeCatalog | None = None,
        *,
        examples_dir: Path = EXAMPLES_DIR,
    ) -> None:
        self._settings = settings
        self._services = services
        self._recorder = recorder
        self.catalog = catalog or default_catalog()
        self._dirs = ((ORIGIN_HOME, settings.home_dir / "workflows"), (ORIGIN_EXAMPLE, examples_dir))
        ws = settings.workflows
        self._store = RunStore(settings.home_dir / "workflow_runs", ws.runs_kept, ws.runs_persisted)
        # Parsed files by path, reused while (mtime, size) stay the same.
        self._files: dict[Path, tuple[tuple[int, int], Workflow | errors.LakehouseError]] = {}
        self._files_lock = threading.Lock()

    # Definitions ------------------------------------------------------------------------

    def parse(self, text: str, source: str = "") -> Workflow:
        return parse_workflow(text, self.catalog, self._settings.workflows, source)

    def _file(self, path: Path) -> Workflow | errors.LakehouseError:
        try:
            stat = path.stat()
            key = (stat.st_mtime_ns, stat.st_size)
            with self._files_lock:
                cached = self._files.get(path)
            if cached is not None and cached[0] == key:
                return cached[1]
            loaded: Workflow | errors.LakehouseError = self.parse(path.read_text(), str(path))
        except errors.LakehouseError as exc:
            loaded = exc
        except (OSError, UnicodeDecodeError) as exc:
            return errors.InvalidArgument(f"cannot read it: {exc}")
        with self._files_lock:
            self._files[path] = (key, loaded)
        return loaded

    def _known(self) -> tuple[dict[str, tuple[str, Workflow]], list[str]]:
        """Known workflows by name (with their origin), and the files that do not load."""
        known: dict[str, tuple[str, Workflow]] = {}
        invalid: list[str] = []
        for origin, directory in self._dirs:
            paths = sorted({p for pattern in PATTERNS for p in directory.glob(pattern)}) if directory.is_dir() else []
            for path in paths:
                loaded = self._file(path)
                if isinstance(loaded, errors.LakehouseError):
                    invalid.append(f"{origin}/{path.name}: {loaded.message}")
                elif loaded.name in known:
                    if known[loaded.name][0] == origin:  # an example shadowed by a home one is not a problem
                        invalid.append(f"{origin}/{path.name}: the name {loaded.name!r} is taken by another file")
                else:
                    known[loaded.name] = (origin, loaded)
        return known, invalid

    def list(self) -> WorkflowListing:
        known, invalid = self._known()
        infos = [
            WorkflowInfo(w.name, w.description, origin, tuple(n.id for n in w.nodes), tuple(w.inputs))
            for origin, w in (known[name] for name in sorted(known))
        ]
        return WorkflowListing(infos, invalid)

    def load(self, request: RunRequest) -> Workflow:
        if bool(request.yaml) == bool(request.name):
            raise errors.InvalidArgument(
                "give the workflow as yaml (its text) or as name (a known workflow), one of them",
                reason=WORKFLOW_SOURCE_REQUIRED,
                violations=[FieldViolation("yaml", "exactly one of yaml and name")],
            )
        if request.yaml:
            return self.parse(request.yaml)
        known, _ = self._known()
        if request.name not in known:
            names = ", ".join(sorted(known)) or "none"
            raise errors.NotFound(
                f"no known workflow is named {request.name!r} (known: {names})",
                reason=WORKFLOW_NOT_FOUND,
                metadata={"name": request.name},
            )
        return known[request.name][1]

    @staticmethod
    def inputs_for(workflow: Workflow, given: Mapping[str, Any]) -> dict[str, Any]:
        """The run's inputs: given values, then defaults; unknown and missing ones refused."""
        unknown = [k for k in given if k not in workflow.inputs]
        if unknown:
            declared = ", ".join(workflow.inputs) or "none"
            raise errors.InvalidArgument(
                f"workflow {workflow.name!r} has no input {', '.join(map(repr, unknown))} (inputs: {declared})",
                reason=WORKFLOW_UNKNOWN_INPUT,
                violations=[FieldViolation(f"inputs.{k}", "not an input of the workflow") for k in unknown],
            )
        values = dict(given)
        missing = []
        for spec in workflow.inputs.values():
            if spec.name in values:
                continue
            if spec.has_default:
                values[spec.name] = spec.default
            elif spec.required:
                missing.append(spec.name)
        if missing:
            raise errors.InvalidArgument(
                f"workflow {workflow.name!r} needs the input {', '.join(map(repr, missing))}",
                reason=WORKFLOW_MISSING_INPUT,
                violations=[FieldViolation(f"inputs.{k}", "required") for k in missing],
            )
        return values

    # Runs -------------------------------------------------------------------------------

    def _runner(self, request: RunRequest, emit=None) -> Runner:
        workflow = self.load(request)
        inputs = self.inputs_for(workflow, request.inputs)
        limit = self._settings.workflows.max_running_runs
        if self._store.running_count() >= limit:
            raise errors.ResourceExhausted(
                f"{limit} workflow runs are in flight (workflows.max_running_runs); try again when one ends",
                reason=TOO_MANY_WORKFLOW_RUNS,
            )
        runner = Runner(
            workflow,
            inputs,
            run_id=uuid.uuid4().hex,
            services=self._services,
            catalog=self.catalog,
            settings=self._settings,
            recorder=self._recorder,
            emit=emit,
        )
        self._store.start(runner)
        return runner

    def _execute(self, runner: Runner) -> WorkflowRun:
        try:
            runner.run()
        finally:
            run = self._store.finish(runner)
        return run

    def run(self, request: RunRequest) -> WorkflowRun:
        return self._execute(self._runner(request))

    def stream(self, request: RunRequest) -> Iterator[WorkflowEvent]:
        """Refusals raise here, before the first event; the run goes on in a thread of its own."""
        events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        runner = self._runner(request, emit=events.put)
        finished: list[WorkflowRun] = []

        def execute() -> None:
            try:
                finished.append(self._execute(runner))
            finally:
                events.put(_END)

        # In a copy of this context: the run keeps its caller (auth scope) on its own thread.
        run = contextvars.copy_context().run
        threading.Thread(target=run, args=(execute,), name=f"workflow-run-{runner.run_id[:8]}", daemon=True).start()
        return self._events(runner, events, finished)

    def _events(
        self, runner: Runner, events: queue.SimpleQueue, finished: list[WorkflowRun]
    ) -> Iterator[WorkflowEvent]:
        try:
            while (event := events.get()) is not _END:
                yield event
            yield RunFinished(finished[0] if finished else runner.snapshot())
        finally:
            if not runner.done.is_set():
                runner.cancel()  # the caller went away: stop the run

    def get_run(self, run_id: str) -> WorkflowRun:
        run = self._store.get(run_id)
        if run is None:
            raise errors.NotFound(
                f"no workflow run {run_id!r}", reason=WORKFLOW_RUN_NOT_FOUND, metadata={"run_id": run_id}
            )
        return run

    def cancel(self, run_id: str) -> WorkflowRun:
        """Cancel a running run and return it once it has stopped; a finished run is
        returned as it ended."""
        runner = self._store.runner(run_id)
        if runner is None:
            return self.get_run(run_id)
        runner.cancel()
        runner.done.wait()
        return self.get_run(run_id)

    def close(self) -> None:
        for runner in self._store.running():
            runner.cancel()
