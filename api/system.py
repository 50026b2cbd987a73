"""SystemService's API: the health domain types, the proto conversions, and the remote
over the generated stub (the local one is ``lakehouse.servers.health.HealthCore``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lakehouse.api.remote import Remote
from lakehouse.v1 import system_pb2, system_pb2_grpc

# The statuses GetHealth reports: gRPC health's names, plus one for an upstream that did
# not answer (a process that answers NOT_SERVING is stopping; one that does not is gone).
SERVING = "SERVING"
NOT_SERVING = "NOT_SERVING"
UNREACHABLE = "UNREACHABLE"


@dataclass(frozen=True)
class ServiceHealth:
    """One service, hosted by the answering process (``address`` "") or by an upstream."""

    service: str  # fully-qualified gRPC service name
    status: str  # SERVING, NOT_SERVING or UNREACHABLE
    component: str = ""  # as in `lakehouse serve --services`, e.g. "catalog"
    address: str = ""  # the upstream's host:port; "" for the answering process
    detail: str = ""  # why it is not serving


@dataclass(frozen=True)
class Health:
    """What GetHealth reports: SERVING only when every listed service is."""

    status: str
    services: tuple[ServiceHealth, ...]
    version: str


class SystemApi(Protocol):
    def health(self, local_only: bool = False) -> Health: ...


def overall(services: tuple[ServiceHealth, ...]) -> str:
    return SERVING if all(s.status == SERVING for s in services) else NOT_SERVING


def health_to_pb(health: Health) -> system_pb2.GetHealthResponse:
    return system_pb2.GetHealthResponse(
        status=health.status,
        services=[
            system_pb2.ServiceHealth(
                service=s.service, status=s.status, component=s.component, address=s.address, detail=s.detail
            )
            for s in health.services
        ],
        version=health.version,
    )


def health_from_pb(response: system_pb2.GetHealthResponse) -> Health:
    services = tuple(
        ServiceHealth(s.service, s.status, component=s.component, address=s.address, detail=s.detail)
        for s in response.services
    )
    return Health(response.status, services, response.version)


class RemoteSystem(Remote):
    """SystemApi over a channel from ``open_channel``; calls take the channel's default deadline."""

    stub_type = system_pb2_grpc.SystemServiceStub

    def health(self, local_only: bool = False) -> Health:
        request = system_pb2.GetHealthRequest(local_only=local_only)
        return health_from_pb(self._call("GetHealth", request))
