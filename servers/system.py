"""SystemService: what this process hosts and whether each service is serving."""

from __future__ import annotations

from importlib import metadata

import grpc
from grpc_health.v1 import health, health_pb2

from lakehouse.v1 import system_pb2, system_pb2_grpc

# The installed distribution's version (pyproject.toml), not a copy of it.
VERSION = metadata.version("lakehouse")


class SystemServicer(system_pb2_grpc.SystemServiceServicer):
    def __init__(self, health_servicer: health.HealthServicer, hosted: list[str]) -> None:
        self._health = health_servicer
        self._hosted = hosted

    def GetHealth(self, request, context):
        services = []
        for name in self._hosted:
            status = self._health.Check(health_pb2.HealthCheckRequest(service=name), context).status
            services.append(
                system_pb2.ServiceHealth(service=name, status=health_pb2.HealthCheckResponse.ServingStatus.Name(status))
            )
        overall = "SERVING" if all(s.status == "SERVING" for s in services) else "NOT_SERVING"
        return system_pb2.GetHealthResponse(status=overall, services=services, version=VERSION)


def register(server: grpc.Server, runtime, health_servicer: health.HealthServicer, hosted: list[str]) -> None:
    system_pb2_grpc.add_SystemServiceServicer_to_server(SystemServicer(health_servicer, hosted), server)
