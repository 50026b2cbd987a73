"""32 concurrent writers into one dataset: no row lost, none duplicated, under admission control.

Past the upload cap a writer is told RESOURCE_EXHAUSTED at once (nothing was written)
and retries; every acknowledged ingest is in the dataset exactly once.
"""

from __future__ import annotations

import threading
import time

import pytest

from lakehouse.api import errors

pytestmark = pytest.mark.integration

WRITERS = 32
ROWS_EACH = 200
# A writer refused past the cap waits this long before trying again, at most this many times.
RETRY_PAUSE_S = 0.2
MAX_ATTEMPTS = 300


def _csv(writer: int) -> bytes:
    base = writer * ROWS_EACH
    return ("id,writer\n" + "".join(f"{base + i},{writer}\n" for i in range(ROWS_EACH))).encode()


def test_concurrent_writers_lose_and_duplicate_nothing(system):
    dataset = "concurrent_writers"
    refused = [0] * WRITERS
    failures: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def write(writer: int) -> None:
        with system.client() as lh:
            start.wait()
            for _ in range(MAX_ATTEMPTS):
                try:
                    lh.ingest(dataset, _csv(writer), format="csv", mode="append")
                    return
                except errors.LakehouseError as exc:
                    if exc.code != "RESOURCE_EXHAUSTED":
                        failures.append(exc)
                        return
                    refused[writer] += 1
                    time.sleep(RETRY_PAUSE_S)
            failures.append(AssertionError(f"writer {writer} was never admitted"))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    # The cap (8 by default) was reached, so the refusals path was exercised.
    assert sum(refused) > 0
    with system.client() as lh:
        rows = lh.sql(f"SELECT count(*), count(DISTINCT id), count(DISTINCT writer), min(id), max(id) FROM {dataset}")
        assert rows.rows == [[WRITERS * ROWS_EACH, WRITERS * ROWS_EACH, WRITERS, 0, WRITERS * ROWS_EACH - 1]]
        assert lh.get_dataset(dataset).current.version == WRITERS
