"""PathwayCore over a real workflow core and a local lake: recording (given steps, or a
run), malformed records, nearest ordering and ties, paging, the state file reloaded by a
new core, and replay: the G3.4.A gate from an empty memory, a mode gone, a refused
definition, changed output types."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lakehouse.api import errors
from lakehouse.api.pathway import (
    FLAG_STEP_SKIPPED,
    FLAG_TYPE_CHANGED,
    PATHWAY_MODE_UNKNOWN,
    PathwayStep,
    RecordRequest,
)
from lakehouse.api.workflows import FAILED, SKIPPED, SUCCEEDED, RunRequest
from lakehouse.servers.pathway import buckets, state
from lakehouse.servers.pathway.core import PathwayCore
from lakehouse.servers.settings import Settings
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.workflows.modes import BUILTIN, Mode, default_catalog
from tests.support.pathways import CONDITIONAL, OFFLINE_WORKFLOWS
from tests.support.workflows import make_core


class Memory:
    def __init__(self, home: Path, **pathway: object) -> None:
        self.settings = Settings(home=home, pathway=pathway)
        self.catalog = default_catalog()
        self.workflows, _ = make_core(home, catalog=self.catalog, settings=self.settings)
        self.lake = LocalObjectStore("lake", home / "lake")
        self.core = self.new_core()

    def new_core(self) -> PathwayCore:
        return PathwayCore(self.settings.pathway, self.lake, lambda: self.workflows, paging=self.settings.paging)

    def lake_bytes(self) -> bytes:
        return b"".join(self.lake.get(self.settings.pathway.state_key))


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Memory]:
    yield Memory(tmp_path)


def echo_steps(*values: str) -> tuple[PathwayStep, ...]:
    return tuple(PathwayStep(f"s{i}", "echo", {"value": v}, (f"s{i - 1}",) if i else ()) for i, v in enumerate(values))


def record(core: PathwayCore, task: str, *values: str) -> str:
    return core.record(RecordRequest(task=task, steps=echo_steps(*(values or (task,))))).id


def test_replay_gate_from_an_empty_memory(memory: Memory) -> None:
    """G3.4.A as ratified: an initial state built from successful runs; every one replays."""
    assert memory.core.list() == ([], "", 0)
    ids = []
    for wf in OFFLINE_WORKFLOWS:
        run = memory.workflows.run(RunRequest(yaml=wf.yaml, inputs=wf.inputs))
        assert run.status == SUCCEEDED, run
        p = memory.core.record(RecordRequest(task=wf.task, run_id=run.run_id, yaml=wf.yaml))
        assert p.source_run_id == run.run_id and p.type_hints
        ids.append(p.id)
    reloaded = memory.new_core()  # from the state file alone
    for pid in ids:
        result = reloaded.replay(pid)
        assert result.ok, result
        assert all(s.status == SUCCEEDED for s in result.steps) and not result.fingerprints and not result.flags
    assert [p.replays for p in reloaded.list()[0]] == [1, 1, 1]


def test_a_run_records_the_path_it_took(memory: Memory) -> None:
    run = memory.workflows.run(RunRequest(yaml=CONDITIONAL.yaml))
    p = memory.core.record(RecordRequest(run_id=run.run_id, yaml=CONDITIONAL.yaml))
    assert [s.id for s in p.steps] == ["start", "finish"]
    assert p.steps[1].depends_on == ("start",) and p.steps[1].args == {"value": "shift $start.output.value confirmed"}
    assert p.flags[0].step == "day_only" and p.flags[0].kind == FLAG_STEP_SKIPPED
    assert p.task == "conditional night"  # no task given: the workflow and its text inputs
    assert p.inputs == {"shift": "night"} and p.workflow == "conditional"


def test_recording_a_run_needs_a_success_and_its_definition(memory: Memory) -> None:
    failing = (
        "name: f\ndescription: x\nnodes:\n  - id: a\n    mode: echo\n    with: {value: 1}\n"
        "  - id: b\n    depends_on: [a]\n    mode: echo\n    with: {value: $a.output.nope}\n"
    )
    bad = memory.workflows.run(RunRequest(yaml=failing))
    assert bad.status == FAILED
    with pytest.raises(errors.FailedPrecondition) as info:
        memory.core.record(RecordRequest(task="t", run_id=bad.run_id))
    assert info.value.reason == "PATHWAY_RUN_NOT_SUCCEEDED"
    ok = memory.workflows.run(RunRequest(yaml=CONDITIONAL.yaml))
    with pytest.raises(errors.FailedPrecondition) as info:
        memory.core.record(RecordRequest(task="t", run_id=ok.run_id))  # a YAML run: not known by name
    assert info.value.reason == "PATHWAY_RUN_DEFINITION_UNKNOWN"
    with pytest.raises(errors.InvalidArgument) as info:
        memory.core.record(RecordRequest(task="t", run_id=ok.run_id, yaml=OFFLINE_WORKFLOWS[0].yaml))
    assert info.value.reason == "PATHWAY_RUN_MISMATCH"
    with pytest.raises(errors.NotFound):
        memory.core.record(RecordRequest(task="t", run_id="0" * 32))


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (RecordRequest(task="", steps=echo_steps("a")), ["task"]),
        (RecordRequest(task="!!!", steps=echo_steps("a")), ["task"]),
        (RecordRequest(task="t"), ["steps"]),
        (RecordRequest(task="t", steps=(PathwayStep("1bad", "echo"), PathwayStep("", ""))), None),
        (RecordRequest(task="t", steps=(PathwayStep("a", "echo", depends_on=("b",)),)), ["steps[0].depends_on"]),
        (RecordRequest(task="t", steps=echo_steps("a") + echo_steps("b")), ["steps[1].id"]),
        (RecordRequest(task="t", steps=(PathwayStep("a", "prompt"),)), ["steps[0].prompt"]),
        (RecordRequest(task="t", steps=echo_steps("a"), yaml="name: x"), ["yaml"]),
        (RecordRequest(task="t", run_id="ab" * 16, steps=echo_steps("a")), ["run_id"]),
    ],
)
def test_malformed_records_are_refused_by_field(memory: Memory, request_: RecordRequest, fields) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        memory.core.record(request_)
    got = [v.field for v in info.value.violations]
    if fields is None:
        assert {"steps[0].id", "steps[1].id", "steps[1].mode"} <= set(got)
    else:
        assert got == fields
    assert memory.core.list()[2] == 0


def test_limits(tmp_path: Path) -> None:
    m = Memory(tmp_path, max_pathways=2, max_steps=2, max_text_bytes=64)
    record(m.core, "one")
    record(m.core, "two")
    with pytest.raises(errors.ResourceExhausted):
        record(m.core, "three")
    with pytest.raises(errors.InvalidArgument) as info:
        m.core.record(RecordRequest(task="t", steps=echo_steps("a", "b", "c")))
    assert info.value.violations[0].field == "steps"
    with pytest.raises(errors.InvalidArgument) as info:
        m.core.bucket_vector("x" * 65)
    assert info.value.reason == "PATHWAY_TEXT_TOO_LARGE"


def test_the_same_pathway_is_kept_once_and_the_file_is_rewritten(memory: Memory) -> None:
    first = memory.core.record(RecordRequest(task="forklift operator", steps=echo_steps("a")))
    data = memory.lake_bytes()
    again = memory.core.record(RecordRequest(task="forklift operator", steps=echo_steps("a")))
    assert again == first and memory.lake_bytes() == data
    assert state.decode(data).pathways == [first]
    assert memory.core.state_bytes() == data
    reloaded = memory.new_core()
    assert reloaded.get(first.id) == first and reloaded.state_bytes() == data


def test_nearest_orders_by_cosine_and_ties_by_recording_order(memory: Memory) -> None:
    a = record(memory.core, "forklift operator chicago", "a1")
    b = record(memory.core, "forklift operator chicago", "b1")  # the same task: a tie with a
    c = record(memory.core, "forklift operator", "c1")
    d = record(memory.core, "registered nurse night shift", "d1")
    result = memory.core.nearest("Forklift operator, Chicago!")
    assert result.searched == 4
    ids = [m.pathway.id for m in result.matches]
    assert ids[:2] == [a, b] and ids[2] == c and d not in ids  # d shares no token: cosine 0 is not above 0
    assert result.matches[0].score == result.matches[1].score == pytest.approx(1.0)
    assert [m.rank for m in result.matches] == [1, 2, 3]
    assert [m.pathway.id for m in memory.core.nearest("forklift operator chicago", k=1).matches] == [a]
    everything = memory.core.nearest("forklift operator chicago", k=10, min_score=-1.0)
    assert [m.pathway.id for m in everything.matches][:3] == [a, b, c] and len(everything.matches) == 4
    assert memory.new_core().nearest("forklift operator chicago") == memory.core.nearest("forklift operator chicago")


def test_nearest_ties_hold_for_many_equal_vectors(memory: Memory) -> None:
    ids = [record(memory.core, "forklift operator", f"v{i}") for i in range(40)]
    got = [m.pathway.id for m in memory.core.nearest("forklift operator", k=25).matches]
    assert got == ids[:25]


@pytest.mark.parametrize(
    ("task", "k", "min_score", "field"),
    [("", 0, None, "task"), ("...", 0, None, "task"), ("a", -1, None, "k"), ("a", 0, 2.0, "min_score")],
)
def test_nearest_refuses_bad_input(memory: Memory, task: str, k: int, min_score, field: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        memory.core.nearest(task, k, min_score)
    assert info.value.violations[0].field == field


def test_get_and_list(memory: Memory) -> None:
    ids = [record(memory.core, f"task number {i}") for i in range(5)]
    with pytest.raises(errors.NotFound) as info:
        memory.core.get("f" * 32)
    assert info.value.reason == "PATHWAY_NOT_FOUND"
    page, token, total = memory.core.list(page_size=2)
    assert [p.id for p in page] == ids[:2] and total == 5
    seen = [p.id for p in page]
    while token:
        page, token, _ = memory.core.list(page_size=2, page_token=token)
        seen += [p.id for p in page]
    assert seen == ids
    with pytest.raises(errors.InvalidArgument):
        memory.core.list(page_token="not-a-token")


def test_replay_of_a_mode_that_no_longer_exists_fails_that_step(memory: Memory) -> None:
    gone = Mode("gone.mode", lambda ctx, a: {"value": 1}, {"type": "object"})
    memory.catalog.add(gone)
    steps = (
        PathwayStep("first", "echo", {"value": "x"}),
        PathwayStep("lost", "gone.mode", {}, ("first",)),
        PathwayStep("after", "echo", {"value": "$lost.output.value"}, ("lost",)),
        PathwayStep("aside", "echo", {"value": "y"}, ("first",)),
    )
    p = memory.core.record(RecordRequest(task="a pathway whose middle mode is removed", steps=steps))
    memory.catalog._modes.pop("gone.mode")  # the deployment no longer has it
    assert "gone.mode" not in BUILTIN.names()
    result = memory.core.replay(p.id)
    assert not result.ok and result.run_id
    by_step = {s.step: s for s in result.steps}
    assert (by_step["first"].status, by_step["aside"].status) == (SUCCEEDED, SUCCEEDED)
    assert (by_step["lost"].status, by_step["lost"].reason) == (FAILED, PATHWAY_MODE_UNKNOWN)
    assert by_step["after"].status == SKIPPED
    assert [(f.mode, f.reason) for f in result.fingerprints] == [("gone.mode", PATHWAY_MODE_UNKNOWN)]
    memory.core.replay(p.id)
    stored = memory.new_core().get(p.id)
    assert (stored.replays, stored.replay_failures) == (2, 2)
    assert [(f.mode, f.count) for f in stored.fingerprints] == [("gone.mode", 2)]


def test_replay_reports_a_definition_the_workflow_core_refuses_per_step(memory: Memory) -> None:
    steps = (PathwayStep("a", "echo", {"value": "x"}), PathwayStep("b", "text.render", {"title": ""}, ("a",)))
    p = memory.core.record(RecordRequest(task="a render with an empty title", steps=steps))
    result = memory.core.replay(p.id)
    assert not result.ok and result.run_id == ""
    assert {s.status for s in result.steps} == {FAILED}
    assert result.steps[0].reason == "WORKFLOW_INVALID_WITH"
    assert result.fingerprints[0].code == "INVALID_ARGUMENT"


def test_replay_inputs_and_changed_types(memory: Memory) -> None:
    run = memory.workflows.run(RunRequest(yaml=CONDITIONAL.yaml))
    p = memory.core.record(RecordRequest(run_id=run.run_id, yaml=CONDITIONAL.yaml))
    assert memory.core.replay(p.id, {"shift": "late"}).ok
    with pytest.raises(errors.InvalidArgument) as info:
        memory.core.replay(p.id, {"unknown": 1})
    assert info.value.violations[0].field == "inputs.unknown"
    result = memory.core.replay(p.id, {"shift": 7})  # start's value was a string when recorded
    assert result.ok
    assert [(f.step, f.kind) for f in result.flags] == [("start", FLAG_TYPE_CHANGED)]
    with pytest.raises(errors.NotFound):
        memory.core.replay("0" * 32)


def test_a_damaged_state_file_is_refused_not_overwritten(memory: Memory) -> None:
    memory.lake.put(memory.settings.pathway.state_key, [b'{"format":"lakehouse.pathway.state","version":9}'])
    core = memory.new_core()
    with pytest.raises(errors.FailedPrecondition) as info:
        record(core, "anything")
    assert info.value.reason == "PATHWAY_STATE_UNREADABLE"
    assert memory.lake_bytes() == b'{"format":"lakehouse.pathway.state","version":9}'


def test_a_failed_write_records_nothing(memory: Memory, monkeypatch: pytest.MonkeyPatch) -> None:
    record(memory.core, "kept")

    def down(*args, **kwargs):
        raise errors.Unavailable("the lake is down")

    monkeypatch.setattr(memory.lake, "put", down)
    with pytest.raises(errors.Unavailable):
        record(memory.core, "lost")
    assert [p.task for p in memory.core.list()[0]] == ["kept"]
    assert [m.pathway.task for m in memory.core.nearest("lost kept", min_score=-1).matches] == ["kept"]


def test_bucket_vector(memory: Memory) -> None:
    v = memory.core.bucket_vector("Forklift operator")
    assert v.vector == buckets.vector_bytes("forklift operator") and v.tokens == 2
    assert v.hex == v.vector.hex() and len(v.values) == 32 and v.algorithm == buckets.ALGORITHM
    assert memory.core.bucket_vector("").vector == bytes(128)


def test_a_recorded_pathway_is_keyed_by_its_task_vector(memory: Memory) -> None:
    p = memory.core.record(RecordRequest(task="Welder, AWS D1.1", steps=echo_steps("w")))
    assert p.vector == buckets.vector_bytes("welder aws d1 1")
    assert replace(p, replays=1) != p
