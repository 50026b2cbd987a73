"""The runner on test modes and stand-in APIs: substitution, concurrency, conditions and
trigger rules, retries, timeouts, output formats, cancellation, events and provenance."""

from __future__ import annotations

import threading
import time

import pytest

from lakehouse.api import workflows as w
from lakehouse.api.errors import InvalidArgument, Unavailable
from lakehouse.api.models import ChatChunk
from lakehouse.api.workflows import RunRequest
from lakehouse.servers.workflows.modes import Mode, ModeCatalog, ModeContext, default_catalog
from tests.support.workflows import make_core, workflow

OBJ = {"type": "object"}


def test_catalog() -> ModeCatalog:
    """The shipped modes plus a few for tests: adding a mode is one registration."""
    catalog = default_catalog()
    calls: dict[str, int] = {}
    lock = threading.Lock()

    def flaky(ctx: ModeContext, a: dict) -> dict:
        with lock:
            calls[a["key"]] = calls.get(a["key"], 0) + 1
            n = calls[a["key"]]
        if n <= a["failures"]:
            raise Unavailable(f"attempt {n} failed", reason="FLAKY")
        return {"attempts": n}

    def sleep(ctx: ModeContext, a: dict) -> dict:
        deadline = time.monotonic() + a["ms"] / 1000
        while time.monotonic() < deadline and not ctx.cancelled:
            time.sleep(0.005)
        return {"slept": a["ms"]}

    def stubborn(ctx: ModeContext, a: dict) -> dict:
        time.sleep(a["ms"] / 1000)  # ignores the stop signal
        return {}

    barrier = threading.Barrier(2, timeout=5)

    def meet(ctx: ModeContext, a: dict) -> dict:
        barrier.wait()  # only returns when both nodes run at once
        return {"met": a["who"]}

    def fail(ctx: ModeContext, a: dict) -> dict:
        raise InvalidArgument(a["message"], reason="TEST_REFUSED")

    def broken(ctx: ModeContext, a: dict) -> dict:
        return {"total": 1 / 0}

    for name, fn in [
        ("test.flaky", flaky),
        ("test.sleep", sleep),
        ("test.stubborn", stubborn),
        ("test.meet", meet),
        ("test.fail", fail),
        ("test.broken", broken),
        ("test.pass", lambda ctx, a: dict(a)),
    ]:
        catalog.add(Mode(name, fn, OBJ, f"test mode {name}"))
    return catalog


test_catalog.__test__ = False  # a factory, not a test


class Chat:
    """A ModelsApi stand-in: replies per prompt, or fails like a provider that is down."""

    def __init__(self, reply=lambda prompt: f"reply to: {prompt}", down: bool = False) -> None:
        self.reply = reply
        self.down = down
        self.prompts: list[str] = []

    def chat(self, messages, provider="", model="", temperature=None, max_tokens=None):
        self.prompts.append(messages[-1].content)
        if self.down:
            raise Unavailable("connection refused", reason="CHAT_PROVIDER_UNAVAILABLE")
        text = self.reply(messages[-1].content)
        return iter([ChatChunk(text), ChatChunk("", done=True, usage={"output_tokens": 3})])


@pytest.fixture
def core(tmp_path):
    c, recorder = make_core(tmp_path, catalog=test_catalog(), models=Chat())
    c.recorder = recorder
    return c


def run(core, *nodes, inputs=None, decl="") -> w.WorkflowRun:
    return core.run(RunRequest(yaml=workflow(*nodes, inputs=decl), inputs=inputs or {}))


def test_outputs_flow_down_a_chain_whole_values_typed_and_templates_as_text(core):
    result = run(
        core,
        "id: a\nmode: echo\nwith: {value: {n: 2, tags: [x, y]}}",
        "id: b\ndepends_on: [a]\nmode: echo\nwith: {value: $a.output.value.tags}",
        "id: c\ndepends_on: [b]\nmode: echo\n"
        "with: {value: 'n=$a.output.value.n first=$b.output.value.0 all=$b.output.value'}",
        "id: d\ndepends_on: [c]\nmode: echo\nwith: {value: $INPUTS.topic}",
        decl="topic: {default: forklifts}",
    )
    assert result.status == w.SUCCEEDED, result.error
    assert result.node("b").output == {"value": ["x", "y"]}
    assert result.node("c").output == {"value": 'n=2 first=x all=["x", "y"]'}
    assert result.node("d").output == {"value": "forklifts"}
    assert result.inputs == {"topic": "forklifts"}


