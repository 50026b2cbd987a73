"""The mode catalog: what a ``mode`` node calls.

Every mode has one signature, ``(context, input: dict) -> dict``, and declares a JSON
Schema for its input; the schema is checked when a workflow is loaded (on the values
written in the YAML) and again before each call (on the values after substitution).
Adding a mode is one registration::

    @register("drift.scorer", {"type": "object", "properties": {...}, "required": [...]},
              "Scores how far today's outcomes drift from the recorded history.")
    def drift_scorer(ctx: ModeContext, args: dict) -> dict: ...

and, for a new module, its name in ``MODE_MODULES``. A mode reaches other services only
through ``ctx.services`` (their APIs: the cores when co-resident, remotes otherwise), so
where a service runs is decided in one place (the Runtime), never in a mode.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from lakehouse.api.errors import Cancelled
from lakehouse.api.matrix import MatrixApi
from lakehouse.api.models import ModelsApi
from lakehouse.api.query import QueryApi
from lakehouse.api.vector import VectorApi
from lakehouse.servers.settings import Settings
from lakehouse.servers.vocabulary import Vocabulary

# Modules whose import registers the shipped modes.
MODE_MODULES = (
    "lakehouse.servers.workflows.builtin",
    "lakehouse.servers.workflows.facts",
    "lakehouse.servers.distillation.modes",
    "lakehouse.servers.drift.modes",
    "lakehouse.servers.truth.modes",
    "lakehouse.servers.pathway.modes",
    "lakehouse.servers.validation.modes",
)
CANCELLED_BY_RUN = "NODE_CANCELLED"


@dataclass(frozen=True)
class Services:
    """The APIs modes call, each resolved on first use (in-process core or remote)."""

    matrix: Callable[[], MatrixApi]
    models: Callable[[], ModelsApi]
    query: Callable[[], QueryApi]
    vector: Callable[[], VectorApi]
    vocabulary: Vocabulary
    settings: Settings
    # DistillationApi (distillation.score, drift.scorer); None where no runner wires it.
    distillation: Callable[[], Any] | None = None
    # DriftApi (drift.playbook, drift.embedding, drift.audit); None where no runner wires it.
    drift: Callable[[], Any] | None = None
    # TruthApi (truth.check); None: the mode builds a core over query (servers/truth/modes.py).
    truth: Callable[[], Any] | None = None
    # PathwayApi (pathway.record, pathway.nearest); None where no runner wires it.
    pathway: Callable[[], Any] | None = None
    # ValidationApi (validator.check); None where no runner wires it.
    validation: Callable[[], Any] | None = None


class ModeContext:
    """What a mode knows about the call: which run and node, the services, the model the
    workflow (or node) names, and a cancellation signal. A long mode calls ``progress()``
    as it advances (the node's idle timeout counts from the last call) and checks
    ``cancelled`` (or registers ``on_cancel``) so a timeout or a cancelled run stops it."""

    def __init__(
        self,
        services: Services,
        *,
        workflow: str,
        run_id: str,
        node_id: str,
        attempt: int = 1,
        provider: str = "",
        model: str = "",
    ) -> None:
        self.services = services
        self.workflow = workflow
        self.run_id = run_id
        self.node_id = node_id
        self.attempt = attempt
        self.provider = provider
        self.model = model
        self.last_progress = time.monotonic()
        self._cancelled = threading.Event()
        self._on_cancel: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def progress(self) -> None:
        self.last_progress = time.monotonic()

    def check_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise Cancelled(f"node {self.node_id!r} was stopped", reason=CANCELLED_BY_RUN)

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the attempt is stopped (at once if it already is)."""
        with self._lock:
            if not self._cancelled.is_set():
                self._on_cancel.append(callback)
                return
        _quietly(callback)

    def cancel(self) -> None:
        """Stop the attempt (the runner's, on a timeout or a cancelled run)."""
        with self._lock:
            self._cancelled.set()
            callbacks, self._on_cancel = self._on_cancel, []
        for callback in callbacks:
            _quietly(callback)


def _quietly(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:  # noqa: BLE001 - a stop hook must not fail the stop (e.g. a query already over)
        pass


ModeFn = Callable[[ModeContext, dict[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class Mode:
    name: str
    fn: ModeFn
    input_schema: Mapping[str, Any]
    description: str = ""
    validator: Draft202012Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        Draft202012Validator.check_schema(self.input_schema)
        checker = Draft202012Validator.FORMAT_CHECKER  # "format": "regex" is checked, not only noted
        object.__setattr__(self, "validator", Draft202012Validator(self.input_schema, format_checker=checker))


def schema_errors(validator: Draft202012Validator, instance: Any) -> list[tuple[list[Any], str]]:
    """Each error as (path, message); an error of ``oneOf``/``anyOf`` is explained by its
    most relevant branch ("'(x' is not a 'regex'" rather than "not valid under any of the
    given schemas")."""
    out = []
    for error in validator.iter_errors(instance):
        shown = _deepest(error)
        out.append((list(shown.absolute_path), shown.message))
    return out


def _deepest(error: ValidationError) -> ValidationError:
    """The branch error that reached furthest into the value (the branch the value was
    meant for), ties broken by jsonschema's own relevance."""
    if not error.context:
        return error
    depth = max(len(e.absolute_path) for e in error.context)
    return _deepest(best_match([e for e in error.context if len(e.absolute_path) == depth]))


class ModeCatalog:
    def __init__(self, modes: Mapping[str, Mode] | None = None) -> None:
        self._modes: dict[str, Mode] = dict(modes or {})

    def add(self, mode: Mode) -> Mode:
        if mode.name in self._modes:
            raise ValueError(f"mode {mode.name!r} is registered twice")
        self._modes[mode.name] = mode
        return mode

    def register(self, name: str, input_schema: Mapping[str, Any], description: str = "") -> Callable[[ModeFn], ModeFn]:
        def decorate(fn: ModeFn) -> ModeFn:
            self.add(Mode(name, fn, input_schema, description or (fn.__doc__ or "").strip()))
            return fn

        return decorate

    def get(self, name: str) -> Mode | None:
        return self._modes.get(name)

    def names(self) -> list[str]:
        return sorted(self._modes)

    def __iter__(self) -> Iterator[Mode]:
        return iter(self._modes.values())

    def copy(self) -> ModeCatalog:
        return ModeCatalog(self._modes)


# The shipped modes register here when their modules are imported.
BUILTIN = ModeCatalog()
register = BUILTIN.register


def default_catalog() -> ModeCatalog:
    """A copy of the shipped catalog (a caller may add modes to its copy)."""
    for module in MODE_MODULES:
        importlib.import_module(module)
    return BUILTIN.copy()
