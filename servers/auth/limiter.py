"""The brute-force guard: after ``max_failures`` failed key checks from one source within
``window_s``, that source is refused until its oldest counted failure leaves the window.

Per source, the times of its recent failures (a deque, at most ``max_failures`` long):
a check is a dict lookup. Sources are kept in insertion order and the oldest forgotten
past ``max_sources``, so a flood of addresses cannot grow memory without bound.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class FailureLimiter:
    def __init__(
        self, max_failures: int, window_s: float, max_sources: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._max_sources = max_sources
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, source: str) -> float:
        """0 when ``source`` may try; else the seconds until it may again."""
        times = self._failures.get(source)
        if times is None or len(times) < self.max_failures:
            return 0.0
        wait = times[0] + self.window_s - self._clock()
        return wait if wait > 0 else 0.0

    def failed(self, source: str) -> None:
        now = self._clock()
        with self._lock:
            times = self._failures.get(source)
            if times is None:
                times = self._failures[source] = deque(maxlen=self.max_failures)
                while len(self._failures) > self._max_sources:
                    self._failures.popitem(last=False)
            while times and times[0] + self.window_s <= now:
                times.popleft()
            times.append(now)
