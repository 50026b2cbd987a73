"""DistillationService: converts, calls DistillationCore, converts back."""

from __future__ import annotations

import grpc

from lakehouse.api.distillation import (
    batch_to_pb,
    drift_request_from_pb,
    drift_to_pb,
    evidence_from_pb,
    export_request_from_pb,
    export_to_pb,
    run_request_from_pb,
    run_to_pb,
)
from lakehouse.v1 import distillation_pb2_grpc


class DistillationServicer(distillation_pb2_grpc.DistillationServiceServicer):
    def __init__(self, runtime) -> None:
        self._runtime = runtime  # the core is built on first use, after the server binds

    def ScoreRecords(self, request, context):
        records = [evidence_from_pb(r) for r in request.records]
        return batch_to_pb(self._runtime.distillation.score(records, request.scorer_version))

    def RunDistillation(self, request, context):
        return run_to_pb(self._runtime.distillation.run(run_request_from_pb(request)))

    def ExportSft(self, request, context):
        return export_to_pb(self._runtime.distillation.export(export_request_from_pb(request)))

    def ScorerDrift(self, request, context):
        return drift_to_pb(self._runtime.distillation.drift(drift_request_from_pb(request)))


def register(server: grpc.Server, runtime) -> None:
    distillation_pb2_grpc.add_DistillationServiceServicer_to_server(DistillationServicer(runtime), server)
