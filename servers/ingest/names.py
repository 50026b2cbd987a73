"""Column names the lake can hold: unique regardless of case, never empty.

The query engine (DuckDB) resolves identifiers case-insensitively, so ``Platform``
and ``platform`` cannot both be columns of one view. Every ingest path (CSV header,
JSON keys, spreadsheet header) de-duplicates names with the same rule DuckDB's own
readers apply, so a name we choose is the name DuckDB would have chosen, and a
rename is always reported instead of surfacing later as an engine error.
"""

from __future__ import annotations

from collections.abc import Sequence

from lakehouse.api import errors
from lakehouse.api.ingest import Rename

GENERATED_PREFIX = "column"


def generated(count: int) -> tuple[str, ...]:
    """Names for a table with no header: column0, column1, ... (DuckDB's own choice)."""
    return tuple(f"{GENERATED_PREFIX}{i}" for i in range(count))


def unique(names: Sequence[str]) -> tuple[tuple[str, ...], tuple[Rename, ...]]:
    """Fill empty names (``column<i>``) and suffix case-insensitive repeats.

    Mirrors DuckDB's rule so its readers and ours agree: a repeat of ``n`` becomes
    ``n_<k>`` where k counts the clashes on ``n`` so far, re-checked until free
    (``A, a, a_1, A_1`` -> ``A, a_1, a_1_1, A_1_2``).
    """
    clashes: dict[str, int] = {}
    out: list[str] = []
    renames: list[Rename] = []
    for index, original in enumerate(names):
        name = original or f"{GENERATED_PREFIX}{index}"
        while name.lower() in clashes:
            key = name.lower()
            clashes[key] += 1
            name = f"{name}_{clashes[key]}"
        clashes[name.lower()] = 0
        out.append(name)
        if name != original:
            renames.append(Rename(index, original, name))
    return tuple(out), tuple(renames)


def given(columns: Sequence[str], width: int, where: str) -> tuple[str, ...]:
    """The caller's column names (``columns=``) for a table of ``width`` columns, checked:
    one per column, non-empty, unique regardless of case (``where`` names the table)."""
    if len(columns) != width:
        raise errors.invalid_field("columns", f"{len(columns)} name(s) given, but {where} has {width} column(s)")
    named, clashes = unique(columns)
    if clashes:
        detail = "; ".join(c.describe() for c in clashes)
        raise errors.invalid_field("columns", f"names must be non-empty and differ by more than case: {detail}")
    return named
