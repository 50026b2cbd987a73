"""DriftService: converts, calls DriftCore, converts back."""

from __future__ import annotations

import grpc

from lakehouse.api.drift import (
    audit_query_from_pb,
    audit_report_to_pb,
    embedding_query_from_pb,
    embedding_report_to_pb,
    playbook_event_to_pb,
    playbook_query_from_pb,
    playbook_report_to_pb,
    snapshot_to_pb,
)
from lakehouse.v1 import drift_pb2, drift_pb2_grpc


class DriftServicer(drift_pb2_grpc.DriftServiceServicer):
    def __init__(self, runtime) -> None:
        self._runtime = runtime  # the core is built on first use, after the server binds

    def PlaybookDrift(self, request, context):
        return playbook_report_to_pb(self._runtime.drift.playbook_drift(playbook_query_from_pb(request)))

    def PlaybookDriftStream(self, request, context):
        for event in self._runtime.drift.playbook_drift_stream(playbook_query_from_pb(request)):
            if not context.is_active():
                return
            yield playbook_event_to_pb(event)

    def EmbeddingDrift(self, request, context):
        return embedding_report_to_pb(self._runtime.drift.embedding_drift(embedding_query_from_pb(request)))

    def AuditDrift(self, request, context):
        return audit_report_to_pb(self._runtime.drift.audit_drift(audit_query_from_pb(request)))

    def ListAuditSnapshots(self, request, context):
        snapshots = self._runtime.drift.list_audit_snapshots(request.subject, request.limit)
        return drift_pb2.ListAuditSnapshotsResponse(snapshots=[snapshot_to_pb(s) for s in snapshots])


def register(server: grpc.Server, runtime) -> None:
    drift_pb2_grpc.add_DriftServiceServicer_to_server(DriftServicer(runtime), server)
