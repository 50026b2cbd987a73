"""Truth rule speed, in-process: the shipped staffing rules over demo candidates.

    python bench/truth.py [--rows 200000] [--repeat 5]

The candidates are the demo world's workers (``demo/world.py``) in the résumé shape the
rules read (doc_id, state, roles, certifications). Measured, interleaved round by round:

* the record evaluator (``TruthCore.check_records``: every rule on every record, in
  Python), reported as records/s;
* the statement ``sql.py`` generates, on in-process DuckDB over the same rows, against
  the same rules written by hand as DuckDB SQL (one aggregate scan), as a ratio.
"""

from __future__ import annotations

import argparse

import benchlib
import duckdb
import pyarrow as pa
from benchlib import Table, count_label, fmt_num, interleaved, log, median

from lakehouse.demo.world import World
from lakehouse.servers.settings import Settings
from lakehouse.servers.truth.core import EXAMPLES_DIR, TruthCore
from lakehouse.servers.truth.rules import load_rules
from lakehouse.servers.truth.sql import check_sql

HAND_SQL = """
SELECT count(*) AS records,
  count(*) FILTER (WHERE list_contains(roles, 'forklift operator')
                   AND NOT coalesce(list_contains(certifications, 'Forklift'), false)) AS forklift,
  count(*) FILTER (WHERE state = 'IL'
                   AND NOT coalesce(list_has_any(certifications, ['OSHA-10', 'OSHA-30']), false)) AS il,
  count(*) FILTER (WHERE list_contains(roles, 'welder')
                   AND NOT coalesce(list_contains(certifications, 'AWS Welding'), false)) AS welder,
  count(*) FILTER (WHERE state IS NULL) AS state
FROM candidates
"""


def candidates(rows: int) -> list[dict]:
    world = World(workers=rows)
    out = []
    for i in range(rows):
        w = world.worker(i)
        out.append({"doc_id": f"w{i}", "state": w.state, "roles": [w.role], "certifications": list(w.certifications)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    log(f"generating {args.rows:,} candidates")
    records = candidates(args.rows)
    table = pa.Table.from_pylist(records)
    settings = Settings()
    rule_set = load_rules((EXAMPLES_DIR / "staffing.toml").read_text(), settings.truth)
    core = TruthCore(settings, lambda: None)
    con = duckdb.connect()
    con.register("candidates", table)
    generated = check_sql(rule_set, table.schema, "candidates", "doc_id", settings.truth.violations_default).sql
    expected = core.check_records(rule_set, records, "doc_id").violation_count
    got = con.sql(generated).fetchall()[0]
    if sum(got[2 : 2 + 2 * len(rule_set.rules) : 2]) != expected:
        log("the evaluators disagree: the figures below compare different work")
    times = interleaved(
        {
            "python": lambda: core.check_records(rule_set, records, "doc_id"),
            "generated_sql": lambda: con.sql(generated).fetchall(),
            "hand_sql": lambda: con.sql(HAND_SQL).fetchall(),
        },
        args.repeat,
    )
    py, gen, hand = (median(times[k]) for k in ("python", "generated_sql", "hand_sql"))
    report = Table(f"truth rules, {count_label(args.rows)} candidates, {len(rule_set.rules)} rules")
    report.add("record evaluator", f"{fmt_num(args.rows / py)} records/s", ok=None)
    report.add(
        "dataset check (DuckDB)",
        f"{gen * 1000:.1f} ms",
        f"{hand * 1000:.1f} ms hand SQL",
        f"{gen / hand:.2f}x",
    )
    report.notes.append(f"{expected:,} violations; the generated statement also lists the first violations by key")
    report.notes.append(benchlib.environment())
    report.emit("truth")


if __name__ == "__main__":
    main()
