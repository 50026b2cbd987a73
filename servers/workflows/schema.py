"""A workflow definition read and validated: nothing runs until all of this holds.

The YAML is Archon's nodes-only DAG (``coleam00/Archon``, ``packages/workflows/src/
schemas/``): a workflow has ``name``, ``description``, optional ``provider``, ``model`` and
``inputs``, and ``nodes``; a node has an ``id``, ``depends_on``, exactly one of ``prompt``
and ``mode`` (+ ``with``), and the options ``when``, ``trigger_rule``, ``retry``,
``idle_timeout``, ``output_format``, ``provider``, ``model``, ``effort``, ``allowed_tools``
and ``description``.

Checks, in stages (the first stage with problems is reported, all of its problems at once,
as INVALID_ARGUMENT with one field violation each):

1. the text: its size, YAML syntax (line and column), duplicate keys;
2. the shape: required fields, types, unknown keys (listed, never ignored), the node limit;
3. the graph: unique ids, every ``depends_on`` exists, no cycle (the cycle is named);
4. the content: every ``$id.output[.field]`` names a node the referencing node depends on,
   directly or transitively (and a field its ``output_format`` declares, when it declares
   properties), every ``$INPUTS.name`` a declared input, every ``when`` parses, every mode
   is in the catalog, and ``with`` satisfies the mode's input schema (values holding a
   reference are checked after substitution, before the call).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from lakehouse.api.errors import FieldViolation, InvalidArgument
from lakehouse.api.workflows import (
    ALL_SUCCESS,
    TRIGGER_RULES,
    WORKFLOW_BAD_CONDITION,
    WORKFLOW_BAD_REFERENCE,
    WORKFLOW_CYCLE,
    WORKFLOW_DUPLICATE_ID,
    WORKFLOW_INVALID,
    WORKFLOW_INVALID_WITH,
    WORKFLOW_TOO_LARGE,
    WORKFLOW_TOO_MANY_NODES,
    WORKFLOW_UNKNOWN_DEPENDENCY,
    WORKFLOW_UNKNOWN_KEYS,
    WORKFLOW_UNKNOWN_MODE,
    WORKFLOW_YAML_SYNTAX,
    InputSpec,
    Node,
    Retry,
    Workflow,
)
from lakehouse.servers.settings import WorkflowSettings
from lakehouse.servers.workflows import conditions, graph
from lakehouse.servers.workflows.modes import ModeCatalog, schema_errors
from lakehouse.servers.workflows.refs import ID_PATTERN, INPUTS, Ref, has_refs, refs_in, refs_in_text

WORKFLOW_KEYS = ("name", "description", "provider", "model", "inputs", "nodes")
INPUT_KEYS = ("required", "default", "description")
NODE_KEYS = (
    "id",
    "description",
    "depends_on",
    "prompt",
    "mode",
    "with",
    "when",
    "trigger_rule",
    "retry",
    "idle_timeout",
    "output_format",
    "provider",
    "model",
    "effort",
    "allowed_tools",
)
RETRY_KEYS = ("max_attempts", "delay_ms")
# Archon's effort ladder (accepted and recorded; no provider here reads it yet).
EFFORT_LEVELS = ("minimal", "low", "medium", "high", "xhigh", "max")
# Violations listed in a message before "and N more".
MESSAGE_VIOLATIONS = 3


@dataclass(frozen=True)
class Problem:
    reason: str
    field: str
    description: str


def refuse(problems: list[Problem], name: str = "") -> InvalidArgument:
    """One INVALID_ARGUMENT for a stage's problems: the first one's reason, each a violation."""
    shown = "; ".join(f"{p.field}: {p.description}" for p in problems[:MESSAGE_VIOLATIONS])
    more = len(problems) - MESSAGE_VIOLATIONS
    what = f"workflow {name!r}" if name else "the workflow"
    message = f"{what} is invalid: {shown}" + (f" (and {more} more)" if more > 0 else "")
    metadata = {"problems": str(len(problems))}
    if name:
        metadata["workflow"] = name
    return InvalidArgument(
        message,
        reason=problems[0].reason,
        metadata=metadata,
        violations=[FieldViolation(p.field, p.description) for p in problems],
    )


# 1. The text ---------------------------------------------------------------------


# libyaml's parser when the wheel has it (~10x faster than the pure-Python one; the same
# marks), with the safe constructors either way.
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UniqueKeyLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """The safe loader, refusing a key given twice in one mapping (YAML keeps the last one
    silently)."""


def _mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"found the key {key!r} twice", key_node.start_mark
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(text: str, settings: WorkflowSettings) -> Any:
    size = len(text.encode())
    if size > settings.max_yaml_bytes:
        raise refuse([Problem(WORKFLOW_TOO_LARGE, "yaml", f"{size} bytes; at most {settings.max_yaml_bytes}")])
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "not YAML"
        error = refuse([Problem(WORKFLOW_YAML_SYNTAX, "yaml", f"line {line}, column {column}: {problem}")])
        error.metadata.update({"line": str(line), "column": str(column)})
        return _raise(error)
    except yaml.YAMLError as exc:
        return _raise(refuse([Problem(WORKFLOW_YAML_SYNTAX, "yaml", str(exc))]))


def _raise(error: Exception) -> Any:
    raise error


# 2. The shape --------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Shape:
    """Reads the parsed YAML into a Workflow, collecting every problem of its shape."""

    def __init__(self, settings: WorkflowSettings) -> None:
        self.settings = settings
        self.problems: list[Problem] = []

    def problem(self, field: str, description: str, reason: str = WORKFLOW_INVALID) -> None:
        self.problems.append(Problem(reason, field, description))

    def unknown(self, where: str, raw: Mapping[str, Any], known: tuple[str, ...]) -> None:
        for key in raw:
            if key not in known:
                self.problem(
                    f"{where}.{key}" if where else str(key),
                    f"unknown key {str(key)!r} (known: {', '.join(known)})",
                    WORKFLOW_UNKNOWN_KEYS,
                )

    def text(self, field: str, value: Any, *, required: bool = False) -> str:
        if value is None:
            if required:
                self.problem(field, "required")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(field, "expected a non-empty string" if required else "expected a string")
            return ""
        return value

    def strings(self, field: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(field, "expected a list of strings")
            return ()
        return tuple(value)

    def workflow(self, raw: Any) -> tuple[str, str, str, str, dict[str, InputSpec], list[Node]]:
        if not isinstance(raw, dict):
            self.problem("yaml", "expected a mapping with name, description and nodes")
            return "", "", "", "", {}, []
        self.unknown("", raw, WORKFLOW_KEYS)
        name = self.text("name", raw.get("name"), required=True)
        description = self.text("description", raw.get("description"), required=True)
        provider = self.text("provider", raw.get("provider"))
        model = self.text("model", raw.get("model"))
        inputs = self.inputs(raw.get("inputs"))
        nodes_raw = raw.get("nodes")
        if not isinstance(nodes_raw, list) or not nodes_raw:
            self.problem("nodes", "required: a non-empty list of nodes")
            return name, description, provider, model, inputs, []
        if len(nodes_raw) > self.settings.max_nodes:
            self.problems = [
                Problem(
                    WORKFLOW_TOO_MANY_NODES,
                    "nodes",
                    f"{len(nodes_raw)} nodes; at most {self.settings.max_nodes} (workflows.max_nodes)",
                )
            ]
            return name, description, provider, model, inputs, []
        nodes = [self.node(i, n) for i, n in enumerate(nodes_raw)]
        return name, description, provider, model, inputs, [n for n in nodes if n is not None]

    def inputs(self, raw: Any) -> dict[str, InputSpec]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem("inputs", "expected a mapping of input name to {required, default, description}")
            return {}
        out = {}
        for name, spec in raw.items():
            where = f"inputs.{name}"
            if not isinstance(name, str) or not ID_PATTERN.match(name):
                self.problem(where, "an input name is letters, digits, '_' and '-', starting with a letter or '_'")
                continue
            spec = {} if spec is None else spec
            if not isinstance(spec, dict):
                self.problem(where, "expected a mapping {required, default, description}")
                continue
            self.unknown(where, spec, INPUT_KEYS)
            required = spec.get("required", False)
            if not isinstance(required, bool):
                self.problem(f"{where}.required", "expected true or false")
                required = False
            if required and "default" in spec:
                self.problem(where, "an input with a default is not required: give one or the other")
            out[name] = InputSpec(
                name=name,
                required=required,
                default=spec.get("default"),
                has_default="default" in spec,
                description=self.text(f"{where}.description", spec.get("description")),
            )
        return out

    def node(self, i: int, raw: Any) -> Node | None:
        where = f"nodes[{i}]"
        if not isinstance(raw, dict):
            self.problem(where, "expected a mapping with an id and a prompt or a mode")
            return None
        node_id = raw.get("id")
        if isinstance(node_id, str) and ID_PATTERN.match(node_id) and node_id != INPUTS:
            where = f"nodes.{node_id}"
        else:
            self.problem(
                f"{where}.id",
                f"required: letters, digits, '_' and '-', starting with a letter or '_' (and not {INPUTS})",
            )
            node_id = None
        self.unknown(where, raw, NODE_KEYS)
        prompt, mode = raw.get("prompt"), raw.get("mode")
        if (prompt is None) == (mode is None):
            self.problem(where, "exactly one of prompt and mode")
        if prompt is not None:
            prompt = self.text(f"{where}.prompt", prompt, required=True) or None
            if "with" in raw:
                self.problem(
                    f"{where}.with", "with is for mode nodes (a prompt node writes its values into the prompt)"
                )
        if mode is not None:
            mode = self.text(f"{where}.mode", mode, required=True) or None
        args = raw.get("with", {})
        if args is None or not isinstance(args, dict):
            self.problem(f"{where}.with", "expected a mapping of the mode's arguments")
            args = {}
        trigger_rule = raw.get("trigger_rule", ALL_SUCCESS)
        if trigger_rule not in TRIGGER_RULES:
            self.problem(f"{where}.trigger_rule", f"{trigger_rule!r}: use one of {', '.join(TRIGGER_RULES)}")
            trigger_rule = ALL_SUCCESS
        idle = raw.get("idle_timeout")
        if idle is not None and (not _is_int(idle) or idle <= 0):
            self.problem(f"{where}.idle_timeout", "expected a positive number of milliseconds")
            idle = None
        output_format = raw.get("output_format")
        if output_format is not None:
            output_format = self.json_schema(f"{where}.output_format", output_format)
        effort = self.text(f"{where}.effort", raw.get("effort"))
        if effort and effort not in EFFORT_LEVELS:
            self.problem(f"{where}.effort", f"{effort!r}: use one of {', '.join(EFFORT_LEVELS)}")
        if node_id is None:
            return None
        return Node(
            id=node_id,
            depends_on=self.strings(f"{where}.depends_on", raw.get("depends_on")),
            prompt=prompt,
            mode=mode,
            args=args,
            when=self.text(f"{where}.when", raw.get("when")) or None,
            trigger_rule=trigger_rule,
            retry=self.retry(f"{where}.retry", raw.get("retry")),
            idle_timeout_ms=idle,
            output_format=output_format,
            provider=self.text(f"{where}.provider", raw.get("provider")),
            model=self.text(f"{where}.model", raw.get("model")),
            effort=effort,
            allowed_tools=self.strings(f"{where}.allowed_tools", raw.get("allowed_tools")),
            description=self.text(f"{where}.description", raw.get("description")),
        )

    def retry(self, where: str, raw: Any) -> Retry | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.problem(where, "expected {max_attempts, delay_ms}")
            return None
        self.unknown(where, raw, RETRY_KEYS)
        s = self.settings
        attempts, delay = raw.get("max_attempts"), raw.get("delay_ms", 0)
        if not _is_int(attempts) or not 1 <= attempts <= s.max_retry_attempts:
            self.problem(
                f"{where}.max_attempts", f"required: retries after the first attempt, 1 to {s.max_retry_attempts}"
            )
            return None
        if not _is_int(delay) or not 0 <= delay <= s.max_retry_delay_ms:
            self.problem(f"{where}.delay_ms", f"milliseconds before the first retry, 0 to {s.max_retry_delay_ms}")
            return None
        return Retry(attempts, delay)

    def json_schema(self, where: str, raw: Any) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            self.problem(where, "expected a JSON Schema (a mapping)")
            return None
        try:
            Draft202012Validator.check_schema(raw)
        except SchemaError as exc:
            self.problem(where, f"not a valid JSON Schema: {exc.message}")
            return None
        return raw


# 3. The graph ----------------------------------------------------------------------


def _graph_problems(nodes: list[Node]) -> list[Problem]:
    problems: list[Problem] = []
    ids: set[str] = set()
    for n in nodes:
        if n.id in ids:
            problems.append(Problem(WORKFLOW_DUPLICATE_ID, f"nodes.{n.id}.id", f"the id {n.id!r} is used twice"))
        ids.add(n.id)
    for n in nodes:
        for d in n.depends_on:
            if d not in ids:
                problems.append(
                    Problem(WORKFLOW_UNKNOWN_DEPENDENCY, f"nodes.{n.id}.depends_on", f"no node has the id {d!r}")
                )
    if problems:
        return problems
    cycle = graph.find_cycle({n.id: list(n.depends_on) for n in nodes})
    if cycle:
        shown = " -> ".join(cycle)
        problems.append(
            Problem(WORKFLOW_CYCLE, f"nodes.{cycle[0]}.depends_on", f"cycle: {shown} (each depends on the next)")
        )
    return problems


# 4. The content --------------------------------------------------------------------


def _declared_fields(schema: Mapping[str, Any] | None) -> set[str] | None:
    """The top-level fields an output_format declares (None: it does not say)."""
    if not schema or not isinstance(schema.get("properties"), dict):
        return None
    return set(schema["properties"])


class _Content:
    def __init__(self, workflow: Workflow, catalog: ModeCatalog) -> None:
        self.workflow = workflow
        self.catalog = catalog
        self.by_id = {n.id: n for n in workflow.nodes}
        self.upstream = graph.upstream({n.id: list(n.depends_on) for n in workflow.nodes})
        self.problems: list[Problem] = []

    def check(self) -> list[Problem]:
        for node in self.workflow.nodes:
            where = f"nodes.{node.id}"
            if node.prompt is not None:
                self.refs(node, f"{where}.prompt", refs_in_text(node.prompt))
            self.refs(node, f"{where}.with", refs_in(dict(node.args)))
            if node.when is not None:
                try:
                    condition = conditions.parse(node.when)
                except conditions.ConditionSyntax as exc:
                    self.problems.append(Problem(WORKFLOW_BAD_CONDITION, f"{where}.when", str(exc)))
                else:
                    self.refs(node, f"{where}.when", iter(condition.refs))
            if node.mode is not None:
                self.mode(node, where)
        return self.problems

    def refs(self, node: Node, field: str, refs: Any) -> None:
        for ref in refs:
            why = self.bad_ref(node, ref)
            if why:
                self.problems.append(Problem(WORKFLOW_BAD_REFERENCE, field, f"node {node.id!r}: {ref.text}: {why}"))

    def bad_ref(self, node: Node, ref: Ref) -> str:
        if ref.input is not None:
            if ref.input in self.workflow.inputs:
                return ""
            declared = ", ".join(self.workflow.inputs) or "none"
            return f"the workflow declares no input {ref.input!r} (inputs: {declared})"
        target = self.by_id.get(ref.node or "")
        if target is None:
            return f"no node has the id {ref.node!r}"
        if ref.node == node.id:
            return "a node cannot read its own output"
        if ref.node not in self.upstream[node.id]:
            return (
                f"{ref.node!r} is not upstream of {node.id!r}: add it to depends_on (directly or through another node)"
            )
        declared = _declared_fields(target.output_format)
        if ref.path and declared is not None and ref.path[0] not in declared:
            fields = ", ".join(sorted(declared))
            return f"{ref.node!r}'s output_format declares no field {ref.path[0]!r} (it declares: {fields})"
        return ""

    def mode(self, node: Node, where: str) -> None:
        mode = self.catalog.get(str(node.mode))
        if mode is None:
            known = ", ".join(self.catalog.names())
            self.problems.append(
                Problem(
                    WORKFLOW_UNKNOWN_MODE,
                    f"{where}.mode",
                    f"node {node.id!r}: unknown mode {node.mode!r} (known: {known})",
                )
            )
            return
        args = dict(node.args)
        deferred = {k for k, v in args.items() if has_refs(v)}  # checked once substituted
        for path, message in schema_errors(mode.validator, args):
            if path and path[0] in deferred:
                continue
            field = ".".join([f"{where}.with", *(str(p) for p in path)])
            self.problems.append(Problem(WORKFLOW_INVALID_WITH, field, f"node {node.id!r} ({node.mode}): {message}"))


# Entry point -----------------------------------------------------------------------


def parse_workflow(text: str, catalog: ModeCatalog, settings: WorkflowSettings, source: str = "") -> Workflow:
    """The validated workflow ``text`` defines, or InvalidArgument (see the module docstring)."""
    raw = load_yaml(text, settings)
    shape = _Shape(settings)
    name, description, provider, model, inputs, nodes = shape.workflow(raw)
    if shape.problems:
        raise refuse(shape.problems, name)
    problems = _graph_problems(nodes)
    if problems:
        raise refuse(problems, name)
    deps = {n.id: list(n.depends_on) for n in nodes}
    order = graph.layers([n.id for n in nodes], deps)
    by_id = {n.id: n for n in nodes}
    workflow = Workflow(
        name=name,
        description=description,
        nodes=tuple(by_id[i] for layer in order for i in layer),
        layers=tuple(tuple(layer) for layer in order),
        inputs=inputs,
        provider=provider,
        model=model,
        source=source,
    )
    problems = _Content(workflow, catalog).check()
    if problems:
        raise refuse(problems, name)
    return workflow
