"""Moving a corpus between generations: checkpoints, swaps, rollbacks.

A checkpoint persists the active graph as it is (log folded in) under a new
generation number that takes the active one's place; the rollback target stays.
A swap or rollback activates another generation: it is loaded if needed, the log
after its position is replayed onto it (first without blocking writers, then the
remainder with them blocked), ``corpus.json`` is rewritten, and only then is the
``active`` reference replaced. In-flight searches keep the generation they
started on, which stays whole and usable.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from lakehouse.api import errors
from lakehouse.servers.vector.loader import catch_up, load_generation
from lakehouse.servers.vector.model import GENERATION_NOT_FOUND, NO_BUILT_GENERATION, NO_PREVIOUS_GENERATION
from lakehouse.servers.vector.persistence import KIND_CHECKPOINT, Manifest, now, write_generation

if TYPE_CHECKING:
    from lakehouse.servers.vector.corpus import Corpus

log = logging.getLogger(__name__)


def start_checkpoint(corpus: Corpus) -> None:
    """Checkpoint in the background unless one is already running."""
    with corpus.lock:
        if corpus.checkpoint_thread is not None and corpus.checkpoint_thread.is_alive():
            return
        thread = threading.Thread(
            target=_checkpoint_quietly, args=(corpus,), name=f"vector-ckpt-{corpus.name}", daemon=True
        )
        corpus.checkpoint_thread = thread
        thread.start()


def _checkpoint_quietly(corpus: Corpus) -> None:
    try:
        checkpoint(corpus)
    except Exception:  # the log still holds every write; the next checkpoint retries
        if corpus.closed:
            log.debug("corpus %s: background checkpoint abandoned at shutdown", corpus.name)
        else:
            log.exception("corpus %s: background checkpoint failed", corpus.name)


def checkpoint(corpus: Corpus) -> int:
    """Returns the active generation afterwards (unchanged when there was nothing to fold)."""
    with corpus.checkpoint_lock:
        with corpus.lock:
            corpus.check_open()
            live = corpus.active
            if live.applied_seq == corpus.manifests[live.generation].log_seq:
                return live.generation
            gen = corpus.allocate_generation()
            graph, rows, seq = live.snapshot()  # writers wait for this; searches do not
        count = len(rows.ids) - int(rows.deleted.sum())
        manifest = Manifest(corpus.name, gen, KIND_CHECKPOINT, live.params, len(rows.ids), count, seq, now())
        try:
            manifest, sizes = write_generation(corpus.store, manifest, graph, rows)
            with corpus.lock:
                corpus.objects.update(sizes)
                corpus.check_open()
                if corpus.active is not live:  # swapped meanwhile: a snapshot of a retired graph
                    corpus.discard_generation(gen)
                    return corpus.active.generation
                corpus.write_record(replace(corpus.record, active=gen))
                corpus.manifests[gen] = manifest
                del corpus.loaded[live.generation]
                live.generation = gen
                corpus.loaded[gen] = live
                corpus.collect_garbage()
                return gen
        except BaseException:
            if gen not in corpus.manifests:
                corpus.discard_generation(gen)
            raise


def activate(corpus: Corpus, gen: int) -> int:
    with corpus.swap_lock:
        with corpus.lock:
            corpus.check_open()
            if gen == corpus.active.generation:
                return gen
            manifest = corpus.manifests.get(gen)
            if manifest is None:
                raise errors.NotFound(
                    f"corpus {corpus.name!r} has no generation {gen}; available: {sorted(corpus.manifests)}",
                    reason=GENERATION_NOT_FOUND,
                )
            live = corpus.loaded.get(gen)
            seqs = list(corpus.logs)
        threads = corpus.tuning.build.threads
        if live is None:
            loaded = load_generation(corpus.store, manifest, corpus.tuning.build)
            live = loaded.live
            with corpus.lock:
                corpus.manifests[gen] = loaded.manifest
                corpus.objects.update(loaded.written)
        catch_up(corpus.store, live, corpus.name, seqs, threads)
        with corpus.lock:
            corpus.check_open()
            catch_up(corpus.store, live, corpus.name, list(corpus.logs), threads)
            old = corpus.active
            corpus.write_record(replace(corpus.record, active=gen, previous=old.generation))
            corpus.loaded[gen] = live
            corpus.active = live
            corpus.pending.discard(gen)
            corpus.collect_garbage()
            return gen


def swap(corpus: Corpus, gen: int | None = None) -> int:
    """Activate ``gen``, or the newest built generation when None."""
    if gen is None:
        with corpus.lock:
            if not corpus.pending:
                raise errors.FailedPrecondition(
                    f"corpus {corpus.name!r} has no built generation to swap in", reason=NO_BUILT_GENERATION
                )
            gen = max(corpus.pending)
    return activate(corpus, gen)


def rollback(corpus: Corpus) -> int:
    """Activate the previous generation; the one it replaces becomes the new previous."""
    with corpus.lock:
        previous = corpus.record.previous
        if not previous or previous not in corpus.manifests:
            raise errors.FailedPrecondition(
                f"corpus {corpus.name!r} has no previous generation", reason=NO_PREVIOUS_GENERATION
            )
    return activate(corpus, previous)
