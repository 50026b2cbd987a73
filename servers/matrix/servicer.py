"""MatrixService: converts, calls MatrixCore, converts back."""

from __future__ import annotations

import grpc

from lakehouse.api.matrix import (
    bulk_to_pb,
    candidate_from_pb,
    entry_filter_from_pb,
    entry_from_pb,
    entry_to_pb,
    listing_to_pb,
    mapping_from_pb,
    request_from_pb,
    result_to_pb,
    results_to_pb,
    stats_to_pb,
    verdicts_to_pb,
)
from lakehouse.api.vector import query_from_pb
from lakehouse.servers.auth.context import corpus_scope
from lakehouse.v1 import matrix_pb2, matrix_pb2_grpc


class MatrixServicer(matrix_pb2_grpc.MatrixServiceServicer):
    def __init__(self, runtime) -> None:
        self._runtime = runtime  # the core is built on first use, after the server binds

    def ListCorpora(self, request, context):
        return listing_to_pb(self._runtime.matrix.list_corpora())

    def Search(self, request, context):
        return result_to_pb(self._runtime.matrix.search(request_from_pb(request)), self._runtime.hit_stems)

    def SearchBatch(self, request, context):
        queries = [query_from_pb(q) for q in request.queries]
        results = self._runtime.matrix.search_batch(request_from_pb(request.options), queries)
        return results_to_pb(results, self._runtime.hit_stems)

    def FilterRelevance(self, request, context):
        verdicts = self._runtime.matrix.filter_relevance(
            request.text,
            [candidate_from_pb(c) for c in request.candidates],
            threshold=request.threshold if request.HasField("threshold") else None,
            margin=request.margin if request.HasField("margin") else None,
            embedding_model=request.embedding_model,
        )
        return verdicts_to_pb(verdicts)

    def RecordPlaybookEntry(self, request, context):
        return entry_to_pb(self._runtime.matrix.record_entry(entry_from_pb(request.entry), visible=corpus_scope()))

    def RecordPlaybookEntries(self, request, context):
        entries = [entry_from_pb(e) for e in request.entries]
        return bulk_to_pb(self._runtime.matrix.record_entries(entries, visible=corpus_scope()))

    def ImportPlaybook(self, request, context):
        return bulk_to_pb(self._runtime.matrix.import_entries(mapping_from_pb(request), visible=corpus_scope()))

    def ListPlaybookEntries(self, request, context):
        entries, token = self._runtime.matrix.list_entries(
            entry_filter_from_pb(request),
            page_size=request.page_size,
            page_token=request.page_token,
            visible=corpus_scope(),
        )
        return matrix_pb2.ListPlaybookEntriesResponse(entries=[entry_to_pb(e) for e in entries], next_page_token=token)

    def GetPlaybookEntry(self, request, context):
        return entry_to_pb(self._runtime.matrix.get_entry(request.id, visible=corpus_scope()))

    def DeletePlaybookEntries(self, request, context):
        deleted = self._runtime.matrix.delete_entries(
            request.id, corpus=request.corpus, item_id=request.item_id, visible=corpus_scope()
        )
        return matrix_pb2.DeletePlaybookEntriesResponse(deleted=deleted)

    def GetPlaybookStats(self, request, context):
        return stats_to_pb(self._runtime.matrix.playbook_stats(visible=corpus_scope()))


def register(server: grpc.Server, runtime) -> None:
    matrix_pb2_grpc.add_MatrixServiceServicer_to_server(MatrixServicer(runtime), server)
