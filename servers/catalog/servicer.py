"""CatalogService: proto <-> CatalogCore."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from lakehouse.api import catalog as api
from lakehouse.servers.auth.context import dataset_scope
from lakehouse.v1 import catalog_pb2, catalog_pb2_grpc


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    """``core``: the catalog core; ``retention``: what touches the lake's objects (delete,
    vacuum, verify). Both validate; this only converts."""

    def __init__(self, core, retention) -> None:
        self._core = core
        self._retention = retention

    def ListDatasets(self, request, context):
        datasets, token = self._core.list_datasets(request.page_size, request.page_token)
        scope = dataset_scope()  # a caller bound to some datasets lists only those
        if scope is not None:
            datasets = [d for d in datasets if d.name in scope]
        return catalog_pb2.ListDatasetsResponse(
            datasets=[api.dataset_to_pb(d) for d in datasets], next_page_token=token
        )

    def GetDataset(self, request, context):
        return api.dataset_to_pb(self._core.get_dataset(request.dataset))

    def DeleteDataset(self, request, context):
        self._retention.delete_dataset(request.dataset)
        return empty_pb2.Empty()

    def ListVersions(self, request, context):
        versions, token = self._core.list_versions(request.dataset, request.page_size, request.page_token)
        return catalog_pb2.ListVersionsResponse(
            versions=[api.version_to_pb(v) for v in versions], next_page_token=token
        )

    def GetVersion(self, request, context):
        return api.version_to_pb(self._core.get_version(request.dataset, request.version))

    def CommitVersion(self, request, context):
        return api.version_to_pb(self._core.commit_version(api.new_version_from_pb(request)))

    def FindVersionBySource(self, request, context):
        found = self._core.find_by_source_hash(request.dataset, request.source_hash)
        if found is None:
            return catalog_pb2.FindVersionBySourceResponse()
        return catalog_pb2.FindVersionBySourceResponse(version=api.version_to_pb(found))

    def GetGeneration(self, request, context):
        return catalog_pb2.GetGenerationResponse(generation=self._core.generation())

    def VerifyDatasets(self, request, context):
        return api.verify_report_to_pb(self._retention.verify(request.dataset, request.all_versions))

    def VacuumDatasets(self, request, context):
        duration = request.retain_duration
        results = self._retention.vacuum(
            request.dataset,
            retain_versions=request.retain_versions if request.HasField("retain_versions") else None,
            retain_duration_s=duration.seconds + duration.nanos / 1e9 if request.HasField("retain_duration") else None,
            dry_run=request.dry_run,
        )
        return catalog_pb2.VacuumDatasetsResponse(
            datasets=[
                catalog_pb2.VacuumedDataset(
                    dataset=r.dataset,
                    expired_versions=r.expired_versions,
                    files_deleted=r.files_deleted,
                    bytes_deleted=r.bytes_deleted,
                )
                for r in results
            ],
            dry_run=request.dry_run,
        )


def register(server: grpc.Server, runtime) -> None:
    servicer = CatalogServicer(runtime.catalog, runtime.retention)
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, server)
