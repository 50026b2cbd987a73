"""Scorer drift: re-score historical (record, persisted category) pairs with today's rules
and count what moved.

The shift matrix lists only changes (from != to), ordered by count descending, then from,
then to (alphabetically), so the same history gives the same JSON. Entries (the drifted
records, by record id) only on request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from lakehouse.api.distillation import DriftEntry, DriftReport, ScoredPair, Shift
from lakehouse.servers.distillation.scorer import Scorer

PLACES = 6


def scorer_drift(
    pairs: Sequence[ScoredPair],
    scorer: Scorer,
    *,
    report_id: str,
    include_entries: bool = False,
    max_entries: int = 0,
    truncated: bool = False,
) -> DriftReport:
    moved: Counter[tuple[str, str]] = Counter()
    entries: list[DriftEntry] = []
    for pair in pairs:
        now = scorer.score(pair.record)
        if now.category == pair.category:
            continue
        moved[(pair.category, now.category)] += 1
        if include_entries:
            entries.append(
                DriftEntry(pair.record.id, pair.category, now.category, now.score, now.reasons, pair.scorer_version)
            )
    shifts = tuple(
        Shift(a, b, n) for (a, b), n in sorted(moved.items(), key=lambda item: (-item[1], item[0][0], item[0][1]))
    )
    drifted = sum(moved.values())
    total = len(pairs)
    entries.sort(key=lambda e: e.record_id)
    return DriftReport(
        report_id=report_id,
        scorer_version=scorer.version,
        total=total,
        drifted=drifted,
        drift_rate=round(drifted / total, PLACES) if total else 0.0,
        shifts=shifts,
        entries=tuple(entries[:max_entries]) if include_entries else (),
        persisted_versions=tuple(sorted({p.scorer_version for p in pairs if p.scorer_version})),
        truncated=truncated,
    )
