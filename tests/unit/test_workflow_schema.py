"""Load-time validation: every bad definition is INVALID_ARGUMENT with a stable reason and
one field violation per problem, raised before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.api import workflows as w
from lakehouse.api.errors import InvalidArgument
from lakehouse.servers.settings import WorkflowSettings
from lakehouse.servers.workflows.core import EXAMPLES_DIR
from lakehouse.servers.workflows.modes import default_catalog
from lakehouse.servers.workflows.schema import parse_workflow
from tests.support.workflows import workflow

CATALOG = default_catalog()
ECHO = "mode: echo\nwith: {value: 1}"


def parse(text: str, **settings) -> w.Workflow:
    return parse_workflow(text, CATALOG, WorkflowSettings(**settings))


def refused(text: str, **settings) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        parse(text, **settings)
    assert info.value.violations, "every refusal names its fields"
    return info.value


def test_a_valid_workflow_is_ordered_in_layers():
    wf = parse(
        workflow(
            "id: c\ndepends_on: [a, b]\nmode: echo\nwith: {value: [$a.output.value, $b.output]}",
            f"id: a\n{ECHO}",
            "id: b\ndepends_on: [a]\nprompt: 'about $a.output.value and $INPUTS.topic'",
            inputs="topic: {required: true}",
        )
    )
    assert wf.layers == (("a",), ("b",), ("c",))
    assert [n.id for n in wf.nodes] == ["a", "b", "c"]
    assert wf.node("b").kind == "prompt" and wf.node("a").kind == "echo"
    assert wf.inputs["topic"].required


def test_independent_nodes_share_a_layer():
    wf = parse(workflow(f"id: a\n{ECHO}", f"id: b\n{ECHO}", f"id: c\ndepends_on: [a, b]\n{ECHO}"))
    assert wf.layers == (("a", "b"), ("c",))


def test_a_yaml_syntax_error_gives_line_and_column():
    error = refused("name: t\ndescription: d\nnodes:\n  - id: a\n    mode: [echo\n")
    assert error.reason == w.WORKFLOW_YAML_SYNTAX
    assert error.metadata["line"] == "6" and error.metadata["column"] == "1"
    assert "line 6, column 1" in error.message and error.violations[0].field == "yaml"


def test_a_key_given_twice_is_refused_not_overwritten():
    error = refused("name: t\nname: u\ndescription: d\nnodes: []\n")
    assert error.reason == w.WORKFLOW_YAML_SYNTAX and "'name' twice" in error.message
    assert error.metadata["line"] == "2"


def test_unknown_keys_are_listed_every_one():
    error = refused(
        "name: t\ndescription: d\nschedule: daily\nnodes:\n"
        "  - id: a\n    promt: hi\n    prompt: hello\n    retry: {max_attempts: 1, backoff: 2}\n"
    )
    assert error.reason == w.WORKFLOW_UNKNOWN_KEYS
    fields = {v.field for v in error.violations}
    assert fields == {"schedule", "nodes.a.promt", "nodes.a.retry.backoff"}
    assert "unknown key 'promt'" in error.message


@pytest.mark.parametrize(
    ("node", "field", "words"),
    [
        ("id: a", "nodes.a", "exactly one of prompt and mode"),
        ("id: a\nprompt: hi\nmode: echo", "nodes.a", "exactly one of prompt and mode"),
        ("id: a\nprompt: hi\nwith: {x: 1}", "nodes.a.with", "with is for mode nodes"),
        ("id: 'a b'\nprompt: hi", "nodes[0].id", "letters, digits"),
        ("id: INPUTS\nprompt: hi", "nodes[0].id", "not INPUTS"),
        ("id: a\nprompt: hi\ntrigger_rule: sometimes", "nodes.a.trigger_rule", "all_success"),
        ("id: a\nprompt: hi\nidle_timeout: -5", "nodes.a.idle_timeout", "positive"),
        ("id: a\nprompt: hi\nretry: {max_attempts: 9}", "nodes.a.retry.max_attempts", "1 to 5"),
        ("id: a\nprompt: hi\noutput_format: {type: 12}", "nodes.a.output_format", "not a valid JSON Schema"),
        ("id: a\nprompt: hi\neffort: extreme", "nodes.a.effort", "minimal"),
    ],
)
def test_a_node_of_the_wrong_shape_names_the_field(node, field, words):
    error = refused(workflow(node))
    assert error.reason == w.WORKFLOW_INVALID
    assert any(v.field == field and words in v.description for v in error.violations), error.violations


def test_name_description_and_nodes_are_required():
    error = refused("nodes: []\n")
    assert {v.field for v in error.violations} == {"name", "description", "nodes"}


def test_effort_and_allowed_tools_are_accepted():
    wf = parse(workflow("id: a\nprompt: hi\neffort: high\nallowed_tools: [search, sql]"))
    assert wf.node("a").effort == "high" and wf.node("a").allowed_tools == ("search", "sql")


def test_duplicate_ids_and_unknown_dependencies():
    dup = refused(workflow(f"id: a\n{ECHO}", f"id: a\n{ECHO}"))
    assert dup.reason == w.WORKFLOW_DUPLICATE_ID and "'a' is used twice" in dup.message
    missing = refused(workflow(f"id: a\ndepends_on: [ghost]\n{ECHO}"))
    assert missing.reason == w.WORKFLOW_UNKNOWN_DEPENDENCY
    assert missing.violations[0].field == "nodes.a.depends_on" and "'ghost'" in missing.message


def test_a_cycle_is_named():
    error = refused(
        workflow(
            f"id: start\n{ECHO}",
            f"id: a\ndepends_on: [start, c]\n{ECHO}",
            f"id: b\ndepends_on: [a]\n{ECHO}",
            f"id: c\ndepends_on: [b]\n{ECHO}",
        )
    )
    assert error.reason == w.WORKFLOW_CYCLE
    assert "cycle: a -> c -> b -> a" in error.message


def test_a_reference_to_no_node_names_node_and_reference():
    error = refused(workflow(f"id: a\n{ECHO}", "id: b\ndepends_on: [a]\nprompt: 'see $ghost.output'"))
    assert error.reason == w.WORKFLOW_BAD_REFERENCE
    (v,) = error.violations
    assert v.field == "nodes.b.prompt"
    assert "node 'b': $ghost.output: no node has the id 'ghost'" in v.description


def test_a_reference_to_a_node_that_is_not_upstream():
    error = refused(
        workflow(
            f"id: a\n{ECHO}",
            f"id: b\n{ECHO}",
            "id: c\ndepends_on: [a]\nmode: echo\nwith: {value: $b.output.value}",
        )
    )
    assert error.reason == w.WORKFLOW_BAD_REFERENCE
    assert "node 'c': $b.output.value: 'b' is not upstream of 'c'" in error.message
    assert error.violations[0].field == "nodes.c.with"


def test_a_transitive_dependency_may_be_referenced():
    parse(
        workflow(
            f"id: a\n{ECHO}",
            f"id: b\ndepends_on: [a]\n{ECHO}",
            "id: c\ndepends_on: [b]\nprompt: 'from the start: $a.output.value'",
        )
    )


def test_references_in_when_and_to_inputs_are_checked():
    error = refused(
        workflow(
            f"id: a\n{ECHO}",
            "id: b\nwhen: \"$a.output.value == 1\"\nprompt: '$INPUTS.nope'",
            inputs="topic: {default: x}",
        )
    )
    descriptions = [v.description for v in error.violations]
    assert any("$a.output.value: 'a' is not upstream of 'b'" in d for d in descriptions)
    assert any("declares no input 'nope' (inputs: topic)" in d for d in descriptions)


def test_a_field_the_output_format_does_not_declare():
    error = refused(
        workflow(
            "id: a\nprompt: classify\noutput_format: {type: object, properties: {label: {type: string}}}",
            "id: b\ndepends_on: [a]\nprompt: '$a.output.lable'",
        )
    )
    assert "declares no field 'lable' (it declares: label)" in error.message


def test_a_when_that_does_not_parse():
    error = refused(workflow(f"id: a\n{ECHO}", "id: b\ndepends_on: [a]\nwhen: '$a.output is big'\nprompt: hi"))
    assert error.reason == w.WORKFLOW_BAD_CONDITION and error.violations[0].field == "nodes.b.when"


def test_an_unknown_mode():
    error = refused(workflow("id: a\nmode: matrix.serch\nwith: {text: x}"))
    assert error.reason == w.WORKFLOW_UNKNOWN_MODE
    assert "unknown mode 'matrix.serch'" in error.message and "matrix.search" in error.message


def test_with_values_of_the_wrong_type_for_the_modes_schema():
    error = refused(workflow("id: a\nmode: matrix.search\nwith: {text: forklift, k: five, corpra: [r]}"))
    assert error.reason == w.WORKFLOW_INVALID_WITH
    fields = {v.field: v.description for v in error.violations}
    assert "'five' is not of type 'integer'" in fields["nodes.a.with.k"]
    assert "'corpra' was unexpected" in fields["nodes.a.with"]


def test_with_values_holding_references_are_checked_at_run_time():
    parse(
        workflow(f"id: a\n{ECHO}", "id: b\ndepends_on: [a]\nmode: matrix.search\nwith: {text: x, k: $a.output.value}")
    )


def test_a_missing_required_with_value():
    error = refused(workflow("id: a\nmode: sql.query\nwith: {max_rows: 3}"))
    assert error.reason == w.WORKFLOW_INVALID_WITH and "'sql' is a required property" in error.message


def test_a_workflow_above_the_node_limit():
    nodes = [f"id: n{i}\n{ECHO}" for i in range(6)]
    error = refused(workflow(*nodes), max_nodes=5)
    assert error.reason == w.WORKFLOW_TOO_MANY_NODES
    assert "6 nodes; at most 5" in error.message
    parse(workflow(*nodes[:5]), max_nodes=5)


def test_a_text_above_the_size_limit():
    error = refused(workflow(f"id: a\n{ECHO}"), max_yaml_bytes=20)
    assert error.reason == w.WORKFLOW_TOO_LARGE


def test_retry_and_timeouts_are_read():
    wf = parse(workflow("id: a\nprompt: hi\nretry: {max_attempts: 2, delay_ms: 10}\nidle_timeout: 1500"))
    assert wf.node("a").retry == w.Retry(2, 10) and wf.node("a").idle_timeout_ms == 1500


@pytest.mark.parametrize("path", sorted(EXAMPLES_DIR.glob("*.yaml")), ids=lambda p: Path(p).stem)
def test_every_shipped_example_is_valid(path):
    wf = parse(path.read_text())
    assert wf.name == path.stem and wf.description
