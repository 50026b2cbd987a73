"""Local embedding benchmark: the numpy all-MiniLM-L6-v2 against sentence-transformers (torch).

    python bench/embed.py [--texts 1000] [--batch 64] [--repeat 5] [--queries 200]

On the same deterministic staffing-style texts (10-40 words each), in one run:

a. throughput (texts/s) of ``LocalEmbedder.embed`` (tokenise, sort by length, pad per
   batch, forward, restore order) vs ``SentenceTransformer.encode(batch_size=64)`` on
   torch CPU (which also sorts by length);
b. the wrapper's overhead: ``embed`` vs the numpy forward alone on the same, already
   tokenised batches;
c. single-query latency (p50), the RAG case: one short text per call.

No server is started; nothing is fetched (both load the packaged weights). Reports,
never asserts.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import benchlib
import numpy as np
from benchlib import Table, fmt_num, interleaved, log, median, percentile

DEFAULT_TEXTS = 1_000
DEFAULT_BATCH = 64
DEFAULT_REPEAT = 5
DEFAULT_QUERIES = 200
SEED = 20240611
MIN_WORDS, MAX_WORDS = 10, 40

TITLES = [
    "Forklift operator",
    "Registered nurse",
    "CDL Class A driver",
    "Warehouse picker",
    "CNC machinist",
    "MIG/TIG welder",
    "Certified nursing assistant",
    "Customer service representative",
    "Maintenance technician",
    "Line cook",
    "Electrician apprentice",
    "Payroll clerk",
]
CITIES = ["Joliet IL", "Aurora IL", "Gary IN", "Naperville IL", "Milwaukee WI", "Rockford IL", "Elgin IL"]
PHRASES = [
    "with {n} years of experience",
    "OSHA-10 certified",
    "available for second shift",
    "bilingual in English and Spanish",
    "reliable transportation and a clean driving record",
    "comfortable lifting 50 lbs repeatedly",
    "experienced with RF scanners and WMS software",
    "seeking full-time work with benefits",
    "previously worked at a large distribution center",
    "can start immediately",
    "prefers weekend overtime",
    "trained new hires on safety procedures",
    "holds a valid forklift license",
    "familiar with blueprint reading and calipers",
    "strong attendance record over the last year",
    "open to temp-to-hire assignments",
]


def make_texts(count: int, seed: int = SEED) -> list[str]:
    """Realistic candidate/job snippets, 10-40 words, deterministic."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        target = rng.randint(MIN_WORDS, MAX_WORDS)
        words = f"{rng.choice(TITLES)} in {rng.choice(CITIES)},".split()
        while len(words) < target:
            words += rng.choice(PHRASES).format(n=rng.randint(1, 15)).split()
        texts.append(" ".join(words[:target]).rstrip(",") + ".")
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=DEFAULT_TEXTS)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    parser.add_argument("--queries", type=int, default=DEFAULT_QUERIES)
    args = parser.parse_args()
    benchlib.install_signal_handlers()
    os.environ["HF_HUB_OFFLINE"] = "1"

    from lakehouse.servers.models import embed_local
    from lakehouse.servers.models.embed_local import LocalEmbedder
    from lakehouse.servers.settings import ModelSettings

    texts = make_texts(args.texts)
    embedder = LocalEmbedder(ModelSettings(local_batch_size=args.batch))
    started = time.perf_counter()
    embedder.load()
    log(f"numpy model loaded in {time.perf_counter() - started:.2f}s")

    import torch
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    reference = SentenceTransformer(str(embed_local.model_dir()), device="cpu")
    threads = torch.get_num_threads()
    log(f"sentence-transformers loaded in {time.perf_counter() - started:.2f}s (torch threads {threads})")

    started = time.perf_counter()
    batches = embedder.tokenize(texts)
    tokenize_s = time.perf_counter() - started
    tokens = int(sum(b.mask.sum() for b in batches))
    padded = int(sum(b.mask.size for b in batches))
    log(f"{len(texts)} texts, {tokens} tokens ({tokens / len(texts):.1f}/text), padding {padded / tokens - 1:.1%}")

    def lakehouse() -> None:
        embedder.embed(texts)

    def forward_only() -> None:
        for batch in batches:
            embedder.forward(batch)

    def sentence_transformers() -> None:
        reference.encode(texts, batch_size=args.batch, normalize_embeddings=True, convert_to_numpy=True)

    times = interleaved(
        {"lakehouse": lakehouse, "forward": forward_only, "st": sentence_transformers}, repeat=args.repeat
    )
    ours = embedder.embed(texts)
    reference_out = reference.encode(texts, batch_size=args.batch, normalize_embeddings=True, convert_to_numpy=True)
    cosine = np.sum(ours * reference_out, axis=1)

    queries = texts[: args.queries]
    latency: dict[str, list[float]] = {"lakehouse": [], "st": []}
    for q in queries[:10]:  # warm-up
        embedder.embed([q])
        reference.encode([q])
    for i, q in enumerate(queries):
        pair = [("lakehouse", lambda q=q: embedder.embed([q])), ("st", lambda q=q: reference.encode([q]))]
        for name, call in pair if i % 2 == 0 else pair[::-1]:
            started = time.perf_counter()
            call()
            latency[name].append(time.perf_counter() - started)

    n = len(texts)
    ours_s, forward_s, st_s = median(times["lakehouse"]), median(times["forward"]), median(times["st"])
    table = Table(f"local embeddings: all-MiniLM-L6-v2, {n} texts of {MIN_WORDS}-{MAX_WORDS} words, batch {args.batch}")
    table.add("texts/s (median)", fmt_num(n / ours_s), f"{fmt_num(n / st_s)} (s-t, torch)", f"{st_s / ours_s:.2f}x")
    table.add(
        "texts/s (best)",
        fmt_num(n / min(times["lakehouse"])),
        f"{fmt_num(n / min(times['st']))} (s-t, torch)",
        f"{min(times['st']) / min(times['lakehouse']):.2f}x",
    )
    table.add(
        "embed() vs forward alone, s",
        fmt_num(ours_s, "s"),
        f"{fmt_num(forward_s, 's')} (numpy forward)",
        f"{ours_s / forward_s:.2f}x",
    )
    table.add("tokenise + batch, ms", fmt_num(tokenize_s * 1000, "ms"))
    for p in (50, 90):
        ours_ms = percentile(latency["lakehouse"], p) * 1000
        st_ms = percentile(latency["st"], p) * 1000
        table.add(
            f"1-query latency p{p}, ms",
            fmt_num(ours_ms, "ms"),
            f"{fmt_num(st_ms, 'ms')} (s-t)",
            f"{ours_ms / st_ms:.2f}x",
        )
    table.add("cosine vs s-t (min / mean)", f"{cosine.min():.6f} / {cosine.mean():.6f}")
    table.notes.append(
        "ratio for texts/s: s-t time / lakehouse time (>1: lakehouse faster); others: lakehouse / baseline"
    )
    table.notes.append(f"padding waste after length sorting: {padded / tokens - 1:.1%} of real tokens")
    table.notes.append(
        f"{os.cpu_count()} cpus; torch {torch.__version__}, {torch.get_num_threads()} threads; numpy {np.__version__}"
    )
    table.emit("embed")


if __name__ == "__main__":
    main()
