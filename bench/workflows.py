"""Workflow runner overhead: what the runner adds per node beyond the mode's own time.

    python bench/workflows.py [--nodes 100] [--rounds 30]

A chain of ``--nodes`` ``echo`` nodes (each passes its predecessor's output on through
``$prev.output.value``), timed side by side in one run, the variants interleaved round by
round:

* ``direct``: the mode function called ``--nodes`` times in a loop, each output fed to the
  next: the modes' own time, the baseline;
* ``runner``: the runner on the parsed workflow (in-process: layers, trigger rule, reference
  substitution, input schema check, the attempt on a worker thread, output check, the
  ObservedOp, events);
* ``core``: WorkflowsCore.run on the YAML text (parse and validate, run, remember and persist);
* ``grpc``: RunWorkflow through Envoy to a real system (all of the above, the reply of every
  node result and op serialized, the observer recording).

Overhead per node = (median run - median direct) / nodes. Target (issue 12): <= 1 ms for the
runner. Reports; never asserts.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import benchlib
from benchlib import Table, log, percentile, running_system

TARGET_MS = 1.0


def chain(nodes: int) -> str:
    lines = [
        "name: chain",
        "description: a chain of echo nodes",
        "nodes:",
        "  - id: n0",
        "    mode: echo",
        "    with: {value: 0}",
    ]
    for i in range(1, nodes):
        lines += [
            f"  - id: n{i}",
            f"    depends_on: [n{i - 1}]",
            "    mode: echo",
            f"    with: {{value: $n{i - 1}.output.value}}",
        ]
    return "\n".join(lines) + "\n"


def expect(run) -> None:
    """A run that did not succeed measures nothing: stop with why."""
    if run.status != "succeeded":
        raise SystemExit(f"the chain did not succeed: {run.status} {run.error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    benchlib.install_signal_handlers()

    from lakehouse.api.workflows import RunRequest
    from lakehouse.servers.settings import Settings, WorkflowSettings
    from lakehouse.servers.workflows.modes import ModeContext
    from lakehouse.servers.workflows.runner import Runner
    from tests.support.workflows import make_core

    text = chain(args.nodes)
    home = Path(tempfile.mkdtemp(prefix="lakehouse-bench-workflows-"))
    settings = Settings(home=home, workflows=WorkflowSettings(max_nodes=max(256, args.nodes)))
    core, recorder = make_core(home, settings=settings)
    workflow = core.parse(text)
    echo = core.catalog.get("echo")
    ctx = ModeContext(core._services, workflow="chain", run_id="0" * 32, node_id="n")

    def direct() -> None:
        value = 0
        for _ in range(args.nodes):
            value = echo.fn(ctx, {"value": value})["value"]

    def runner() -> None:
        run = Runner(
            workflow,
            {},
            run_id="0" * 32,
            services=core._services,
            catalog=core.catalog,
            settings=settings,
            recorder=recorder,
        ).run()
        expect(run)

    def in_core() -> None:
        expect(core.run(RunRequest(yaml=text)))

    env = {"LAKEHOUSE_WORKFLOWS__MAX_NODES": str(max(256, args.nodes))}
    with running_system(env) as system, system.client() as lh:

        def grpc() -> None:
            expect(lh.run_workflow(yaml=text))

        times = benchlib.interleaved(
            {"direct": direct, "runner": runner, "core": in_core, "grpc": grpc},
            repeat=args.rounds,
            warmup=2,
            between=recorder.ops.clear,
        )
    ms = {name: percentile(t, 50) * 1000 for name, t in times.items()}
    base = ms["direct"]
    table = Table(f"workflow runner overhead per node: {args.nodes}-node echo chain, {args.rounds} rounds")
    table.add("modes' own time per run (ms)", f"{base:.3f}")
    for name, label in (
        ("runner", "runner, in-process"),
        ("core", "core: parse + run + persist"),
        ("grpc", "RunWorkflow via Envoy"),
    ):
        per_node = (ms[name] - base) / args.nodes
        table.add(
            f"{label}: run p50 (ms)",
            f"{ms[name]:.2f}",
            f"{base:.3f}",
            f"{ms[name] / base:.0f}x",
        )
        table.add(
            f"{label}: overhead per node (ms)",
            f"{per_node:.3f}",
            target=f"<= {TARGET_MS}",
            ok=per_node <= TARGET_MS if name == "runner" else None,
        )
    table.notes.append("overhead per node = (p50 run - p50 direct) / nodes; the target applies to the runner")
    table.notes.append(benchlib.environment())
    shutil.rmtree(home, ignore_errors=True)
    table.emit("workflows")
    log("p95 (ms): " + ", ".join(f"{n} {percentile(t, 95) * 1000:.2f}" for n, t in times.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