def test_prompts_read_the_previous_prompts_text(tmp_path):
    chat = Chat()
    core, _ = make_core(tmp_path, models=chat)
    result = run(
        core,
        "id: a\nprompt: 'start $INPUTS.x'",
        "id: b\ndepends_on: [a]\nprompt: 'then: $a.output'",
        decl="x: {}",
        inputs={"x": "here"},
    )
    assert result.status == w.SUCCEEDED
    assert chat.prompts == ["start here", "then: reply to: start here"]
    assert result.node("b").output == {"text": "reply to: then: reply to: start here"}


def test_independent_nodes_run_concurrently(core):
    # Each node waits at a two-party barrier: run one after the other, both would time out.
    result = run(core, "id: a\nmode: test.meet\nwith: {who: a}", "id: b\nmode: test.meet\nwith: {who: b}")
    assert result.status == w.SUCCEEDED, result.error
    assert {result.node("a").output["met"], result.node("b").output["met"]} == {"a", "b"}


def test_a_missing_output_at_run_time_fails_the_node_clearly(core):
    result = run(
        core,
        "id: a\nmode: echo\nwith: {value: {x: 1}}",
        "id: b\ndepends_on: [a]\nmode: echo\nwith: {value: $a.output.value.y}",
        "id: c\ndepends_on: [a]\nmode: echo\nwith: {value: 'list item $a.output.value.x.3'}",
    )
    b, c = result.node("b"), result.node("c")
    assert b.status == w.FAILED and b.reason == w.OUTPUT_MISSING
    assert "$a.output.value.y: output.value of node 'a' has no field 'y' (it has: x)" in b.error
    assert c.status == w.FAILED and "is int, it has no field '3'" in c.error
    assert result.status == w.FAILED and "b (OUTPUT_MISSING)" in result.error


def test_reading_a_skipped_node_under_all_done_fails_rather_than_reading_empty(core):
    result = run(
        core,
        "id: a\nmode: test.fail\nwith: {message: no}",
        "id: b\ndepends_on: [a]\nmode: echo\nwith: {value: 1}",
        "id: c\ndepends_on: [b]\ntrigger_rule: all_done\nprompt: 'use $b.output.value'",
    )
    assert result.node("b").status == w.SKIPPED
    c = result.node("c")
    assert c.status == w.FAILED and c.reason == w.OUTPUT_MISSING and "node 'b' skipped" in c.error


def test_when_decides_skips(core):
    result = run(
        core,
        "id: score\nmode: echo\nwith: {value: 0.9}",
        "id: high\ndepends_on: [score]\nwhen: '$score.output.value >= 0.8'\nmode: echo\nwith: {value: high}",
        'id: low\ndepends_on: [score]\nwhen: "$score.output.value < 0.8 || $INPUTS.force == true"\n'
        "mode: echo\nwith: {value: low}",
        "id: after\ndepends_on: [low]\nmode: echo\nwith: {value: after}",
        decl="force: {default: false}",
    )
    assert result.node("high").status == w.SUCCEEDED
    low = result.node("low")
    assert low.status == w.SKIPPED and low.reason == w.SKIPPED_WHEN and "is false" in low.error
    after = result.node("after")
    assert after.status == w.SKIPPED and after.reason == w.SKIPPED_TRIGGER_RULE and "low skipped" in after.error
    assert result.status == w.SUCCEEDED  # a skip is not a failure


@pytest.mark.parametrize(
    ("rule", "runs"),
    [("all_success", False), ("one_success", True), ("none_failed_min_one_success", False), ("all_done", True)],
)
def test_trigger_rules_after_one_success_and_one_failure(core, rule, runs):
    result = run(
        core,
        "id: ok\nmode: echo\nwith: {value: 1}",
        "id: bad\nmode: test.fail\nwith: {message: refused}",
        f"id: join\ndepends_on: [ok, bad]\ntrigger_rule: {rule}\nmode: echo\nwith: {{value: joined}}",
    )
    assert result.node("join").status == (w.SUCCEEDED if runs else w.SKIPPED)


def test_none_failed_min_one_success_runs_past_a_skip(core):
    result = run(
        core,
        "id: ok\nmode: echo\nwith: {value: 1}",
        "id: never\nwhen: '$INPUTS.go == true'\nmode: echo\nwith: {value: 2}",
        "id: join\ndepends_on: [ok, never]\ntrigger_rule: none_failed_min_one_success\nmode: echo\nwith: {value: 3}",
        decl="go: {default: false}",
    )
    assert result.node("never").status == w.SKIPPED and result.node("join").status == w.SUCCEEDED


def test_a_transient_failure_is_retried_with_each_attempt_recorded(core):
    result = run(core, "id: a\nmode: test.flaky\nwith: {key: r1, failures: 2}\nretry: {max_attempts: 2, delay_ms: 1}")
    a = result.node("a")
    assert a.status == w.SUCCEEDED and a.attempts == 3 and a.output == {"attempts": 3}
    assert [op.code for op in result.ops] == ["UNAVAILABLE", "UNAVAILABLE", "OK"]
    assert [op.attributes["attempt"] for op in result.ops] == ["1", "2", "3"]


