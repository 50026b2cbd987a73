"""Pathway memory: nearest-pathway lookup p50 with 10K recorded pathways.

    python bench/pathway.py [--pathways 10000] [--queries 300]

``--pathways`` synthetic staffing tasks (seeded: role, certification, city, shift, ...),
each a three-step pathway, are written as one state file (``state.encode``), the same
file the in-process core and the server load. Then ``--queries`` new tasks are looked up
one by one, the variants interleaved query by query:

* ``numpy``: the baseline, a float32 matrix of the same vectors, ``M @ q`` and an argsort
  (no tie rule, no pathway objects), the tasks hashed the same way;
* ``core``: PathwayCore.nearest in-process (hash, cosine rows in float64, exact tie order,
  the k pathways);
* ``grpc``: NearestPathways direct to the server, and through Envoy (each match carries
  its whole pathway).

Also: recording one more pathway at that size (the state file is rewritten whole) and the
time to load the state file. No target is set by the issue beyond reporting the p50.
Reports; never asserts.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import benchlib
import numpy as np
from benchlib import Table, log, percentile, running_system

K = 5
SEED = 20261202
ROLES = ["forklift operator", "welder", "picker", "packer", "machine operator", "electrician", "cna", "driver"]
CERTS = ["OSHA-10", "OSHA-30", "AWS D1.1", "CDL-A", "First Aid", "ServSafe", "forklift certified"]
CITIES = ["Chicago IL", "Joliet IL", "Gary IN", "Milwaukee WI", "Detroit MI", "Toledo OH", "Aurora IL"]
EXTRA = ["night shift", "day shift", "weekends", "bilingual", "2 years", "5 years", "temp to hire", "urgent"]
MODES = ["filter.derive", "matrix.search", "matrix.relevance", "playbook.record", "echo", "text.render"]


def task(rng: random.Random) -> str:
    return (
        f"{rng.choice(ROLES)} with {rng.choice(CERTS)} in {rng.choice(CITIES)}, "
        f"{rng.choice(EXTRA)} {rng.choice(EXTRA)} #{rng.randint(1, 500)}"
    )


def pathways(n: int):
    from lakehouse.api.pathway import Pathway, PathwayStep
    from lakehouse.servers.pathway import buckets

    rng = random.Random(SEED)
    when = datetime(2026, 12, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        text = task(rng)
        modes = rng.sample(MODES, 3)
        steps = tuple(
            PathwayStep(f"s{j}", m, {"text": "$INPUTS.job"}, (f"s{j - 1}",) if j else ()) for j, m in enumerate(modes)
        )
        out.append(
            Pathway(f"{i:032x}", text, steps, buckets.vector_bytes(text), when, inputs={"job": text}, workflow="bench")
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pathways", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    benchlib.install_signal_handlers()

    from lakehouse.api.channel import open_channel
    from lakehouse.api.pathway import PathwayStep, RecordRequest, RemotePathway
    from lakehouse.servers.pathway import buckets, state
    from lakehouse.servers.pathway.core import PathwayCore
    from lakehouse.servers.settings import Settings
    from lakehouse.servers.storage.local import LocalObjectStore

    started = time.perf_counter()
    recorded = pathways(args.pathways)
    data = state.encode(recorded)
    log(f"{args.pathways} pathways, state file {len(data) / 1e6:.1f} MB, built in {time.perf_counter() - started:.1f}s")
    rng = random.Random(SEED + 1)
    queries = [task(rng) for _ in range(args.queries)]

    home = Path(tempfile.mkdtemp(prefix="lakehouse-bench-pathway-"))
    settings = Settings(home=home)
    lake = LocalObjectStore("lake", home / "lake")
    lake.put(settings.pathway.state_key, [data])
    core = PathwayCore(settings.pathway, lake)
    load_started = time.perf_counter()
    core.list(page_size=1)
    load_s = time.perf_counter() - load_started

    matrix = np.stack([buckets.vector_from_bytes(p.vector) for p in recorded])

    def numpy(i: int) -> list[int]:
        q = buckets.vector(queries[i])
        return [int(j) for j in np.argsort(-(matrix @ q), kind="stable")[:K]]

    def in_core(i: int) -> list[int]:
        return [int(m.pathway.id, 16) for m in core.nearest(queries[i], K, -1.0).matches]

    with running_system() as system:
        (system.settings.lake_root / settings.pathway.state_key).parent.mkdir(parents=True, exist_ok=True)
        (system.settings.lake_root / settings.pathway.state_key).write_bytes(data)  # before the first pathway call
        direct = open_channel(system.state.grpc_upstream)
        envoy = open_channel(system.grpc_address)
        remote_direct, remote_envoy = RemotePathway(direct), RemotePathway(envoy)
        try:

            def grpc_direct(i: int) -> list[int]:
                return [int(m.pathway.id, 16) for m in remote_direct.nearest(queries[i], K, -1.0).matches]

            def grpc_envoy(i: int) -> list[int]:
                return [int(m.pathway.id, 16) for m in remote_envoy.nearest(queries[i], K, -1.0).matches]

            for warm in (numpy, in_core, grpc_direct, grpc_envoy):
                warm(0)
            lat, got = benchlib.interleave_queries(
                {"numpy": numpy, "core": in_core, "grpc direct": grpc_direct, "grpc via Envoy": grpc_envoy},
                args.queries,
            )
        finally:
            direct.close()
            envoy.close()

    record_ms = []
    for i in range(10):
        steps = (PathwayStep("s0", "echo", {"value": i}),)
        t0 = time.perf_counter()
        core.record(RecordRequest(task=f"bench extra pathway {i} {queries[i]}", steps=steps))
        record_ms.append((time.perf_counter() - t0) * 1000)
    shutil.rmtree(home, ignore_errors=True)

    agree = sum(got["core"][i] == got["grpc direct"][i] == got["grpc via Envoy"][i] for i in range(args.queries))
    same_set = sum(set(got["core"][i]) == set(got["numpy"][i]) for i in range(args.queries))
    base = percentile(lat["numpy"], 50)
    table = Table(f"pathway memory: nearest (k={K}) over {args.pathways} pathways, {args.queries} queries")
    for name in ("numpy", "core", "grpc direct", "grpc via Envoy"):
        p50 = percentile(lat[name], 50)
        table.add(
            f"{name}: lookup p50 (ms)",
            f"{p50:.3f}",
            f"{base:.3f}" if name != "numpy" else "",
            f"{p50 / base:.1f}x" if name != "numpy" else "",
        )
    table.add("core: lookup p90 (ms)", f"{percentile(lat['core'], 90):.3f}")
    table.add("record one more pathway p50 (ms, state file rewritten)", f"{percentile(record_ms, 50):.1f}")
    table.add("load the state file (s)", f"{load_s:.2f}")
    table.notes.append(
        f"state file {len(data) / 1e6:.1f} MB; the same top {K} in core, gRPC and Envoy: {agree}/{args.queries}"
    )
    table.notes.append(f"same top-{K} set as the float32 numpy baseline (ties aside): {same_set}/{args.queries}")
    table.notes.append(benchlib.environment())
    table.emit("pathway")
    log("p95 (ms): " + ", ".join(f"{n} {percentile(t, 95):.3f}" for n, t in lat.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
