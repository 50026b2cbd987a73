"""Pytest plugin with shared fixtures; enable with ``pytest_plugins = ["tests.support.fixtures"]``
or import the fixture into a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .seaweed import SeaweedS3


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedS3]:
    """One SeaweedFS S3 server (signed requests enforced) for the whole session."""
    server = SeaweedS3().start()
    try:
        yield server
    finally:
        server.stop()