def test_retries_run_out(core):
    result = run(core, "id: a\nmode: test.flaky\nwith: {key: r2, failures: 5}\nretry: {max_attempts: 1}")
    a = result.node("a")
    assert a.status == w.FAILED and a.attempts == 2 and a.reason == "FLAKY"
    assert a.error == "UNAVAILABLE FLAKY: attempt 2 failed"


def test_a_refusal_is_not_retried(core):
    result = run(core, "id: a\nmode: test.fail\nwith: {message: bad input}\nretry: {max_attempts: 3}")
    a = result.node("a")
    assert a.attempts == 1 and a.reason == "TEST_REFUSED" and "INVALID_ARGUMENT" in a.error


def test_a_node_timeout_skips_downstream_per_trigger_rule_and_the_run_reports_it(core):
    result = run(
        core,
        "id: slow\nmode: test.sleep\nwith: {ms: 5000}\nidle_timeout: 50",
        "id: next\ndepends_on: [slow]\nmode: echo\nwith: {value: 1}",
        "id: cleanup\ndepends_on: [slow]\ntrigger_rule: all_done\nmode: echo\nwith: {value: cleaned}",
    )
    slow = result.node("slow")
    assert slow.status == w.FAILED and slow.reason == w.NODE_TIMEOUT
    assert "no progress for 50 ms" in slow.error and slow.latency_ms < 4000
    nxt = result.node("next")
    assert nxt.status == w.SKIPPED and nxt.reason == w.SKIPPED_TRIGGER_RULE and "slow failed" in nxt.error
    assert result.node("cleanup").status == w.SUCCEEDED
    assert result.status == w.FAILED and "slow (NODE_TIMEOUT)" in result.error
    (op, *_) = result.ops
    assert op.code == "DEADLINE_EXCEEDED" and op.reason == w.NODE_TIMEOUT


def test_a_mode_that_ignores_the_stop_is_abandoned_not_waited_for(core):
    started = time.monotonic()
    result = run(core, "id: a\nmode: test.stubborn\nwith: {ms: 3000}\nidle_timeout: 50")
    assert result.node("a").reason == w.NODE_TIMEOUT and time.monotonic() - started < 2.5


def test_an_output_that_fails_its_output_format(core, tmp_path):
    result = run(
        core,
        "id: a\nmode: echo\nwith: {value: 7}\noutput_format: {type: object, properties: {value: {type: string}}}",
    )
    a = result.node("a")
    assert a.status == w.FAILED and a.reason == w.OUTPUT_FORMAT_MISMATCH
    assert "value: 7 is not of type 'string'" in a.error


def test_a_prompts_json_reply_is_parsed_and_its_fields_read(tmp_path):
    replies = iter(['```json\n{"label": "bug", "confidence": 0.9}\n```', "patched"])
    chat = Chat(reply=lambda p: next(replies))
    core, _ = make_core(tmp_path, models=chat)
    fmt = "{type: object, properties: {label: {enum: [bug, feature]}, confidence: {}}, required: [label]}"
    result = run(
        core,
        f"id: classify\nprompt: classify it\noutput_format: {fmt}",
        "id: route\ndepends_on: [classify]\nwhen: \"$classify.output.label == 'bug'\"\n"
        "prompt: 'fix the $classify.output.label'",
    )
    assert result.node("classify").output == {"label": "bug", "confidence": 0.9}
    assert result.node("route").output == {"text": "patched"} and chat.prompts[-1] == "fix the bug"


def test_a_prompt_reply_that_is_not_json_fails_its_output_format(tmp_path):
    core, _ = make_core(tmp_path, models=Chat(reply=lambda p: "I think it is a bug"))
    result = run(core, "id: a\nprompt: classify\noutput_format: {type: object}")
    a = result.node("a")
    assert a.status == w.FAILED and a.reason == w.OUTPUT_FORMAT_MISMATCH and "not JSON" in a.error


def test_the_llm_provider_down_fails_the_node_and_the_run_still_completes(tmp_path):
    core, recorder = make_core(tmp_path, models=Chat(down=True))
    result = run(core, "id: a\nprompt: hello", "id: b\ndepends_on: [a]\nprompt: 'more: $a.output'")
    a = result.node("a")
    assert a.status == w.FAILED and a.reason == "CHAT_PROVIDER_UNAVAILABLE"
    assert "UNAVAILABLE CHAT_PROVIDER_UNAVAILABLE: connection refused" in a.error
    assert result.node("b").status == w.SKIPPED
    assert result.status == w.FAILED and result.finished is not None
    assert [op.code for op in recorder.ops] == ["UNAVAILABLE"]


