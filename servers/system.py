"""SystemService: what this process and its upstreams host, and whether each service is
serving (the aggregation is servers/health.py; this only converts)."""

from __future__ import annotations

from importlib import metadata

import grpc
from grpc_health.v1 import health

from lakehouse.api.channel import open_channel
from lakehouse.api.system import health_to_pb
from lakehouse.servers.health import HealthCore
from lakehouse.v1 import system_pb2_grpc

# The installed distribution's version (pyproject.toml), not a copy of it.
VERSION = metadata.version("lakehouse")


class SystemServicer(system_pb2_grpc.SystemServiceServicer):
    def __init__(self, core: HealthCore) -> None:
        self._core = core

    def GetHealth(self, request, context):
        return health_to_pb(self._core.health(local_only=request.local_only))


def register(server: grpc.Server, runtime, health_servicer: health.HealthServicer, hosted: list[str]) -> None:
    settings = runtime.settings
    core = HealthCore(
        health_servicer,
        hosted,
        settings.upstreams,
        lambda address: open_channel(
            address, settings.channel, default_timeout_s=settings.server.upstream_health_timeout_s
        ),
        VERSION,
    )
    system_pb2_grpc.add_SystemServiceServicer_to_server(SystemServicer(core), server)
