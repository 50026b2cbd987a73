"""AskService: converts, calls AskCore, converts back."""

from __future__ import annotations

import grpc

from lakehouse.api.ask import answer_to_pb, event_to_pb, query_from_pb
from lakehouse.v1 import ask_pb2_grpc


class AskServicer(ask_pb2_grpc.AskServiceServicer):
    def __init__(self, runtime) -> None:
        self._runtime = runtime  # the core is built on first use, after the server binds

    def Ask(self, request, context):
        return answer_to_pb(self._runtime.ask.ask(query_from_pb(request)))

    def AskStream(self, request, context):
        for event in self._runtime.ask.stream(query_from_pb(request)):
            if not context.is_active():
                return
            yield event_to_pb(event)


def register(server: grpc.Server, runtime) -> None:
    ask_pb2_grpc.add_AskServiceServicer_to_server(AskServicer(runtime), server)
