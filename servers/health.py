"""GetHealth across processes: this process's services, then those of its upstreams.

Through the gateway, GetHealth reaches whichever process serves SystemService; that
process asks each of its ``host:port`` upstreams (one call per distinct address, all in
parallel, ``local_only`` so no upstream asks further) and lists the services of the
components it uses there, so one answer covers the whole deployment it depends on.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from grpc_health.v1 import health, health_pb2

from lakehouse.api.channel import Channel
from lakehouse.api.errors import LakehouseError
from lakehouse.api.system import (
    NOT_SERVING,
    SERVING,
    UNREACHABLE,
    Health,
    RemoteSystem,
    ServiceHealth,
    overall,
)
from lakehouse.servers.services import SERVICES, ServiceSpec
from lakehouse.servers.settings import LOCAL_UPSTREAM

_COMPONENT_OF = {s.full_name: s.component for s in SERVICES}


class _NoCallContext:
    """What HealthServicer.Check needs of a call context when asked in-process: a service
    it does not know then reads UNKNOWN (not SERVING) instead of failing the caller's call."""

    def set_code(self, code) -> None:
        return None


class HealthCore:
    """The SystemApi of one process. ``upstreams`` is the settings' component -> address
    map: components hosted here or reached ``local`` (an in-process core, no service) are
    skipped; every other one is asked over a channel from ``opener`` (whose default deadline
    bounds the wait) and listed UNREACHABLE when it does not answer."""

    def __init__(
        self,
        health_servicer: health.HealthServicer,
        hosted: list[str],
        upstreams: Mapping[str, str],
        opener: Callable[[str], Channel],
        version: str,
    ) -> None:
        self._health = health_servicer
        self._hosted = hosted
        hosted_components = {_COMPONENT_OF.get(name) for name in hosted}
        # Address -> the services of the components used there, in SERVICES order (a stable
        # listing; a component may have several services, e.g. ingest's SourceService).
        self._remote: dict[str, list[ServiceSpec]] = {}
        for spec in SERVICES:
            address = upstreams.get(spec.component, LOCAL_UPSTREAM)
            if spec.component not in hosted_components and address != LOCAL_UPSTREAM:
                self._remote.setdefault(address, []).append(spec)
        self._open = opener
        self._version = version

    def health(self, local_only: bool = False) -> Health:
        services = self._local()
        if not local_only and self._remote:
            with ThreadPoolExecutor(max_workers=len(self._remote), thread_name_prefix="lakehouse-health") as pool:
                # A context copy per call, so each upstream call continues the caller's trace.
                asked = [pool.submit(contextvars.copy_context().run, self._upstream, a) for a in self._remote]
                for future in asked:
                    services.extend(future.result())
        listed = tuple(services)
        return Health(overall(listed), listed, self._version)

    def _local(self) -> list[ServiceHealth]:
        services = []
        for name in self._hosted:
            status = self._health.Check(health_pb2.HealthCheckRequest(service=name), _NoCallContext()).status
            services.append(
                ServiceHealth(
                    name, health_pb2.HealthCheckResponse.ServingStatus.Name(status), component=_COMPONENT_OF[name]
                )
            )
        return services

    def _upstream(self, address: str) -> list[ServiceHealth]:
        """The services of the components used at ``address``, as that process reports them."""
        specs = self._remote[address]
        channel = self._open(address)  # a fresh channel: no reconnect backoff left from an earlier outage
        try:
            reported = {s.service: s for s in RemoteSystem(channel).health(local_only=True).services}
        except LakehouseError as exc:
            detail = f"unreachable: {exc.code}: {exc}"
            return [ServiceHealth(s.full_name, UNREACHABLE, s.component, address, detail) for s in specs]
        finally:
            channel.close()
        out = []
        for spec in specs:
            name, component = spec.full_name, spec.component
            found = reported.get(name)
            if found is None:
                out.append(ServiceHealth(name, NOT_SERVING, component, address, f"{address} does not host {component}"))
                continue
            detail = found.detail or ("" if found.status == SERVING else f"{address} reports {found.status}")
            out.append(ServiceHealth(name, found.status, component, address, detail))
        return out
