"""Background rebuilds: a new generation's graph built off the write path, then parked.

The snapshot (live rows and the log position they reflect) is taken under the
corpus lock; the graph is built and written to storage with no corpus lock held,
so writes and searches continue. Writes that land meanwhile are in the log after
the snapshot's ``log_seq`` and are replayed onto the new generation when it is
swapped in (``generations.activate``), so none is lost. A built generation waits
as pending until swapped; it never serves before that.
"""

from __future__ import annotations

import logging

from lakehouse.api import errors
from lakehouse.api.vector import BUILD_FAILED, BUILD_TIMEOUT, TRIAL_REBUILD
from lakehouse.servers.vector.corpus import Corpus
from lakehouse.servers.vector.index import LiveIndex, Rows
from lakehouse.servers.vector.model import HnswParams
from lakehouse.servers.vector.persistence import KIND_REBUILD, Manifest, now, write_generation
from lakehouse.servers.vector.trials import TrialClock

log = logging.getLogger(__name__)


def start_rebuild(corpus: Corpus, params: HnswParams) -> int:
    """Start building generation N from the current live rows (tombstones dropped); returns N."""
    return corpus.begin_rebuild(lambda gen, rows, seq: _build(corpus, gen, params, rows, seq))


def _build(corpus: Corpus, gen: int, params: HnswParams, rows: Rows, seq: int) -> None:
    clock = TrialClock()
    try:
        build = corpus.tuning.build
        live = LiveIndex.build(
            gen, params, rows, seq, chunk_rows=build.chunk_rows, threads=build.threads, cancel=corpus.cancel
        )
        manifest = Manifest(corpus.name, gen, KIND_REBUILD, params, len(rows.ids), live.count, seq, now())
        manifest, sizes = write_generation(corpus.store, manifest, live.serialize(), rows)
        clock.stop()
        if not corpus.park_built(gen, manifest, live, sizes):
            return
        log.info("corpus %s: generation %d built (%d items)", corpus.name, gen, len(rows.ids))
        probe = corpus.probe(live)
        trial = clock.trial(corpus.name, gen, TRIAL_REBUILD, params, len(rows.ids), sum(sizes.values()), probe)
        corpus.record_trial(trial)
    except Exception as exc:
        if not isinstance(exc, errors.Cancelled):
            log.exception("corpus %s: building generation %d failed", corpus.name, gen)
            corpus.record_trial(clock.trial(corpus.name, gen, TRIAL_REBUILD, params, len(rows.ids), error=exc))
        corpus.fail_rebuild(gen, exc)
    finally:
        corpus.end_rebuild()


def wait_for_build(corpus: Corpus, timeout: float | None) -> int:
    """Wait for the running build (and background checkpoint); returns the newest built
    generation, or the active one when nothing is pending. A failed build raises."""
    for thread in (corpus.build_thread, corpus.checkpoint_thread):
        if thread is None:
            continue
        thread.join(timeout)
        if thread.is_alive():
            raise errors.DeadlineExceeded(
                f"corpus {corpus.name!r}: background work still running after {timeout}s", reason=BUILD_TIMEOUT
            )
    error = corpus.build_error
    if error is not None:
        raise errors.Internal(f"corpus {corpus.name!r}: build failed: {error}", reason=BUILD_FAILED) from error
    with corpus.lock:  # pending and active read at one instant
        built = corpus.newest_built()
        return corpus.active.generation if built is None else built
