"""Validator speed: a data-quality suite over a 500K-row workers dataset through the
service, against the same checks written by hand as DuckDB SQL in-process over the same
Parquet files.

    python bench/validation.py [--rows 500000] [--repeat 5]

The workers are the demo world's (``demo/world.py``: ids, e-mails, phones, states, roles,
rates, timestamps), generated once into bench/data/. The suite has one check of every
type: schema, not_null, null_rate, unique, range (failing, as a warning: its sample is
fetched), allowed_values, three regex formats, row_count, freshness and a referential
check against a states dataset. Measured, interleaved round by round:

* ``ValidateDataset`` over gRPC through Envoy, and ``POST /v1/datasets/workers:validate``
  through Envoy (REST); each appends its report to the lake, as every validation does;
* in-process DuckDB: the schema from the files' metadata, one aggregate scan for the
  column checks, one query each for the duplicate keys and the orphans, and the sample of
  the failing range check; the same thread count (DuckDB's default).

Target: the service's median time <= 1.3x the hand-written SQL's (issue 13).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import benchlib
import httpx
from benchlib import Table, count_label, fmt_num, interleaved, log, median, running_system

TARGET = 1.3
SAMPLE_ROWS = 5


def ensure_workers(rows: int) -> Path:
    import pyarrow.parquet as pq

    from lakehouse.demo.world import World

    path = benchlib.DATA / f"validation_workers_{rows}.parquet"
    if not path.exists():
        benchlib.DATA.mkdir(parents=True, exist_ok=True)
        log(f"generating {rows:,} demo workers (once)")
        table = World(workers=rows).workers_table(0, rows)
        tmp = path.with_suffix(".partial")
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
    return path


def suite_text(roles: list[str]) -> str:
    listed = ", ".join(f"'{r}'" for r in roles)
    return f"""
name: workers_bench
checks:
  - type: schema
    columns: {{worker_id: {{type: int64, nullable: false}}, email: {{type: string}}, updated_at: {{type: timestamp}}}}
  - {{type: not_null, column: email}}
  - {{type: null_rate, column: phone, max: 0.01}}
  - {{type: unique, column: worker_id}}
  - {{type: range, column: hourly_rate, min: 16, max: 38, blocking: false}}
  - {{type: allowed_values, column: role, values: [{listed}]}}
  - {{type: regex, column: email, format: email}}
  - {{type: regex, column: phone, format: phone}}
  - {{type: regex, column: state, format: state_code}}
  - {{type: row_count, min: 1, max: 10000000}}
  - {{type: freshness, column: updated_at, max_age: 400d}}
  - {{type: references, column: state, dataset: states, ref_column: code}}
