"""ObserverService's workflow RPCs, as a mixin of ObserverServicer (servers/observer/servicer.py):
converts, calls the workflows core (``runtime.workflows``), converts back."""

from __future__ import annotations

from lakehouse.api.workflows import event_to_pb, listing_to_pb, request_from_pb, run_to_pb


class WorkflowMethods:
    """Needs ``self._runtime`` (set by the servicer it is mixed into)."""

    _runtime: object

    def RunWorkflow(self, request, context):
        return run_to_pb(self._runtime.workflows.run(request_from_pb(request)))

    def RunWorkflowStream(self, request, context):
        events = self._runtime.workflows.stream(request_from_pb(request))
        try:
            for event in events:
                if not context.is_active():
                    return  # closing the events (below) cancels the run
                yield event_to_pb(event)
        finally:
            events.close()

    def ListWorkflows(self, request, context):
        return listing_to_pb(self._runtime.workflows.list())

    def GetWorkflowRun(self, request, context):
        return run_to_pb(self._runtime.workflows.get_run(request.run_id))

    def CancelWorkflowRun(self, request, context):
        return run_to_pb(self._runtime.workflows.cancel(request.run_id))
