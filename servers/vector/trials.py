"""Index trials: what each build or rebuild of a corpus's graph cost and how good it came out.

A trial is measured where the graph is built (``rebuild._build``, ``VectorCore.build_corpus``)
and kept beside the corpus as ``trials/<generation>.json`` (``layout.trial_key``), so it
survives restarts and moves with the lake; the newest ``keep_per_corpus`` are kept.

Recall is probed on the graph itself: a fixed-seed sample of its items is searched with
the graph walk and with an exact scan of the same vectors (the index's flat storage), each
item's own row left out of both, and recall@k is the mean overlap. It measures the HNSW
parameters, not the embedding model.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

import faiss
import numpy as np

from lakehouse.api import errors
from lakehouse.api.vector import TRIAL_FAILED, TRIAL_OK, IndexTrial
from lakehouse.servers.clock import utc_now
from lakehouse.servers.settings import TrialSettings
from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.vector.layout import trial_key
from lakehouse.servers.vector.model import HnswParams
from lakehouse.servers.vector.persistence import JSON_TYPE, delete_if_present, get_bytes, put_bytes

log = logging.getLogger(__name__)
TRIAL_FORMAT = 1


@dataclass(frozen=True)
class Probe:
    queries: int
    k: int
    ef_search: int
    recall: float


NO_PROBE = Probe(0, 0, 0, 0.0)


def probe_recall(index: faiss.IndexHNSWFlat, settings: TrialSettings, ef_search: int) -> Probe:
    """recall@k of the graph walk against an exact scan, on a fixed-seed sample of its rows."""
    n = index.ntotal
    k = min(settings.probe_k, n - 1)
    count = min(settings.probe_queries, n)
    if k < 1 or count < 1:
        return NO_PROBE
    rng = np.random.default_rng(settings.probe_seed)
    labels = np.sort(rng.choice(n, size=count, replace=False)).astype(np.int64)
    queries = index.reconstruct_batch(labels)
    _, exact = faiss.downcast_index(index.storage).search(queries, k + 1)
    ef = max(ef_search, k + 1)  # a walk narrower than the result is no walk
    _, walked = index.search(queries, k + 1, params=faiss.SearchParametersHNSW(efSearch=ef))
    overlaps = [
        len(_neighbours(w, label, k) & truth) / len(truth)
        for label, e, w in zip(labels.tolist(), exact, walked, strict=True)
        if (truth := _neighbours(e, label, k))
    ]
    recall = float(np.mean(overlaps)) if overlaps else 0.0
    return Probe(count, k, ef, recall)


def _neighbours(row: np.ndarray, own: int, k: int) -> set[int]:
    """The first k labels of a k+1 result, without the query's own row (or the last, if absent)."""
    labels = [int(label) for label in row if label >= 0 and label != own]
    return set(labels[:k])


class TrialClock:
    """Times a build; ``trial`` turns the measurement into an ``IndexTrial``."""

    def __init__(self) -> None:
        self.started_at = utc_now()
        self._start = time.perf_counter()
        self._seconds: float | None = None
        self._finished_at = self.started_at

    def stop(self) -> None:
        """The build is over: what runs after (the probe) is not its time."""
        if self._seconds is None:
            self._seconds = time.perf_counter() - self._start
            self._finished_at = utc_now()

    def trial(
        self,
        corpus: str,
        generation: int,
        kind: str,
        params: HnswParams,
        items: int,
        size_bytes: int = 0,
        probe: Probe = NO_PROBE,
        error: BaseException | None = None,
    ) -> IndexTrial:
        self.stop()
        return IndexTrial(
            corpus=corpus,
            generation=generation,
            kind=kind,
            status=TRIAL_OK if error is None else TRIAL_FAILED,
            dimension=params.dimension,
            metric=params.metric,
            hnsw_m=params.hnsw_m,
            ef_construction=params.ef_construction,
            items=items,
            build_seconds=self._seconds or 0.0,
            size_bytes=size_bytes,
            probe_queries=probe.queries,
            probe_k=probe.k,
            probe_ef_search=probe.ef_search,
            recall=probe.recall,
            started_at=self.started_at,
            finished_at=self._finished_at,
            error="" if error is None else str(error),
        )


def trial_to_json(trial: IndexTrial) -> bytes:
    fields = asdict(trial)
    fields["started_at"] = trial.started_at.isoformat()
    fields["finished_at"] = trial.finished_at.isoformat()
    return json.dumps({"format": TRIAL_FORMAT, **fields}, sort_keys=True).encode()


def trial_from_json(raw: bytes) -> IndexTrial:
    fields = json.loads(raw)
    fields.pop("format", None)
    known = {name: fields[name] for name in IndexTrial.__dataclass_fields__ if name in fields}
    known["started_at"] = datetime.fromisoformat(known["started_at"])
    known["finished_at"] = datetime.fromisoformat(known["finished_at"])
    return IndexTrial(**known)


class TrialLog:
    """A corpus's trials on storage, read on first use and cached (they change only here)."""

    def __init__(self, store: ObjectStore, corpus: str, generations: set[int], settings: TrialSettings) -> None:
        """``generations``: those with a trial object, from the corpus's listing (owned from here on)."""
        self._store = store
        self._corpus = corpus
        self._settings = settings
        self._lock = threading.Lock()
        self._on_storage = generations
        self._cache: dict[int, IndexTrial] | None = None

    def record(self, trial: IndexTrial, on_change: Callable[[str, int | None], None]) -> None:
        """Write the trial, then drop the oldest beyond ``keep_per_corpus``. ``on_change(key,
        size)`` tells the corpus what its objects became (size None: deleted)."""
        with self._lock:
            key = trial_key(self._corpus, trial.generation)
            on_change(key, put_bytes(self._store, key, trial_to_json(trial), JSON_TYPE).size)
            self._on_storage.add(trial.generation)
            if self._cache is not None:
                self._cache[trial.generation] = trial
            for old in sorted(self._on_storage)[: -self._settings.keep_per_corpus]:
                old_key = trial_key(self._corpus, old)
                delete_if_present(self._store, old_key)
                on_change(old_key, None)
                self._on_storage.discard(old)
                if self._cache is not None:
                    self._cache.pop(old, None)

    def newest(self, limit: int) -> list[IndexTrial]:
        with self._lock:
            if self._cache is None:
                read = {gen: self._read(gen) for gen in sorted(self._on_storage)}
                self._cache = {gen: trial for gen, trial in read.items() if trial is not None}
            return [self._cache[gen] for gen in sorted(self._cache, reverse=True)[:limit]]

    def _read(self, generation: int) -> IndexTrial | None:
        """A trial object that cannot be read is left out (and logged): it is a record, not state."""
        key = trial_key(self._corpus, generation)
        try:
            return trial_from_json(get_bytes(self._store, key))
        except (errors.LakehouseError, ValueError, KeyError, TypeError) as exc:
            log.warning("corpus %s: skipping unreadable index trial %s: %s", self._corpus, key, exc)
            return None
