"""Audit baseline drift: a longitudinal JSONL of metric snapshots, and what left its baseline.

The file has the Rust system's ``audit_baselines.jsonl`` shape, one snapshot a line::

    {"timestamp": "2026-12-02T19:33:11Z", "subject": "bench/vector", "metrics": {"p50_ms": 1.9}}

It lives in the lake bucket under ``drift.audit_key``. Object stores cannot append, so an
append reads the file, adds the line and puts the whole (a put is atomic: a reader sees
the old file or the new one, never half a line); appends of one process are serialised
by a lock, and DriftService is hosted by the matrix component, so one process writes.
Lines are only ever added; one that does not parse (a hand edit) is skipped, not fatal.

The baseline of a metric is its median over the subject's last ``window`` snapshots
before the one compared (the median: one outlying run does not move it). A metric has
moved when ``|value - baseline| > max(absolute_tolerance, relative_tolerance x |baseline|)``,
i.e. beyond both tolerances; a metric with no baseline yet is "new", one the baseline has
but the snapshot lacks is "missing"; neither counts as moved.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from lakehouse.api import errors
from lakehouse.api.drift import (
    INVALID_DRIFT_OPTION,
    INVALID_METRIC,
    STATUS_MISSING,
    STATUS_MOVED,
    STATUS_NEW,
    STATUS_STEADY,
    AuditMetricDrift,
    AuditSnapshot,
)
from lakehouse.api.errors import invalid_field
from lakehouse.servers.storage.model import ObjectStore

log = logging.getLogger(__name__)
JSONL_TYPE = "application/x-ndjson"
MAX_NAME_CHARS = 256


class BaselineFile:
    """The snapshots JSONL at ``key`` of ``store``."""

    def __init__(self, store: ObjectStore, key: str) -> None:
        self._store = store
        self.key = key
        self._lock = threading.Lock()

    def _raw(self) -> bytes:
        try:
            return b"".join(self._store.get(self.key))
        except errors.NotFound:
            return b""

    def read(self) -> list[AuditSnapshot]:
        """Every snapshot, in file (append) order."""
        out, skipped = [], 0
        for line in self._raw().splitlines():
            if not line.strip():
                continue
            try:
                out.append(parse_line(line))
            except (ValueError, TypeError, KeyError, AttributeError):
                skipped += 1
        if skipped:
            log.warning("%s: %d unreadable lines skipped", self.key, skipped)
        return out

    def append(self, snapshot: AuditSnapshot) -> None:
        with self._lock:
            raw = self._raw()
            if raw and not raw.endswith(b"\n"):
                raw += b"\n"
            data = raw + format_line(snapshot)
            self._store.put(self.key, iter([data]), JSONL_TYPE)


def format_line(s: AuditSnapshot) -> bytes:
    """One line: keys in the Rust order, metrics by name, UTC with a Z."""
    when = s.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    body = {"timestamp": when, "subject": s.subject, "metrics": {k: s.metrics[k] for k in sorted(s.metrics)}}
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def parse_line(line: bytes) -> AuditSnapshot:
    data = json.loads(line)
    when = datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00"))
    metrics = {str(k): float(v) for k, v in data["metrics"].items() if not isinstance(v, bool)}
    return AuditSnapshot(when if when.tzinfo else when.replace(tzinfo=UTC), str(data["subject"]), metrics)


def check_snapshot(subject: str, metrics: Mapping[str, float]) -> None:
    if not subject or len(subject) > MAX_NAME_CHARS:
        raise invalid_field("subject", f"required, at most {MAX_NAME_CHARS} characters", INVALID_METRIC)
    for name, value in metrics.items():
        if not name or len(name) > MAX_NAME_CHARS:
            raise invalid_field("metrics", f"a metric name must be 1-{MAX_NAME_CHARS} characters", INVALID_METRIC)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise invalid_field(f"metrics.{name}", f"must be a finite number, got {value!r}", INVALID_METRIC)


def check_tolerance(name: str, value: float) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise invalid_field(name, f"must be a finite number >= 0, got {value!r}", INVALID_DRIFT_OPTION)
    return float(value)


def compare(
    snapshot: AuditSnapshot,
    history: Sequence[AuditSnapshot],
    *,
    window: int,
    relative: float,
    absolute: float,
    per_metric: Mapping[str, float],
) -> tuple[list[AuditMetricDrift], int]:
    """Each metric of the snapshot or of its baseline (by name) against the baseline of
    ``history``'s last ``window`` snapshots; returns the metrics and that snapshot count."""
    recent = list(history)[-window:]
    names = sorted(set(snapshot.metrics) | {n for s in recent for n in s.metrics})
    out = []
    for name in names:
        values = [s.metrics[name] for s in recent if name in s.metrics]
        baseline = float(statistics.median(values)) if values else 0.0
        if name not in snapshot.metrics:
            out.append(AuditMetricDrift(name, 0.0, baseline, 0.0, 0.0, len(values), False, STATUS_MISSING))
            continue
        value = float(snapshot.metrics[name])
        if not values:
            out.append(AuditMetricDrift(name, value, 0.0, 0.0, 0.0, 0, False, STATUS_NEW))
            continue
        delta = value - baseline
        ratio = delta / abs(baseline) if baseline else 0.0
        moved = abs(delta) > max(absolute, per_metric.get(name, relative) * abs(baseline))
        status = STATUS_MOVED if moved else STATUS_STEADY
        out.append(AuditMetricDrift(name, value, baseline, delta, ratio, len(values), moved, status))
    return out, len(recent)
