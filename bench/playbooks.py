"""Playbook benchmark: does the system learn from recorded outcomes, and what does it cost.

    python bench/playbooks.py [--entries 100000] [--items 20000] [--queries 200] [--sections quality,speed]

1. quality (the real embedding model): the labelled staffing fixture
   (tests/support/staffing.py) scored with ranx, nDCG@10 and precision@5 on held-out
   wordings, for plain vector search, a recommend-style baseline (Qdrant's
   ``average_vector``: the query and the recorded examples averaged, pushed away from the
   negatives) and ``use_playbook``; and the families without history. Targets:
   use_playbook >= plain + 0.10 nDCG@10, > the baseline, and within 0.01 of plain on the
   families without history.
2. speed (a second system with the hash embedder, so that embedding 100K texts does not
   dominate): ``--entries`` playbook entries recorded through RecordPlaybookEntries in chunks
   of 10,000, against UpsertItems of the same texts into a scratch corpus; then matrix
   search p50 over a corpus of ``--items`` with and without ``use_playbook``, interleaved,
   gRPC direct. Target: use_playbook adds <= 30% to the p50.

Reports; never asserts.
"""

from __future__ import annotations

import argparse
import time

import benchlib
from benchlib import DATA, Table, interleave_queries, log, percentile, running_system

from tests.support import learning

CHUNK = 10_000
ITEMS = "bench_pb_items"
SCRATCH = "bench_pb_scratch"
VOCABULARY = [f"w{i}" for i in range(500)]


def bench_quality() -> Table:
    table = Table("1. learning from outcomes, staffing fixture, real model (ranx; held-out wordings)")
    with running_system() as system, system.client(timeout_s=600) as lh:
        learning.load(lh)
        s = learning.evaluate(lh)
    for metric in learning.METRICS:
        table.add(f"{metric}: plain vector search", f"{s.plain[metric]:.4f}")
        table.add(f"{metric}: recommend-style (average_vector)", f"{s.recommend[metric]:.4f}")
        gain = s.playbook[metric] - s.plain[metric]
        table.add(f"{metric}: use_playbook", f"{s.playbook[metric]:.4f}", f"{s.plain[metric]:.4f}", f"+{gain:.4f}")
    ndcg = "ndcg@10"
    gain = s.playbook[ndcg] - s.plain[ndcg]
    table.add("use_playbook gain over plain (nDCG@10)", f"{gain:+.4f}", "", "", ">= +0.10", gain >= 0.10)
    beats = s.playbook[ndcg] > s.recommend[ndcg]
    table.add(
        "use_playbook vs recommend-style (nDCG@10)",
        f"{s.playbook[ndcg]:.4f}",
        f"{s.recommend[ndcg]:.4f}",
        "",
        "higher",
        beats,
    )
    drift = s.unseen_playbook[ndcg] - s.unseen_plain[ndcg]
    table.add(
        "families without history: use_playbook - plain (nDCG@10)",
        f"{drift:+.4f}",
        f"{s.unseen_plain[ndcg]:.4f}",
        "",
        "within 0.01",
        abs(drift) <= 0.01,
    )
    return table


def _text(i: int) -> str:
    words = [VOCABULARY[(i * 7 + j * 13) % len(VOCABULARY)] for j in range(8)]
    return "role " + " ".join(words)


def bench_speed(args: argparse.Namespace) -> Table:
    from lakehouse.v1 import matrix_pb2, vector_pb2

    table = Table(
        f"2. playbook speed, hash embedder: {args.entries:,} entries recorded, matrix search over "
        f"{args.items:,} items, gRPC direct"
    )
    env = {"LAKEHOUSE_MODELS__EMBED_PROVIDER": "hash", "LAKEHOUSE_MODELS__EMBED_MODEL": "hash-384"}
    with running_system(env) as system:
        from lakehouse.client import LakehouseClient

        lh = LakehouseClient(system.state.grpc_upstream, timeout_s=3600)
        lh.create_corpus(ITEMS)
        for start in range(0, args.items, CHUNK):
            lh.add_items(
                ITEMS, [{"id": f"i{n}", "text": _text(n)} for n in range(start, min(start + CHUNK, args.items))]
            )
        lh.create_corpus(SCRATCH)
        record_s = upsert_s = 0.0
        for start in range(0, args.entries, CHUNK):
            count = min(CHUNK, args.entries - start)
            entries = [
                matrix_pb2.PlaybookEntry(
                    id=f"e{n}",
                    query=_text(n % 5000),
                    corpus=ITEMS,
                    item_id=f"i{n % args.items}",
                    outcome="success",
                    score=1.0,
                )
                for n in range(start, start + count)
            ]
            items = [vector_pb2.Item(id=f"e{n}", text=_text(n % 5000)) for n in range(start, start + count)]
            started = time.perf_counter()
            reply = lh._call(lh.matrix.RecordPlaybookEntries, matrix_pb2.RecordPlaybookEntriesRequest(entries=entries))
            record_s += time.perf_counter() - started
            assert reply.failed == 0, reply.results[0]
            started = time.perf_counter()
            lh._call(lh.vector.UpsertItems, vector_pb2.AddItemsRequest(corpus=SCRATCH, items=items))
            upsert_s += time.perf_counter() - started
            log(f"2. recorded {start + count:,} entries")
        rate, plain_rate = args.entries / record_s, args.entries / upsert_s
        table.add(
            "bulk recording: entries/s | UpsertItems of the same texts",
            f"{rate:,.0f}",
            f"{plain_rate:,.0f}",
            f"{rate / plain_rate:.2f}x",
        )
        queries = [_text(n * 17 % 5000) for n in range(args.queries)]

        def plain(i: int) -> list[str]:
            return [r.id for r in lh.matrix_search(queries[i], corpora=[ITEMS], k=10, k_per_corpus=10).results]

        def learned(i: int) -> list[str]:
            found = lh.matrix_search(queries[i], corpora=[ITEMS], k=10, k_per_corpus=10, use_playbook=True)
            return [r.id for r in found.results]

        variants = {"use_playbook": learned, "plain": plain}
        interleave_queries(variants, 10)
        lat, _ = interleave_queries(variants, args.queries)
        p50, base = percentile(lat["use_playbook"], 50), percentile(lat["plain"], 50)
        table.add(
            "matrix search p50 ms: use_playbook | plain",
            f"{p50:.3f}",
            f"{base:.3f}",
            f"{p50 / base:.2f}x",
            "<= 1.3x",
            p50 <= 1.3 * base,
        )
        lh.close()
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sections", default="quality,speed")
    args = parser.parse_args()
    benchlib.install_signal_handlers()
    sections = set(args.sections.split(","))
    tables = []
    if "quality" in sections:
        tables.append(bench_quality())
    if "speed" in sections:
        tables.append(bench_speed(args))
    text = benchlib.environment() + "\n\n" + "\n\n".join(t.render() for t in tables)
    print(text, flush=True)
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / "playbooks.table.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
