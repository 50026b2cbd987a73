"""TruthService: converts, calls TruthCore, converts back."""

from __future__ import annotations

import grpc

from lakehouse.api.truth import listing_to_pb, request_from_pb, result_to_pb
from lakehouse.v1 import truth_pb2_grpc


class TruthServicer(truth_pb2_grpc.TruthServiceServicer):
    def __init__(self, runtime) -> None:
        self._runtime = runtime  # the core is built on first use, after the server binds

    def Check(self, request, context):
        return result_to_pb(self._runtime.truth.check(request_from_pb(request)))

    def ListRuleSets(self, request, context):
        return listing_to_pb(self._runtime.truth.list_rule_sets())


def register(server: grpc.Server, runtime) -> None:
    truth_pb2_grpc.add_TruthServiceServicer_to_server(TruthServicer(runtime), server)
