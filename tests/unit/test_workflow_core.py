"""WorkflowsCore: known workflows (home and shipped), run requests refused before they run,
runs fetched (also after a restart) and bounded, and the dispatch of modes: in-process
cores when co-resident (no RPC at all), the remote API otherwise."""

from __future__ import annotations

import threading
import time

import pytest

from lakehouse.api import channel as channel_module
from lakehouse.api import workflows as w
from lakehouse.api.errors import InvalidArgument, NotFound, ResourceExhausted
from lakehouse.api.workflows import RunRequest
from lakehouse.servers.settings import Settings, WorkflowSettings
from lakehouse.servers.workflows.modes import Mode, default_catalog
from tests.support.workflows import make_core, workflow

ECHO = workflow("id: a\nmode: echo\nwith: {value: $INPUTS.x}", inputs="x: {default: 1}", name="echo-home")


def test_list_has_home_workflows_and_the_shipped_examples(tmp_path):
    core, _ = make_core(tmp_path)
    home = tmp_path / "workflows"
    home.mkdir()
    (home / "echo.yaml").write_text(ECHO)
    (home / "broken.yaml").write_text("name: [\n")
    (home / "again.yml").write_text(ECHO)
    # A home workflow named like an example replaces it.
    (home / "mine.yaml").write_text(workflow("id: a\nprompt: hi", name="architect-review"))
    listing = core.list()
    by_name = {i.name: i for i in listing.workflows}
    assert set(by_name) == {"echo-home", "architect-review", "knowledge-review", "staffing-placement"}
    assert by_name["echo-home"].origin == "home" and by_name["echo-home"].inputs == ("x",)
    assert by_name["architect-review"].origin == "home" and by_name["architect-review"].nodes == ("a",)
    assert by_name["knowledge-review"].origin == "example"
    assert by_name["knowledge-review"].nodes[:2] == ("document", "extract_terms")
    assert len(listing.invalid) == 2
    assert any(i.startswith("home/broken.yaml: ") and "line 2, column 1" in i for i in listing.invalid)
    assert any(i.startswith("home/echo.yaml: ") and "taken by another file" in i for i in listing.invalid)


def test_run_by_name_with_inputs_and_defaults(tmp_path):
    core, _ = make_core(tmp_path)
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "echo.yaml").write_text(ECHO)
    assert core.run(RunRequest(name="echo-home")).node("a").output == {"value": 1}
    assert core.run(RunRequest(name="echo-home", inputs={"x": [1, 2]})).node("a").output == {"value": [1, 2]}


def test_requests_refused_before_anything_runs(tmp_path):
    core, recorder = make_core(tmp_path)
    text = workflow("id: a\nmode: echo\nwith: {value: $INPUTS.x}", inputs="x: {required: true}")
    with pytest.raises(InvalidArgument) as missing:
        core.run(RunRequest(yaml=text))
    assert missing.value.reason == w.WORKFLOW_MISSING_INPUT and missing.value.violations[0].field == "inputs.x"
    with pytest.raises(InvalidArgument) as unknown:
        core.run(RunRequest(yaml=text, inputs={"x": 1, "y": 2}))
    assert unknown.value.reason == w.WORKFLOW_UNKNOWN_INPUT and "'y'" in unknown.value.message
    with pytest.raises(NotFound) as absent:
        core.run(RunRequest(name="nope"))
    assert absent.value.reason == w.WORKFLOW_NOT_FOUND and "architect-review" in absent.value.message
    for request in (RunRequest(), RunRequest(yaml=text, name="x")):
        with pytest.raises(InvalidArgument) as neither:
            core.run(request)
        assert neither.value.reason == w.WORKFLOW_SOURCE_REQUIRED
    with pytest.raises(InvalidArgument):
        core.stream(RunRequest(yaml="name: [\n"))  # a stream refuses before its first event
    assert recorder.ops == []


def test_a_finished_run_is_kept_and_persisted_for_after_a_restart(tmp_path):
    core, _ = make_core(tmp_path)
    run = core.run(RunRequest(yaml=ECHO))
    assert core.get_run(run.run_id) == run
    assert (tmp_path / "workflow_runs" / f"{run.run_id}.json").exists()
    restarted, _ = make_core(tmp_path)
    again = restarted.get_run(run.run_id)
    assert again.status == w.SUCCEEDED and again.node("a").output == {"value": 1}
    assert [op.id for op in again.ops] == [op.id for op in run.ops] and again.started == run.started
    for bad in ("0" * 32, "../../etc/passwd", ""):
        with pytest.raises(NotFound) as info:
            restarted.get_run(bad)
        assert info.value.reason == w.WORKFLOW_RUN_NOT_FOUND


def test_runs_kept_and_persisted_are_bounded(tmp_path):
    settings = Settings(home=tmp_path, workflows=WorkflowSettings(runs_kept=2, runs_persisted=3))
    core, _ = make_core(tmp_path, settings=settings)
    ids = [core.run(RunRequest(yaml=ECHO)).run_id for _ in range(6)]
    assert len(core._store._finished) == 2
    files = list((tmp_path / "workflow_runs").glob("*.json"))
    assert len(files) <= 3 and f"{ids[-1]}.json" in {f.name for f in files}
    assert core.get_run(ids[-1]).run_id == ids[-1]
    with pytest.raises(NotFound):
        core.get_run(ids[0])