def test_substituted_values_the_mode_refuses(core):
    result = run(
        core,
        "id: a\nmode: echo\nwith: {value: five}",
        "id: b\ndepends_on: [a]\nmode: matrix.search\nwith: {text: x, k: $a.output.value}",
    )
    b = result.node("b")
    assert b.status == w.FAILED and b.reason == w.INVALID_MODE_INPUT and "k: 'five' is not of type 'integer'" in b.error


def test_a_mode_defect_fails_its_node_only(core):
    result = run(core, "id: a\nmode: test.broken", "id: b\nmode: echo\nwith: {value: 1}")
    assert result.node("a").reason == w.MODE_FAILED and "ZeroDivisionError" in result.node("a").error
    assert result.node("b").status == w.SUCCEEDED


def test_cancel_stops_running_nodes_and_skips_pending_ones(core):
    text = workflow(
        "id: a\nmode: test.sleep\nwith: {ms: 10000}",
        "id: b\ndepends_on: [a]\nmode: echo\nwith: {value: 1}",
    )
    events = core.stream(RunRequest(yaml=text))
    first = next(events)
    assert isinstance(first, w.NodeEvent) and first.node.status == w.RUNNING
    started = time.monotonic()
    cancelled = core.cancel(first.run_id)
    assert time.monotonic() - started < 2
    assert cancelled.status == w.CANCELLED
    assert cancelled.node("a").status == w.CANCELLED and cancelled.node("a").reason == w.RUN_CANCELLED
    assert cancelled.node("b").status == w.SKIPPED and cancelled.node("b").reason == w.RUN_CANCELLED
    rest = list(events)
    assert isinstance(rest[-1], w.RunFinished) and rest[-1].run.status == w.CANCELLED
    assert core.cancel(first.run_id).status == w.CANCELLED  # a finished run is returned as it ended


def test_closing_a_stream_cancels_its_run(core):
    events = core.stream(RunRequest(yaml=workflow("id: a\nmode: test.sleep\nwith: {ms: 10000}")))
    run_id = next(events).run_id
    events.close()
    deadline = time.monotonic() + 5
    while core.get_run(run_id).status == w.RUNNING and time.monotonic() < deadline:
        time.sleep(0.01)
    assert core.get_run(run_id).status == w.CANCELLED


def test_events_say_started_then_how_each_node_ended(core):
    text = workflow(
        "id: a\nmode: echo\nwith: {value: 1}",
        "id: b\ndepends_on: [a]\nwhen: '$a.output.value == 2'\nmode: echo\nwith: {value: 2}",
    )
    events = list(core.stream(RunRequest(yaml=text)))
    seen = [(e.node.node_id, e.node.status) for e in events if isinstance(e, w.NodeEvent)]
    assert seen == [("a", "running"), ("a", "succeeded"), ("b", "skipped")]
    assert events[1].node.output_summary == "{value: 1}"
    final = events[-1]
    assert isinstance(final, w.RunFinished) and final.run.status == w.SUCCEEDED
    assert {e.run_id for e in events} == {final.run.run_id}


def test_every_node_execution_is_an_observed_op_with_provenance(core):
    result = run(
        core,
        "id: rows\nmode: test.pass\nwith: {corpus: resumes, k: 3, rows: [1, 2, 3, 4, 5], api_key: sk-123}",
        "id: ask\ndepends_on: [rows]\nprompt: 'count $rows.output.rows'\neffort: low\nallowed_tools: [sql]",
    )
    assert result.status == w.SUCCEEDED, result.error
    assert [op.node_id for op in result.ops] == ["rows", "ask"]
    assert core.recorder.ops == list(result.ops)  # the recorder got the same ops the run returns
    rows, ask = result.ops
    for op in result.ops:
        assert op.source == "workflow" and op.service == "workflow" and op.code == "OK"
        assert op.workflow == "t" and op.run_id == result.run_id and op.latency_ms >= 0
    assert rows.method == "test.pass" and ask.method == "prompt"
    assert rows.attributes["corpus"] == "resumes" and rows.attributes["k"] == "3"
    assert rows.attributes["output.rows"] == "5"
    assert "sk-123" not in rows.input_summary and "api_key: ***" in rows.input_summary
    assert "rows: [1, 2, 3, … +2]" in rows.output_summary
    assert ask.input_summary == '"count [1, 2, 3, 4, 5]"'
    assert ask.attributes["effort"] == "low" and ask.attributes["allowed_tools"] == "sql"


def test_summaries_are_bounded(core):
    result = run(core, "id: a\nmode: echo\nwith: {value: " + "[" + ", ".join(["word"] * 2000) + "]}")
    op = result.ops[0]
    assert len(op.input_summary) <= core._settings.workflows.summary_chars
    assert op.output_summary.endswith("+1997]}")
