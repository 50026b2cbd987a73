"""Stand-ins for the workflow tests: a list-backed recorder, services whose APIs are fakes
(or real cores), and a core over a temporary home."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakehouse.api.observer import ObservedOp
from lakehouse.servers.settings import Settings
from lakehouse.servers.vocabulary import Vocabulary
from lakehouse.servers.workflows.core import WorkflowsCore
from lakehouse.servers.workflows.modes import ModeCatalog, Services, default_catalog


class ListRecorder:
    """A Recorder that keeps every op in a list."""

    def __init__(self) -> None:
        self.ops: list[ObservedOp] = []
        self._lock = threading.Lock()

    def record(self, op: ObservedOp) -> None:
        with self._lock:
            self.ops.append(op)


def _absent(name: str) -> Callable[[], Any]:
    def fail() -> Any:
        raise AssertionError(f"this test gives no {name} API")

    return fail


def services(
    settings: Settings,
    *,
    matrix: Any = None,
    models: Any = None,
    query: Any = None,
    vector: Any = None,
) -> Services:
    def given(api: Any, name: str) -> Callable[[], Any]:
        return (lambda: api) if api is not None else _absent(name)

    return Services(
        matrix=given(matrix, "matrix"),
        models=given(models, "models"),
        query=given(query, "query"),
        vector=given(vector, "vector"),
        vocabulary=Vocabulary(settings.vocabulary),
        settings=settings,
    )


def make_core(
    home: Path,
    *,
    catalog: ModeCatalog | None = None,
    recorder: ListRecorder | None = None,
    settings: Settings | None = None,
    **apis: Any,
) -> tuple[WorkflowsCore, ListRecorder]:
    settings = settings or Settings(home=home)
    recorder = recorder if recorder is not None else ListRecorder()
    core = WorkflowsCore(settings, services(settings, **apis), recorder, catalog or default_catalog())
    return core, recorder


def workflow(*nodes: str, inputs: str = "", name: str = "t") -> str:
    """A workflow's YAML from node blocks (each a YAML mapping written at column 0)."""
    body = "\n".join("  - " + "\n    ".join(n.strip("\n").splitlines()) for n in nodes)
    head = f"name: {name}\ndescription: a test workflow\n"
    if inputs:
        head += "inputs:\n" + "\n".join("  " + line for line in inputs.strip("\n").splitlines()) + "\n"
    return head + "nodes:\n" + body + "\n"
