"""The staffing demo, end to end: load time, the spec's reality test, and Ask's speed.

    python bench/ask.py [--workers 500000] [--resumes 15000] [--asks 40]

1. ``lakehouse demo``'s loader into a fresh system, each step timed (workers through a
   real PostgreSQL and a pull, résumé PDFs with every chunk embedded by the real model,
   job orders, placements into the playbook, labelled questions);
2. reality test (§3.6): for "Forklift operator with OSHA-30 in IL", precision@10 on
   (role, certification, state) of plain vector search against Ask's derived filter
   (target: Ask 1.0); nDCG@10 and precision@10 over the labelled questions for plain
   search, extractive Ask, and extractive Ask with use_playbook (ranx);
3. Ask p50 / p95 in extractive mode over the questions, interleaved with the matrix
   search it makes (the retrieval alone), gRPC through Envoy.

Reports; never asserts.
"""

from __future__ import annotations

import argparse

import benchlib
from benchlib import Table, fmt_num, interleave_queries, log, percentile, running_system

from tests.support import demo_eval

REALITY = "Forklift operator with OSHA-30 in IL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=500_000)
    parser.add_argument("--resumes", type=int, default=15_000)
    parser.add_argument("--asks", type=int, default=40)
    args = parser.parse_args()
    benchlib.install_signal_handlers()

    from lakehouse.demo.loader import RESUME_CORPUS, DemoLoader
    from lakehouse.demo.world import World

    world = World(workers=args.workers, resumes=args.resumes)
    print(f"ask: demo world {args.workers:,} workers, {args.resumes:,} résumés; {benchlib.environment()}", flush=True)
    with running_system() as system, system.client(timeout_s=7200) as lh:
        report = DemoLoader(lh, world, log).run()
        load = Table("1. lakehouse demo: load time by step")
        for step in report.steps:
            load.add(step.name, fmt_num(step.seconds, "s"))
            load.notes.append(f"{step.name}: {step.summary}")
        load.add("total", fmt_num(report.seconds, "s"))
        load.emit("ask_demo_load")

        questions = world.questions(list(world.resumes()))
        (reality,) = [q for q in questions if q.text == REALITY]
        relevant = set(reality.relevant)
        plain = demo_eval.precision(demo_eval.plain_ranking(lh, REALITY), relevant)
        ask = demo_eval.precision(demo_eval.ask_ranking(lh, REALITY), relevant)
        scores = demo_eval.score_questions(lh, questions)
        quality = Table(f"2. reality test (§3.6) and the labelled questions ({len(relevant)} right answers to it)")
        quality.add(
            f"precision@10 {REALITY!r}: Ask (derived filter) vs plain",
            f"{ask:.2f}",
            f"{plain:.2f}",
            "",
            "Ask 1.0",
            ask == 1.0,
        )
        for metric in demo_eval.METRICS:
            quality.add(f"{metric}: plain vector search", f"{scores.plain[metric]:.4f}")
            quality.add(f"{metric}: Ask, extractive", f"{scores.ask[metric]:.4f}", f"{scores.plain[metric]:.4f}")
            quality.add(
                f"{metric}: Ask, extractive + use_playbook",
                f"{scores.ask_playbook[metric]:.4f}",
                f"{scores.ask[metric]:.4f}",
            )
        quality.notes.append(f"{sum(1 for q in questions if q.relevant)} questions with ground truth; ranx")
        quality.emit("ask_quality")

        texts = [q.text for q in questions]
        lat, _ = interleave_queries(
            {
                "ask": lambda i: lh.ask(texts[i % len(texts)], extractive=True).retrieval.retrieved,
                "matrix": lambda i: len(
                    lh.matrix_search(texts[i % len(texts)], corpora=[RESUME_CORPUS], k=8, include_text=True).results
                ),
            },
            args.asks,
        )
    speed = Table(f"3. Ask latency, extractive, {args.asks} questions, gRPC through Envoy (ms)")
    speed.add(
        "Ask p50 (retrieval + answer)",
        fmt_num(percentile(lat["ask"], 50)),
        fmt_num(percentile(lat["matrix"], 50)),
        f"{percentile(lat['ask'], 50) / percentile(lat['matrix'], 50):.2f}x",
    )
    speed.add("Ask p95", fmt_num(percentile(lat["ask"], 95)), fmt_num(percentile(lat["matrix"], 95)))
    speed.notes.append("baseline: the matrix search alone (k=8, text included), no filter")
    speed.emit("ask_speed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
