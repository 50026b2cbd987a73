"""PathwayService: converts, calls PathwayCore, converts back."""

from __future__ import annotations

import grpc

from lakehouse.api.pathway import (
    bucket_vector_to_pb,
    nearest_to_pb,
    pathway_to_pb,
    record_from_pb,
    replay_to_pb,
)
from lakehouse.api.workflows import dict_of
from lakehouse.v1 import pathway_pb2, pathway_pb2_grpc


class PathwayServicer(pathway_pb2_grpc.PathwayServiceServicer):
    def __init__(self, runtime) -> None:
        self._runtime = runtime  # the core is built on first use, after the server binds

    def RecordPathway(self, request, context):
        return pathway_to_pb(self._runtime.pathway.record(record_from_pb(request)))

    def NearestPathways(self, request, context):
        min_score = request.min_score if request.HasField("min_score") else None
        return nearest_to_pb(self._runtime.pathway.nearest(request.task, request.k, min_score))

    def ReplayPathway(self, request, context):
        return replay_to_pb(self._runtime.pathway.replay(request.id, dict_of(request.inputs)))

    def GetPathway(self, request, context):
        return pathway_to_pb(self._runtime.pathway.get(request.id))

    def ListPathways(self, request, context):
        pathways, token, total = self._runtime.pathway.list(request.page_size, request.page_token)
        return pathway_pb2.ListPathwaysResponse(
            pathways=[pathway_to_pb(p) for p in pathways], next_page_token=token, total=total
        )

    def BucketVector(self, request, context):
        return bucket_vector_to_pb(self._runtime.pathway.bucket_vector(request.text))


def register(server: grpc.Server, runtime) -> None:
    pathway_pb2_grpc.add_PathwayServiceServicer_to_server(PathwayServicer(runtime), server)
