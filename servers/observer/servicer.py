"""ObserverService: converts only. The reads go to the observer core (servers/observer/core.py);
the workflow RPCs come from WorkflowMethods (servers/workflows/servicer.py)."""

from __future__ import annotations

import grpc

from lakehouse.api.observer import filter_from_pb, op_to_pb, page_to_pb, stats_to_pb
from lakehouse.servers.workflows.servicer import WorkflowMethods
from lakehouse.v1 import observer_pb2_grpc


class ObserverServicer(WorkflowMethods, observer_pb2_grpc.ObserverServiceServicer):
    def __init__(self, runtime) -> None:
        self._runtime = runtime

    def ListOps(self, request, context):
        where, limit = filter_from_pb(request)
        return page_to_pb(self._runtime.observer.list_ops(where, limit))

    def TailOps(self, request, context):
        where, _limit = filter_from_pb(request.filter)
        # The tail ends when the caller goes away: its wake-up runs on the call's termination.
        for op in self._runtime.observer.tail_ops(where, context.is_active, context.add_callback):
            yield op_to_pb(op)

    def GetStats(self, request, context):
        return stats_to_pb(self._runtime.observer.stats(request.window_s, request.service, request.source))


def register(server: grpc.Server, runtime) -> None:
    observer_pb2_grpc.add_ObserverServiceServicer_to_server(ObserverServicer(runtime), server)
