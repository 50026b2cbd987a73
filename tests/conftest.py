"""Shared fixtures. Integration fixtures start real processes on free loopback ports."""

from __future__ import annotations

import pytest

from tests.support.system import System

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory):
    """The embedded default: one server process hosting every service, Envoy in front,
    storage in a local directory."""
    sys_ = System.start(tmp_path_factory.mktemp("lakehouse-home"))
    yield sys_
    sys_.stop()


@pytest.fixture(scope="session")
def client(system: System):
    with system.client() as c:
        yield c
