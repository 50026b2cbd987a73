"""PathwayCore: record pathways, find the nearest ones for a task, replay them.

A pathway is recorded from given steps or from a finished, succeeded workflow run (its
succeeded nodes, in topological order, as they were written). Its id is a hash of its
content, so recording the same pathway twice keeps one. Every change rewrites the state
file on the lake (``state.py``) before the call returns; the file is read on first use.

Nearest: the bucket vectors sit in one float64 matrix (a row per pathway, in recording
order); a task's scores are its cosine with every row, computed row by row with the same
operations, so equal vectors score exactly equal and ties fall to recording order.

Replay builds a workflow from the steps (their ``with`` as written, the recorded inputs)
and runs it through the workflow core. A step whose mode is not in the catalog any more
fails on its own (PATHWAY_MODE_UNKNOWN) and the steps that depend on it are skipped: the
rest still run, and the call reports each step.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from lakehouse.api import errors
from lakehouse.api.errors import FieldViolation
from lakehouse.api.paging import PagingSettings, bad_page_token
from lakehouse.api.pathway import (
    FAILED_CODE,
    FLAG_DOWNGRADED,
    FLAG_FIELD_MISSING,
    FLAG_PARTIAL,
    FLAG_STEP_SKIPPED,
    FLAG_TYPE_CHANGED,
    PATHWAY_INVALID,
    PATHWAY_LIMIT,
    PATHWAY_MODE_UNKNOWN,
    PATHWAY_NOT_FOUND,
    PATHWAY_RUN_DEFINITION_UNKNOWN,
    PATHWAY_RUN_MISMATCH,
    PATHWAY_RUN_NOT_SUCCEEDED,
    PATHWAY_STATE_UNREADABLE,
    PATHWAY_TASK_NO_TOKENS,
    PATHWAY_TEXT_TOO_LARGE,
    PROMPT_STEP,
    BucketVector,
    BugFingerprint,
    NearestResult,
    Pathway,
    PathwayMatch,
    PathwayStep,
    RecordRequest,
    ReplayResult,
    SemanticFlag,
    StepReplay,
    TypeHint,
)
from lakehouse.api.workflows import (
    FAILED,
    SKIPPED,
    SKIPPED_TRIGGER_RULE,
    SUCCEEDED,
    RunRequest,
    Workflow,
    WorkflowRun,
    _jsonable,
)
from lakehouse.servers.pathway import buckets, state, tokens
from lakehouse.servers.pathway.types import StateError, step_json
from lakehouse.servers.settings import PathwaySettings
from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.workflows.refs import ID_PATTERN, refs_in, refs_in_text

ID_HEX = 32
# Code points PyYAML refuses unescaped (its reader's non-printable set): escaped in the
# JSON text a replay's workflow is given as.
_YAML_UNSAFE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TASK_PREVIEW = 80
MISSING_CODE = "NOT_FOUND"  # BugFingerprint.code of a step whose mode is gone


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return "string"


def pathway_id(task: str, workflow: str, inputs: Mapping[str, Any], steps: Sequence[PathwayStep]) -> str:
    """The content hash that names a pathway (docs/pathway.md)."""
    content = {"task": task, "workflow": workflow, "inputs": dict(inputs), "steps": [step_json(s) for s in steps]}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:ID_HEX]


def output_flags(step: str, output: Any) -> list[SemanticFlag]:
    """Flags a step's output raises by itself (a partial or downgraded search)."""
    if not isinstance(output, Mapping):
        return []
    flags = []
    if output.get("partial") is True:
        flags.append(SemanticFlag(step, FLAG_PARTIAL, "a corpus did not answer; the result is partial"))
    if output.get("downgraded") is True:
        flags.append(SemanticFlag(step, FLAG_DOWNGRADED, str(output.get("mode_reason", ""))))
    return flags


def output_hints(step: str, output: Any) -> list[TypeHint]:
    if not isinstance(output, Mapping):
        return []
    return [TypeHint(step, str(k), json_type(output[k])) for k in sorted(output)]