def test_runs_in_flight_are_capped(tmp_path):
    release = threading.Event()
    catalog = default_catalog()
    catalog.add(Mode("test.hold", lambda ctx, a: {"held": release.wait(10)}, {"type": "object"}))
    settings = Settings(home=tmp_path, workflows=WorkflowSettings(max_running_runs=1))
    core, _ = make_core(tmp_path, settings=settings, catalog=catalog)
    text = workflow("id: h\nmode: test.hold")
    events = core.stream(RunRequest(yaml=text))
    next(events)  # running
    with pytest.raises(ResourceExhausted) as info:
        core.run(RunRequest(yaml=text))
    assert info.value.reason == w.TOO_MANY_WORKFLOW_RUNS
    release.set()
    assert list(events)[-1].run.status == w.SUCCEEDED
    assert core.run(RunRequest(yaml=text)).status == w.SUCCEEDED


def test_a_running_run_can_be_fetched(tmp_path):
    release = threading.Event()
    catalog = default_catalog()
    catalog.add(Mode("test.hold", lambda ctx, a: {"held": release.wait(10)}, {"type": "object"}))
    core, _ = make_core(tmp_path, catalog=catalog)
    events = core.stream(RunRequest(yaml=workflow("id: h\nmode: test.hold", "id: z\ndepends_on: [h]\nmode: test.hold")))
    run_id = next(events).run_id
    live = core.get_run(run_id)
    assert live.status == w.RUNNING and live.finished is None
    assert [n.status for n in live.nodes] == [w.RUNNING, w.PENDING]
    release.set()
    assert list(events)[-1].run.status == w.SUCCEEDED


# Dispatch ------------------------------------------------------------------------------


class ChannelSpy:
    """Counts every call made through the one channel factory's channels."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[str] = []
        real_call, real_stream = channel_module.Channel.call, channel_module.Channel.stream

        def call(channel, method, *args, **kw):
            self.calls.append(getattr(method, "_method", str(method)))
            return real_call(channel, method, *args, **kw)

        def stream(channel, method, *args, **kw):
            self.calls.append(getattr(method, "_method", str(method)))
            return real_stream(channel, method, *args, **kw)

        monkeypatch.setattr(channel_module.Channel, "call", call)
        monkeypatch.setattr(channel_module.Channel, "stream", stream)


DISPATCH = workflow(
    "id: rows\nmode: sql.query\nwith: {sql: 'SELECT 42 AS answer'}",
    "id: gate\nmode: matrix.downgrade\nwith: {model: claude-sonnet}",
    "id: learned\nmode: playbook.lookup\nwith: {limit: 5}",
    name="dispatch",
)


def test_co_resident_modes_are_called_in_process_with_no_rpc(tmp_path, monkeypatch):
    from lakehouse.servers.app import Runtime
    from lakehouse.servers.services import COMPONENTS

    spy = ChannelSpy(monkeypatch)
    opened: list[str] = []
    monkeypatch.setattr("lakehouse.servers.app.open_channel", lambda *a, **k: opened.append(a[0]))
    runtime = Runtime(Settings(home=tmp_path), list(COMPONENTS))
    try:
        run = runtime.workflows.run(RunRequest(yaml=DISPATCH))
        assert run.status == w.SUCCEEDED, run.error
        assert run.node("rows").output["rows"] == [{"answer": 42}]
        assert run.node("gate").output["mode"] == "composed"  # no corpora: nothing to downgrade
        assert spy.calls == [] and opened == []  # no RPC, not even a channel
        recorded = [runtime.recorder.op(e) for e in runtime.recorder.entries()]
        assert {op.node_id for op in recorded if op.source == "workflow"} == {"rows", "gate", "learned"}
        assert all(op.source == "workflow" for op in recorded)  # and no RPC was recorded either
    finally:
        runtime.close()


def test_a_remote_service_is_called_through_its_api(tmp_path, monkeypatch):
    from lakehouse.servers.app import Runtime, build_server

    query_server = build_server(Settings(home=tmp_path / "query-home"), services="storage,catalog,query")
    try:
        spy = ChannelSpy(monkeypatch)
        settings = Settings(home=tmp_path / "matrix-home", upstreams={"query": query_server.address})
        runtime = Runtime(settings, ["matrix"])
        try:
            text = workflow("id: rows\nmode: sql.query\nwith: {sql: 'SELECT 7 AS n'}", name="remote")
            run = runtime.workflows.run(RunRequest(yaml=text))
            assert run.status == w.SUCCEEDED, run.error
            assert run.node("rows").output["rows"] == [{"n": 7}]
            assert len(spy.calls) == 1  # one Sql call, through the query upstream
        finally:
            runtime.close()
    finally:
        query_server.stop(0)


def test_stream_events_of_a_run_arrive_while_it_runs(tmp_path):
    release = threading.Event()
    catalog = default_catalog()
    catalog.add(Mode("test.hold", lambda ctx, a: {"held": release.wait(10)}, {"type": "object"}))
    core, _ = make_core(tmp_path, catalog=catalog)
    events = core.stream(
        RunRequest(yaml=workflow("id: a\nmode: echo\nwith: {value: 1}", "id: h\ndepends_on: [a]\nmode: test.hold"))
    )
    got = [next(events) for _ in range(3)]
    assert [(e.node.node_id, e.node.status) for e in got] == [("a", "running"), ("a", "succeeded"), ("h", "running")]
    assert got[1].node.output == {"value": 1}
    time.sleep(0.05)
    release.set()
    assert list(events)[-1].run.status == w.SUCCEEDED