"""


def hand_written(workers: list[str], states: list[str], roles: list[str], formats: dict[str, str]):
    """The same checks as one would write them against the files with DuckDB."""
    import duckdb

    def lit(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    w = "read_parquet([" + ", ".join(lit(p) for p in workers) + "])"
    s = "read_parquet([" + ", ".join(lit(p) for p in states) + "])"
    role_list = ", ".join(lit(r) for r in roles)
    scan = f"""
        SELECT count(*),
               count(*) FILTER (WHERE worker_id IS NULL),
               count(*) FILTER (WHERE email IS NULL),
               count(*) FILTER (WHERE phone IS NULL),
               count(*) FILTER (WHERE hourly_rate < 16 OR hourly_rate > 38),
               count(*) FILTER (WHERE role IS NOT NULL AND role NOT IN ({role_list})),
               count(*) FILTER (WHERE email IS NOT NULL AND NOT regexp_full_match(email, {lit(formats["email"])})),
               count(*) FILTER (WHERE phone IS NOT NULL AND NOT regexp_full_match(phone, {lit(formats["phone"])})),
               count(*) FILTER (WHERE state IS NOT NULL AND NOT regexp_full_match(state, {lit(formats["state_code"])})),
               max(updated_at)
        FROM {w}"""
    duplicates = (
        f"SELECT count(*), sum(n) FROM (SELECT worker_id, count(*) AS n FROM {w}"
        " WHERE worker_id IS NOT NULL GROUP BY worker_id HAVING count(*) > 1)"
    )
    orphans = (
        f"SELECT count(*), count(DISTINCT w.state) FROM {w} AS w ANTI JOIN {s} AS s ON w.state = s.code"
        " WHERE w.state IS NOT NULL"
    )
    sample = f"SELECT * FROM {w} WHERE hourly_rate < 16 OR hourly_rate > 38 ORDER BY ALL LIMIT {SAMPLE_ROWS}"
    con = duckdb.connect()

    def run() -> dict:
        schema = con.sql(f"DESCRIBE SELECT * FROM {w}").fetchall()
        counts = con.execute(scan).fetchall()[0]
        dup = con.execute(duplicates).fetchall()[0]
        orphan = con.execute(orphans).fetchall()[0]
        rows = con.sql(sample).to_arrow_table().num_rows
        return {
            "schema": len(schema),
            "rows": counts[0],
            "out_of_range": counts[4],
            "dups": dup[0],
            "orphans": orphan[0],
            "sample": rows,
        }

    return con, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    benchlib.install_signal_handlers()
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lakehouse.api.validation import ValidateRequest
    from lakehouse.demo.world import ROLES, STATES
    from lakehouse.servers.settings import ValidatorSettings

    formats = ValidatorSettings().formats
    path = ensure_workers(args.rows)
    roles = sorted(ROLES)
    suite = suite_text(roles)
    states = pa.table({"code": sorted(STATES), "name": sorted(STATES)})
    sink = pa.BufferOutputStream()
    pq.write_table(states, sink)
    with running_system() as system, system.client(timeout_s=600) as lh:
        log(f"ingesting {args.rows:,} workers")
        lh.ingest("workers", path, format="parquet", mode="replace")
        lh.ingest("states", sink.getvalue().to_pybytes(), format="parquet", mode="replace")
        lake = system.settings.lake_root
        worker_files = [str(lake / f.path) for f in lh.get_dataset("workers").current.files]
        state_files = [str(lake / f.path) for f in lh.get_dataset("states").current.files]
        con, local = hand_written(worker_files, state_files, roles, formats)
        seen: dict[str, object] = {}
        runs: list[float] = []  # the checks' own time, server-side (ValidationReport.elapsed_ms)
        rest = httpx.Client(base_url=system.rest, timeout=600)

        def grpc() -> None:
            report = lh.validation.validate(ValidateRequest("workers", suite_text=suite, sample_rows=SAMPLE_ROWS))
            seen["grpc"] = (report.rows, [c.failing_count for c in report.checks], report.passed)
            runs.append(report.elapsed_ms / 1000)

        def via_rest() -> None:
            response = rest.post(
                "/v1/datasets/workers:validate", json={"suite_text": suite, "sample_rows": SAMPLE_ROWS}
            )
            response.raise_for_status()
            seen["rest"] = response.json()["passed"]

        def in_process() -> None:
            seen["local"] = local()

        times = interleaved({"grpc": grpc, "rest": via_rest, "in-process": in_process}, args.repeat)
        con.close()
        rest.close()
        rows, failing, passed = seen["grpc"]  # type: ignore[misc]
        local_counts = seen["local"]
        assert rows == local_counts["rows"] == args.rows, (rows, local_counts)  # type: ignore[index]
        assert failing[4] == local_counts["out_of_range"], (failing, local_counts)  # type: ignore[index]
        base = median(times["in-process"])
        table = Table(
            f"validator: 12 checks over {count_label(args.rows)} workers ({len(worker_files)} lake files), "
            f"median of {args.repeat}, warm"
        )
        for name, label in (("grpc", "ValidateDataset gRPC via Envoy"), ("rest", "POST :validate REST via Envoy")):
            t = median(times[name])
            table.add(
                f"{label} (s)",
                fmt_num(t, "s"),
                fmt_num(base, "s"),
                f"{t / base:.2f}x",
                f"<= {TARGET}x",
                t / base <= TARGET,
            )
        run = median(runs[1:])  # the warm-up round's left out, as interleaved() does
        table.add("the checks alone, server-side (s)", fmt_num(run, "s"), fmt_num(base, "s"), f"{run / base:.2f}x")
        table.notes.append(f"suite passed: {passed}; failing counts per check: {failing}")
        table.notes.append("the service also appends each report (12 rows) to validation_reports through ingest")
        table.notes.append(benchlib.environment())
        table.emit("validation")


if __name__ == "__main__":
    main()
