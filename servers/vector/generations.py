"""Moving a corpus between generations: swaps and rollbacks (checkpoints are ``Corpus.checkpoint``).

A swap or rollback activates another generation: it is loaded if needed, the log
after its position is replayed onto it (first without blocking writers, then the
remainder with them blocked), ``corpus.json`` is rewritten, and only then is the
``active`` reference replaced. In-flight searches keep the generation they
started on, which stays whole and usable.
"""

from __future__ import annotations

from lakehouse.api import errors
from lakehouse.api.vector import NO_BUILT_GENERATION, NO_PREVIOUS_GENERATION
from lakehouse.servers.vector.corpus import Corpus
from lakehouse.servers.vector.loader import catch_up, load_generation


def activate(corpus: Corpus, gen: int) -> int:
    with corpus.swap_lock:
        source = corpus.activation_source(gen)
        if source is None:
            return gen
        manifest, live, seqs = source
        threads = corpus.tuning.build.threads
        if live is None:
            loaded = load_generation(corpus.store, manifest, corpus.tuning.build)
            live = loaded.live
            corpus.adopt_loaded(gen, loaded)
        catch_up(corpus.store, live, corpus.name, seqs, threads)
        with corpus.lock:
            corpus.check_open()
            catch_up(corpus.store, live, corpus.name, corpus.log_seqs(), threads)
            corpus.install_active(gen, live)
            return gen


def swap(corpus: Corpus, gen: int | None = None) -> int:
    """Activate ``gen``, or the newest built generation when None."""
    if gen is None:
        gen = corpus.newest_built()
        if gen is None:
            raise errors.FailedPrecondition(
                f"corpus {corpus.name!r} has no built generation to swap in", reason=NO_BUILT_GENERATION
            )
    return activate(corpus, gen)


def rollback(corpus: Corpus) -> int:
    """Activate the previous generation; the one it replaces becomes the new previous."""
    previous = corpus.previous_generation()
    if not previous:
        raise errors.FailedPrecondition(
            f"corpus {corpus.name!r} has no previous generation", reason=NO_PREVIOUS_GENERATION
        )
    return activate(corpus, previous)
