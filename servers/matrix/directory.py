"""Where each corpus lives: the corpora of every vector upstream, listed concurrently.

A corpus is routed to the upstream that listed it. Each upstream's last good listing is
kept when a later one fails, so a corpus on a process that went down is still routed
there and its search fails on its own (a partial result), instead of the corpus
vanishing. A name listed by two upstreams goes to the first in ``matrix.vector_upstreams``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from lakehouse.api import errors
from lakehouse.api.matrix import CORPUS_HOST_UNREACHABLE, CorpusListing, HostedCorpus, UpstreamError
from lakehouse.api.vector import CORPUS_NOT_FOUND, CorpusInfo, VectorApi
from lakehouse.servers.auth.context import corpus_scope
from lakehouse.servers.matrix.playbooks import PLAYBOOK_TAG

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VectorHost:
    label: str  # host:port, or "local"
    api: VectorApi
    in_process: bool = False  # a core in this process (searched on the caller's thread)


@dataclass(frozen=True)
class Route:
    corpus: CorpusInfo
    host: VectorHost


@dataclass(frozen=True)
class Unrouted:
    """A chosen corpus no reachable upstream lists while some upstream is unreachable."""

    name: str
    error: errors.LakehouseError


class CorpusDirectory:
    def __init__(
        self,
        hosts: Sequence[VectorHost],
        ttl_s: float,
        pool: Executor,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hosts = list(hosts)
        self._ttl_s = ttl_s
        self._pool = pool
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[str, list[CorpusInfo]] = {h.label: [] for h in self._hosts}
        self._routes: dict[str, Route] = {}  # derived from _known at each refresh, replaced whole
        self._failed: dict[str, UpstreamError] = {}
        self._listed_at: float | None = None

    def listing(self, *, fresh: bool = True) -> CorpusListing:
        """Every corpus by name, with where it lives; ``fresh`` asks every upstream now."""
        if fresh or self._stale():
            self._refresh()
        with self._lock:
            routes, failed = self._routes, list(self._failed.values())
        routes = _scoped(routes)
        corpora = [HostedCorpus(r.corpus, r.host.label) for _, r in sorted(routes.items())]
        return CorpusListing(corpora, failed)

    def resolve(self, names: Sequence[str]) -> tuple[dict[str, Route], list[Unrouted]]:
        """Routes for ``names`` (all corpora when empty). An unknown name is NotFound unless
        an upstream is unreachable (then it may live there: Unrouted, UNAVAILABLE)."""
        refreshed = self._stale()
        if refreshed:
            self._refresh()
        if any(n not in self._routes for n in names) and not refreshed:
            self._refresh()  # created since the last listing, perhaps
        with self._lock:
            routes, failed = self._routes, list(self._failed.values())
        routes = _scoped(routes)  # another profile's corpus does not exist for this caller
        if not names:
            return routes, []
        found, unrouted = {}, []
        for name in names:
            if name in routes:
                found[name] = routes[name]
            elif failed:
                down = ", ".join(f.upstream for f in failed)
                message = f"corpus {name!r} is on no reachable vector upstream ({down} unreachable)"
                unrouted.append(
                    Unrouted(
                        name, errors.Unavailable(message, reason=CORPUS_HOST_UNREACHABLE, metadata={"corpus": name})
                    )
                )
            else:
                raise errors.NotFound(
                    f"corpus {name!r} not found on any vector upstream",
                    reason=CORPUS_NOT_FOUND,
                    metadata={"corpus": name},
                )
        return found, unrouted

    def _stale(self) -> bool:
        listed = self._listed_at
        return listed is None or self._clock() - listed > self._ttl_s

    def _refresh(self) -> None:
        listed = {host.label: self._pool.submit(host.api.list_corpora) for host in self._hosts}
        known, failed = {}, {}
        for host in self._hosts:
            try:
                known[host.label] = listed[host.label].result()
            except errors.LakehouseError as exc:
                failed[host.label] = UpstreamError(host.label, exc.code, exc.reason, exc.message)
        with self._lock:
            self._known.update(known)
            self._routes = self._route_table()
            self._failed = failed
            self._listed_at = self._clock()

    def _route_table(self) -> dict[str, Route]:
        routes: dict[str, Route] = {}
        for host in self._hosts:
            for info in self._known[host.label]:
                if info.name in routes:
                    first = routes[info.name].host.label
                    log.warning("corpus %s is on %s and %s; using the first", info.name, first, host.label)
                    continue
                routes[info.name] = Route(info, host)
        return routes


def _scoped(routes: dict[str, Route]) -> dict[str, Route]:
    """The routes the caller's profiles cover (all without auth). Playbook corpora stay:
    the matrix core reads them for every caller's playbook boost."""
    scope = corpus_scope()
    if scope is None:
        return routes
    return {n: r for n, r in routes.items() if n in scope or PLAYBOOK_TAG in r.corpus.tags}
