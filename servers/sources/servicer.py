"""SourceService: requests -> SourcesCore -> replies (conversions in lakehouse.api.sources).

Hosted by the ingest component: a pull writes through the ingest core of this process."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from lakehouse.api.sources import create_from_pb, pull_from_pb, pull_result_to_pb, source_to_pb
from lakehouse.servers.memory import release_arrow_memory
from lakehouse.v1 import sources_pb2, sources_pb2_grpc


class SourceServicer(sources_pb2_grpc.SourceServiceServicer):
    def __init__(self, core) -> None:
        self._core = core

    def CreateSource(self, request, context):
        spec, replace, check = create_from_pb(request)
        return source_to_pb(self._core.create_source(spec, replace=replace, check_connection=check))

    def ListSources(self, request, context):
        sources, token = self._core.list_sources(request.page_size, request.page_token)
        return sources_pb2.ListSourcesResponse(sources=[source_to_pb(s) for s in sources], next_page_token=token)

    def GetSource(self, request, context):
        return source_to_pb(self._core.get_source(request.name))

    def DeleteSource(self, request, context):
        self._core.delete_source(request.name)
        return empty_pb2.Empty()

    def PullDataset(self, request, context):
        try:
            result = self._core.pull(pull_from_pb(request), cancelled=lambda: not context.is_active())
        finally:
            release_arrow_memory()  # the batches were built on this thread (see servers/memory.py)
        return pull_result_to_pb(result)


def register(server: grpc.Server, runtime) -> None:
    sources_pb2_grpc.add_SourceServiceServicer_to_server(SourceServicer(runtime.sources), server)
