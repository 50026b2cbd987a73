"""Background rebuilds: a new generation's graph built off the write path, then parked.

The snapshot (live rows and the log position they reflect) is taken under the
corpus lock; the graph is built and written to storage with no corpus lock held,
so writes and searches continue. Writes that land meanwhile are in the log after
the snapshot's ``log_seq`` and are replayed onto the new generation when it is
swapped in (``Corpus.activate``), so none is lost. A built generation waits in
``pending`` until swapped; it never serves before that.
"""

from __future__ import annotations

import logging
import threading

from lakehouse.api import errors
from lakehouse.servers.vector.corpus import Corpus
from lakehouse.servers.vector.index import LiveIndex, Rows
from lakehouse.servers.vector.model import BUILD_FAILED, BUILD_IN_PROGRESS, BUILD_TIMEOUT, HnswParams
from lakehouse.servers.vector.persistence import KIND_REBUILD, Manifest, now, write_generation

log = logging.getLogger(__name__)


def start_rebuild(corpus: Corpus, params: HnswParams) -> int:
    """Start building generation N from the current live rows (tombstones dropped); returns N."""
    with corpus.lock:
        corpus.check_open()
        if corpus.building is not None:
            raise errors.FailedPrecondition(
                f"corpus {corpus.name!r} is already building generation {corpus.building}",
                reason=BUILD_IN_PROGRESS,
            )
        gen = corpus.allocate_generation()
        rows, seq = corpus.active.live_rows()
        corpus.building, corpus.building_seq, corpus.build_error = gen, seq, None
        thread = threading.Thread(
            target=_build, args=(corpus, gen, params, rows, seq), name=f"vector-build-{corpus.name}-{gen}", daemon=True
        )
        corpus.build_thread = thread
        thread.start()
        return gen


def _build(corpus: Corpus, gen: int, params: HnswParams, rows: Rows, seq: int) -> None:
    try:
        build = corpus.tuning.build
        live = LiveIndex.build(
            gen, params, rows, seq, chunk_rows=build.chunk_rows, threads=build.threads, cancel=corpus.cancel
        )
        manifest = Manifest(corpus.name, gen, KIND_REBUILD, params, len(rows.ids), live.count, seq, now())
        manifest, sizes = write_generation(corpus.store, manifest, live.serialize(), rows)
        with corpus.lock:
            corpus.objects.update(sizes)
            if corpus.closed or corpus.deleted:
                corpus.discard_generation(gen)
                return
            corpus.manifests[gen] = manifest
            corpus.loaded[gen] = live
            corpus.pending.add(gen)
        log.info("corpus %s: generation %d built (%d items)", corpus.name, gen, len(rows.ids))
    except Exception as exc:
        if not isinstance(exc, errors.Cancelled):
            log.exception("corpus %s: building generation %d failed", corpus.name, gen)
        corpus.build_error = exc
        corpus.discard_generation(gen)
    finally:
        with corpus.lock:
            corpus.building = None
            corpus.building_seq = 0


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
    if corpus.build_error is not None:
        raise errors.Internal(
            f"corpus {corpus.name!r}: build failed: {corpus.build_error}", reason=BUILD_FAILED
        ) from corpus.build_error
    with corpus.lock:
        return max(corpus.pending, default=corpus.active.generation)
