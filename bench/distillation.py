"""Distillation scorer throughput: records/s in-process vs over gRPC, side by side.

    python bench/distillation.py [--records 20000] [--batch 1000] [--repeat 5] [--eval-items 2000]

Deterministic synthetic evidence records (a question, 3-8 retrieved passages, an answer
with citations, an outcome and checks). Variants, interleaved round by round:

a. in-process: ``DistillationCore.score`` on the same batches (validation, ids, rules);
b. gRPC direct to the server: ``ScoreRecords`` in batches of ``--batch``;
c. gRPC through Envoy: the same.

Also (informational): the contamination firewall's check rate against ``--eval-items``
held-out items, in-process. Reports, never asserts.
"""

from __future__ import annotations

import argparse
import random

import benchlib
from benchlib import Table, interleaved, log, median, running_system

from lakehouse.api.channel import open_channel
from lakehouse.api.distillation import Check, EvalItem, Evidence, RemoteDistillation
from lakehouse.servers.distillation.core import DistillationCore
from lakehouse.servers.distillation.firewall import Firewall
from lakehouse.servers.settings import DistillationSettings

SEED = 36
WORDS = (
    "forklift operator osha certified warehouse night shift joliet chicago welder mig tig houston nurse icu "
    "license driver cdl pallet jack scanner years experience available weekends reach truck picker packer"
).split()


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def records(n: int) -> list[Evidence]:
    rng = random.Random(SEED)
    out = []
    for i in range(n):
        passages = tuple(sentence(rng, rng.randint(20, 60)) for _ in range(rng.randint(3, 8)))
        cited = tuple(f"resumes/d{rng.randint(0, 999)}#{k}" for k in range(rng.randint(0, 3)))
        out.append(
            Evidence(
                query=sentence(rng, rng.randint(6, 14)),
                id=f"bench-{i}",
                source="ask",
                context=passages,
                answer=sentence(rng, rng.randint(10, 40)) + " [1]",
                citations=cited,
                outcome=rng.choice(("success", "", "", "rejected")),
                checks=(Check("grounded", rng.random() > 0.1), Check("retrieved", True)),
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--eval-items", type=int, default=2000)
    args = parser.parse_args()
    benchlib.install_signal_handlers()
    data = records(args.records)
    batches = [data[i : i + args.batch] for i in range(0, len(data), args.batch)]
    settings = DistillationSettings()
    core = DistillationCore(settings, lambda: None, lambda: None, lambda: None, "playbooks")
    with running_system() as system:
        direct = open_channel(system.state.grpc_upstream)
        envoy = open_channel(system.grpc_address)
        try:
            remotes = {"direct": RemoteDistillation(direct), "envoy": RemoteDistillation(envoy)}

            def over(name: str):
                def run() -> None:
                    for b in batches:
                        remotes[name].score(b)

                return run

            times = interleaved(
                {
                    "in-process": lambda: [core.score(b) for b in batches],
                    "grpc direct": over("direct"),
                    "grpc envoy": over("envoy"),
                },
                args.repeat,
            )
        finally:
            direct.close()
            envoy.close()
    rate = {name: args.records / median(t) for name, t in times.items()}
    table = Table(f"scorer throughput: {args.records} records, gRPC batches of {args.batch} (median of {args.repeat})")
    table.add("in-process (records/s)", f"{rate['in-process']:,.0f}")
    for name in ("grpc direct", "grpc envoy"):
        table.add(
            f"{name} (records/s)",
            f"{rate[name]:,.0f}",
            f"{rate['in-process']:,.0f}",
            f"{rate[name] / rate['in-process']:.2f}x",
        )
    rng = random.Random(SEED + 1)
    items = [EvalItem(f"e{i}", sentence(rng, rng.randint(8, 16))) for i in range(args.eval_items)]
    firewall = Firewall(items, settings.firewall_ngram, settings.firewall_containment, settings.firewall_jaccard)
    checked = interleaved({"firewall": lambda: [firewall.check(e) for e in data]}, args.repeat, warmup=1)
    table.add(
        f"firewall vs {args.eval_items} eval items (records/s)", f"{args.records / median(checked['firewall']):,.0f}"
    )
    table.notes.append("'ratio' = that path's rate / in-process (the serialisation and transport cost)")
    log("done")
    print(benchlib.environment() + "\n", flush=True)
    table.emit("distillation")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
