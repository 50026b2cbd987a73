"""Per method and source: calls, errors by code, and latency percentiles over a window."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from lakehouse.api.observer import OK, MethodStats

PERCENTILES = (50.0, 95.0, 99.0)


class _Group:
    __slots__ = ("errors", "latencies")

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}


def method_stats(rows: Iterable[tuple[str, str, str, str, float]]) -> tuple[MethodStats, ...]:
    """``rows``: (service, method, source, code, latency_ms) of each op in the window.
    Percentiles are numpy's linear interpolation between the nearest ranks."""
    groups: dict[tuple[str, str, str], _Group] = {}
    for service, method, source, code, latency in rows:
        group = groups.get((service, method, source))
        if group is None:
            group = groups[(service, method, source)] = _Group()
        group.latencies.append(latency)
        if code != OK:
            group.errors[code] = group.errors.get(code, 0) + 1
    out = []
    for (service, method, source), group in sorted(groups.items()):
        p50, p95, p99 = (float(v) for v in np.percentile(np.asarray(group.latencies), PERCENTILES))
        out.append(
            MethodStats(
                service=service,
                method=method,
                source=source,
                count=len(group.latencies),
                errors=dict(sorted(group.errors.items())),
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
            )
        )
    return tuple(out)
