"""ValidationService: converts, calls ValidationCore, converts back."""

from __future__ import annotations

import grpc

from lakehouse.api.validation import report_to_pb, request_from_pb
from lakehouse.v1 import validation_pb2_grpc


class ValidationServicer(validation_pb2_grpc.ValidationServiceServicer):
    def __init__(self, runtime) -> None:
        self._runtime = runtime  # the core is built on first use, after the server binds

    def ValidateDataset(self, request, context):
        return report_to_pb(self._runtime.validation.validate(request_from_pb(request)))


def register(server: grpc.Server, runtime) -> None:
    validation_pb2_grpc.add_ValidationServiceServicer_to_server(ValidationServicer(runtime), server)