def hint_flags(hints: Sequence[TypeHint], output: Any) -> list[SemanticFlag]:
    """A replayed output checked against the recorded types of its fields."""
    fields = output if isinstance(output, Mapping) else {}
    flags = []
    for h in hints:
        if h.field not in fields:
            flags.append(SemanticFlag(h.step, FLAG_FIELD_MISSING, f"output has no {h.field!r} (was {h.type})"))
        elif (now := json_type(fields[h.field])) != h.type:
            flags.append(SemanticFlag(h.step, FLAG_TYPE_CHANGED, f"{h.field!r} is {now}, was {h.type}"))
    return flags


def merge_fingerprints(old: Sequence[BugFingerprint], new: Sequence[BugFingerprint]) -> tuple[BugFingerprint, ...]:
    """Counts added by fingerprint; first seen first."""
    merged: dict[str, BugFingerprint] = {b.fingerprint: b for b in old}
    for b in new:
        seen = merged.get(b.fingerprint)
        merged[b.fingerprint] = replace(seen, count=seen.count + b.count) if seen else b
    return tuple(merged.values())


class PathwayCore:
    def __init__(
        self,
        settings: PathwaySettings,
        lake: ObjectStore,
        workflows: Callable[[], Any] | None = None,
        *,
        paging: PagingSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._lake = lake
        self._workflows = workflows  # -> WorkflowsCore (replay, record from a run)
        self._clock = clock
        self._paging = paging or PagingSettings()
        self._lock = threading.RLock()
        self._loaded = False
        self._pathways: list[Pathway] = []
        self._lines: list[str] = []  # each pathway's state-file line
        self._index: dict[str, int] = {}
        self._matrix = np.zeros((0, buckets.BUCKETS), dtype=np.float64)
        self._norms = np.zeros(0, dtype=np.float64)

    # State ------------------------------------------------------------------------------

    def _ensure(self) -> None:
        """Read the state file once (a missing one is an empty memory); a damaged one
        refuses every call rather than being overwritten."""
        if self._loaded:
            return
        try:
            data = b"".join(self._lake.get(self._settings.state_key))
        except errors.NotFound:
            data = b""
        try:
            loaded = state.decode(data).pathways if data else []
        except StateError as exc:
            raise errors.FailedPrecondition(
                f"the pathway state file {self._settings.state_key!r} cannot be read: {exc}",
                reason=PATHWAY_STATE_UNREADABLE,
                metadata={"key": self._settings.state_key},
            ) from None
        capacity = max(2 * len(loaded), 16)
        self._matrix = np.zeros((capacity, buckets.BUCKETS), dtype=np.float64)
        self._norms = np.zeros(capacity, dtype=np.float64)
        if loaded:
            rows = np.frombuffer(b"".join(p.vector for p in loaded), dtype="<f4").reshape(len(loaded), -1)
            self._matrix[: len(loaded)] = rows
            self._norms[: len(loaded)] = _row_norms(self._matrix[: len(loaded)])
        self._pathways = list(loaded)
        self._lines = [state.trace_text(p) for p in loaded]
        self._index = {p.id: i for i, p in enumerate(loaded)}
        self._loaded = True

    def _append(self, p: Pathway) -> None:
        n = len(self._pathways)
        if n == len(self._matrix):
            self._matrix = np.concatenate([self._matrix, np.zeros_like(self._matrix)])
            self._norms = np.concatenate([self._norms, np.zeros_like(self._norms)])
        self._matrix[n] = buckets.vector_from_bytes(p.vector)
        self._norms[n : n + 1] = _row_norms(self._matrix[n : n + 1])
        self._index[p.id] = n
        self._pathways.append(p)
        self._lines.append(state.trace_text(p))

    def _write(self) -> None:
        self._lake.put(self._settings.state_key, [state.encode_lines(self._lines)], state.CONTENT_TYPE)

    def state_bytes(self) -> bytes:
        """The state file's bytes as they are now (what the lake holds)."""
        with self._lock:
            self._ensure()
            return state.encode_lines(self._lines)

    # Checks -----------------------------------------------------------------------------

    def _text(self, name: str, text: str) -> str:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self._settings.max_text_bytes:
            raise errors.invalid_field(
                name, f"{size} bytes of UTF-8; at most {self._settings.max_text_bytes}", PATHWAY_TEXT_TOO_LARGE
            )
        return text

    def _task(self, text: str, name: str = "task") -> str:
        if not text.strip():
            raise errors.invalid_field(name, "required: the task in words", PATHWAY_INVALID)
        if not tokens.tokens(self._text(name, text)):
            raise errors.invalid_field(name, "has no word to hash it by", PATHWAY_TASK_NO_TOKENS)
        return text

    def _checked_steps(self, steps: Sequence[PathwayStep]) -> list[PathwayStep]:
        problems: list[FieldViolation] = []
        if not steps:
            problems.append(FieldViolation("steps", "required: at least one step"))
        if len(steps) > self._settings.max_steps:
            problems.append(FieldViolation("steps", f"{len(steps)} steps; at most {self._settings.max_steps}"))
        seen: set[str] = set()
        for i, s in enumerate(steps):
            where = f"steps[{i}]"
            if not ID_PATTERN.match(s.id):
                problems.append(
                    FieldViolation(f"{where}.id", "letters, digits, '_' and '-', not starting with a digit")
                )
            elif s.id in seen:
                problems.append(FieldViolation(f"{where}.id", f"{s.id!r} is given twice"))
            if not s.mode:
                problems.append(FieldViolation(f"{where}.mode", "required: a mode name, or 'prompt'"))
            elif (s.mode == PROMPT_STEP) != bool(s.prompt):
                problems.append(FieldViolation(f"{where}.prompt", "a prompt step has a prompt, a mode step none"))
            for d in s.depends_on:
                if d not in seen:
                    problems.append(FieldViolation(f"{where}.depends_on", f"{d!r} is not a step before it"))
            if not isinstance(s.args, Mapping):
                problems.append(FieldViolation(f"{where}.args", "expected an object"))
            seen.add(s.id)
        if problems:
            raise errors.InvalidArgument(
                "the pathway is malformed: " + "; ".join(f"{p.field}: {p.description}" for p in problems[:3]),
                reason=PATHWAY_INVALID,
                violations=problems,
            )
        return [replace(s, args=_jsonable(dict(s.args)), depends_on=tuple(s.depends_on)) for s in steps]

    # Record -----------------------------------------------------------------------------

    def record(self, request: RecordRequest) -> Pathway:
        if request.run_id:
            return self._store(*self._from_run(request))
        if request.yaml:
            raise errors.invalid_field("yaml", "is the definition of a run: give it with run_id", PATHWAY_INVALID)
        task = self._task(request.task)
        steps = self._checked_steps(request.steps)
        return self._store(task, steps, _jsonable(dict(request.inputs)), request.workflow, "", [], [])

    def _from_run(self, request: RecordRequest) -> tuple:
        if request.steps or request.inputs or request.workflow:
            what = "a run is recorded with its own steps, inputs and workflow: give only task and yaml"
            raise errors.invalid_field("run_id", what, PATHWAY_INVALID)
        workflows = self._workflows_core()
        run: WorkflowRun = workflows.get_run(request.run_id)
        if run.status != SUCCEEDED:
            raise errors.FailedPrecondition(
                f"workflow run {run.run_id} {run.status}; only a succeeded run is a pathway",
                reason=PATHWAY_RUN_NOT_SUCCEEDED,
                metadata={"run_id": run.run_id, "status": run.status},
            )
        definition = self._definition(workflows, run, request.yaml)
        results = {n.node_id: n for n in run.nodes}
        taken = {n.id for n in definition.nodes if results[n.id].status == SUCCEEDED}
        steps, flags, hints = [], [], []
        for node in definition.nodes:
            result = results[node.id]
            if node.id not in taken:
                detail = f"{result.status} ({result.reason})" if result.reason else result.status
                flags.append(SemanticFlag(node.id, FLAG_STEP_SKIPPED, detail))
                continue
            steps.append(
                PathwayStep(
                    id=node.id,
                    mode=node.kind,
                    args=dict(node.args),
                    depends_on=tuple(d for d in node.depends_on if d in taken),
                    prompt=node.prompt or "",
                    when=node.when or "",
                )
            )
            flags += output_flags(node.id, result.output)
            hints += output_hints(node.id, result.output)
        task = self._task(request.task or _run_task(run))
        inputs = _jsonable(dict(run.inputs))
        return task, self._checked_steps(steps), inputs, run.workflow, run.run_id, flags, hints

    def _definition(self, workflows: Any, run: WorkflowRun, yaml: str) -> Workflow:
        if yaml:
            definition = workflows.parse(yaml)
        else:
            try:
                definition = workflows.load(RunRequest(name=run.workflow))
            except errors.NotFound:
                raise errors.FailedPrecondition(
                    f"workflow {run.workflow!r} of run {run.run_id} is not a known workflow: give its yaml",
                    reason=PATHWAY_RUN_DEFINITION_UNKNOWN,
                    metadata={"run_id": run.run_id, "workflow": run.workflow},
                ) from None
        if definition.name != run.workflow or {n.id for n in definition.nodes} != {n.node_id for n in run.nodes}:
            raise errors.invalid_field(
                "yaml", f"is not the workflow run {run.run_id} ran ({run.workflow!r})", PATHWAY_RUN_MISMATCH
            )
        return definition

    def _store(
        self,
        task: str,
        steps: list[PathwayStep],
        inputs: dict[str, Any],
        workflow: str,
        run_id: str,
        flags: list[SemanticFlag],
        hints: list[TypeHint],
    ) -> Pathway:
        pid = pathway_id(task, workflow, inputs, steps)
        with self._lock:
            self._ensure()
            if pid in self._index:
                return self._pathways[self._index[pid]]
            if len(self._pathways) >= self._settings.max_pathways:
                raise errors.ResourceExhausted(
                    f"{len(self._pathways)} pathways are recorded (pathway.max_pathways)", reason=PATHWAY_LIMIT
                )
            pathway = Pathway(
                id=pid,
                task=task,
                steps=tuple(steps),
                vector=buckets.vector_bytes(task),
                recorded_at=self._clock(),
                inputs=inputs,
                workflow=workflow,
                source_run_id=run_id,
                flags=tuple(flags),
                type_hints=tuple(hints),
            )
            self._append(pathway)
            try:
                self._write()
            except BaseException:
                self._drop_last()
                raise
            return pathway

    def _drop_last(self) -> None:
        p = self._pathways.pop()
        self._lines.pop()
        del self._index[p.id]
        self._matrix[len(self._pathways)] = 0.0
        self._norms[len(self._pathways)] = 0.0

    # Read -------------------------------------------------------------------------------

    def get(self, pathway_id: str) -> Pathway:
        with self._lock:
            self._ensure()
            at = self._index.get(pathway_id)
            if at is None:
                raise errors.NotFound(
                    f"no pathway {pathway_id!r}", reason=PATHWAY_NOT_FOUND, metadata={"id": pathway_id}
                )
            return self._pathways[at]

    def list(self, page_size: int = 0, page_token: str = "") -> tuple[list[Pathway], str, int]:
        """Pages in recording order; the token is the position after the page."""
        size = self._paging.size(page_size)
        start = 0
        if page_token:
            if not page_token.isdigit():
                raise bad_page_token()
            start = int(page_token)
        with self._lock:
            self._ensure()
            page = self._pathways[start : start + size]
            end = start + len(page)
            return list(page), (str(end) if end < len(self._pathways) else ""), len(self._pathways)

    def nearest(self, task: str, k: int = 0, min_score: float | None = None) -> NearestResult:
        task = self._task(task)
        s = self._settings
        if k < 0:
            raise errors.invalid_field("k", "must not be negative", PATHWAY_INVALID)
        k = min(k or s.nearest_k, s.max_nearest_k)
        floor = s.nearest_min_score if min_score is None else min_score
        if not -1.0 <= floor <= 1.0:  # also refuses NaN
            raise errors.invalid_field("min_score", "a cosine, from -1 to 1", PATHWAY_INVALID)
        q = buckets.vector(task).astype(np.float64)
        q_norm = float(np.sqrt((q * q).sum()))
        with self._lock:
            self._ensure()
            n = len(self._pathways)
            rows, norms = self._matrix[:n], self._norms[:n]
            with np.errstate(invalid="ignore", divide="ignore"):
                scores = (rows * q).sum(axis=1) / (norms * q_norm)
            scores = np.where(norms > 0, scores, 0.0)
            order = _top(scores, floor, k)
            matches = tuple(
                PathwayMatch(self._pathways[i], float(scores[i]), rank) for rank, i in enumerate(order, start=1)
            )
        return NearestResult(matches, n)

    def bucket_vector(self, text: str) -> BucketVector:
        text = self._text("text", text)
        data = buckets.vector_bytes(text)
        values = tuple(float(v) for v in buckets.vector_from_bytes(data))
        return BucketVector(data, values, len(tokens.tokens(text)), buckets.ALGORITHM)

    # Replay -----------------------------------------------------------------------------

    def replay(self, pathway_id: str, inputs: Mapping[str, Any] | None = None) -> ReplayResult:
        pathway = self.get(pathway_id)
        values = dict(pathway.inputs)
        unknown = sorted(set(inputs or {}) - set(values))
        if unknown:
            raise errors.InvalidArgument(
                f"pathway {pathway.id} has no input {', '.join(map(repr, unknown))}",
                reason=PATHWAY_INVALID,
                violations=[FieldViolation(f"inputs.{k}", "not an input of the pathway") for k in unknown],
            )
        values.update(_jsonable(dict(inputs or {})))
        workflows = self._workflows_core()
        missing = {s.id for s in pathway.steps if s.mode != PROMPT_STEP and workflows.catalog.get(s.mode) is None}
        blocked: set[str] = set()
        for s in pathway.steps:  # in order: a step's dependencies come before it
            if s.id not in missing and any(d in missing or d in blocked for d in s.depends_on):
                blocked.add(s.id)
        runnable = [s for s in pathway.steps if s.id not in missing and s.id not in blocked]
        run, refused = self._run_steps(workflows, pathway, runnable, values)
        nodes = {n.node_id: n for n in run.nodes} if run else {}
        codes = {op.node_id: op.code for op in run.ops} if run else {}
        hints: dict[str, list[TypeHint]] = {}
        for h in pathway.type_hints:
            hints.setdefault(h.step, []).append(h)
        steps, flags, prints = [], [], []
        for s in pathway.steps:
            if s.id in missing:
                steps.append(StepReplay(s.id, s.mode, FAILED, PATHWAY_MODE_UNKNOWN, f"no mode {s.mode!r} any more"))
                prints.append(BugFingerprint(s.mode, MISSING_CODE, PATHWAY_MODE_UNKNOWN))
            elif s.id in blocked:
                steps.append(
                    StepReplay(s.id, s.mode, SKIPPED, SKIPPED_TRIGGER_RULE, "a step it depends on could not run")
                )
            elif refused is not None:
                steps.append(StepReplay(s.id, s.mode, FAILED, refused.reason, refused.message))
                prints.append(BugFingerprint(s.mode, refused.code, refused.reason))
            else:
                node = nodes[s.id]
                steps.append(StepReplay(s.id, s.mode, node.status, node.reason, node.error, node.latency_ms))
                if node.status == SUCCEEDED:
                    flags += output_flags(s.id, node.output) + hint_flags(hints.get(s.id, ()), node.output)
                else:
                    code = codes.get(s.id, "")
                    prints.append(BugFingerprint(s.mode, code if code and code != "OK" else FAILED_CODE, node.reason))
        ok = all(st.status == SUCCEEDED for st in steps)
        prints_t = merge_fingerprints((), prints)
        self._count_replay(pathway.id, ok, prints_t)
        return ReplayResult(pathway.id, run.run_id if run else "", ok, tuple(steps), tuple(flags), prints_t)

    def _run_steps(
        self, workflows: Any, pathway: Pathway, steps: list[PathwayStep], inputs: dict[str, Any]
    ) -> tuple[WorkflowRun | None, errors.LakehouseError | None]:
        """The steps run as one workflow; a definition the workflow core refuses (a step's
        arguments its mode no longer accepts) is returned as the refusal, for every step."""
        if not steps:
            return None, None
        text = replay_workflow(pathway, steps, inputs)
        try:
            return workflows.run(RunRequest(yaml=text, inputs=inputs)), None
        except errors.InvalidArgument as exc:
            return None, exc

    def _count_replay(self, pid: str, ok: bool, prints: Sequence[BugFingerprint]) -> None:
        with self._lock:
            at = self._index.get(pid)
            if at is None:
                return
            old = self._pathways[at]
            new = replace(
                old,
                replays=old.replays + 1,
                replay_failures=old.replay_failures + (0 if ok else 1),
                fingerprints=merge_fingerprints(old.fingerprints, prints),
            )
            line = state.trace_text(new)
            self._pathways[at], self._lines[at] = new, line
            try:
                self._write()
            except BaseException:
                self._pathways[at], self._lines[at] = old, state.trace_text(old)
                raise

    def _workflows_core(self) -> Any:
        if self._workflows is None:
            raise errors.FailedPrecondition("this pathway memory has no workflow core to run steps with")
        return self._workflows()

    def close(self) -> None:
        return None


def replay_workflow(pathway: Pathway, steps: Sequence[PathwayStep], inputs: Mapping[str, Any]) -> str:
    """The workflow (as JSON text, which is YAML) that replays ``steps``."""
    referenced = {r.input for s in steps for r in (*refs_in(dict(s.args)), *refs_in_text(s.prompt + s.when))}
    names = sorted(set(inputs) | {name for name in referenced if name})
    nodes = []
    for s in steps:
        node: dict[str, Any] = {"id": s.id}
        if s.depends_on:
            node["depends_on"] = list(s.depends_on)
        if s.mode == PROMPT_STEP:
            node["prompt"] = s.prompt
        else:
            node["mode"] = s.mode
            node["with"] = dict(s.args)
        if s.when:
            node["when"] = s.when
        nodes.append(node)
    doc = {
        "name": f"pathway-{pathway.id[:12]}",
        "description": f"replay of pathway {pathway.id}: {pathway.task[:_TASK_PREVIEW]}",
        "inputs": {name: {"required": False} for name in names},
        "nodes": nodes,
    }
    text = json.dumps(doc, ensure_ascii=False, allow_nan=False)
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _run_task(run: WorkflowRun) -> str:
    """A run's default task: its workflow's name and its text inputs, by input name."""
    texts = [str(run.inputs[k]) for k in sorted(run.inputs) if isinstance(run.inputs[k], str)]
    return " ".join([run.workflow, *texts])


def _row_norms(rows: np.ndarray) -> np.ndarray:
    """Each row's length, by one reduction for any number of rows (a row loaded and a row
    recorded get the same bits, so equal vectors keep scoring equal)."""
    return np.sqrt((rows * rows).sum(axis=1))


def _top(scores: np.ndarray, floor: float, k: int) -> list[int]:
    """Indices of the best ``k`` scores above ``floor``, best first, ties in index order."""
    idx = np.nonzero(scores > floor)[0]
    if len(idx) > k:
        kth = -np.partition(-scores[idx], k - 1)[k - 1]
        idx = idx[scores[idx] >= kth]  # every tie of the k-th kept, then ordered
    order = idx[np.lexsort((idx, -scores[idx]))]
    return [int(i) for i in order[:k]]
