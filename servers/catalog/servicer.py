"""CatalogService: proto <-> CatalogCore."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from lakehouse.servers.catalog import convert, integrity
from lakehouse.servers.catalog.model import validate_dataset_name
from lakehouse.servers.storage.cleanup import delete_quietly
from lakehouse.v1 import catalog_pb2, catalog_pb2_grpc


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, runtime) -> None:
        self._rt = runtime

    @property
    def _core(self):
        return self._rt.catalog

    def ListDatasets(self, request, context):
        datasets, token = self._core.list_datasets(request.page_size, request.page_token)
        return catalog_pb2.ListDatasetsResponse(
            datasets=[convert.dataset_to_pb(d) for d in datasets], next_page_token=token
        )

    def GetDataset(self, request, context):
        return convert.dataset_to_pb(self._core.get_dataset(validate_dataset_name(request.dataset)))

    def DeleteDataset(self, request, context):
        name = validate_dataset_name(request.dataset)
        files = self._core.delete_dataset(name)
        storage = self._rt.storage
        delete_quietly(
            storage.lake(),
            storage.journal,
            "catalog.delete_dataset",
            [f.path for f in files],
            {"dataset": name},
        )
        return empty_pb2.Empty()

    def ListVersions(self, request, context):
        versions, token = self._core.list_versions(
            validate_dataset_name(request.dataset), request.page_size, request.page_token
        )
        return catalog_pb2.ListVersionsResponse(
            versions=[convert.version_to_pb(v) for v in versions], next_page_token=token
        )

    def GetVersion(self, request, context):
        return convert.version_to_pb(self._core.get_version(validate_dataset_name(request.dataset), request.version))

    def CommitVersion(self, request, context):
        return convert.version_to_pb(self._core.commit_version(convert.new_version_from_pb(request)))

    def FindVersionBySource(self, request, context):
        found = self._core.find_by_source_hash(validate_dataset_name(request.dataset), request.source_hash)
        if found is None:
            return catalog_pb2.FindVersionBySourceResponse()
        return catalog_pb2.FindVersionBySourceResponse(version=convert.version_to_pb(found))

    def GetGeneration(self, request, context):
        return catalog_pb2.GetGenerationResponse(generation=self._core.generation())

    def VerifyDatasets(self, request, context):
        name = validate_dataset_name(request.dataset) if request.dataset else ""
        report = integrity.verify_datasets(self._core, self._rt.storage.lake(), name, request.all_versions)
        return convert.verify_report_to_pb(report)

    def VacuumDatasets(self, request, context):
        duration = request.retain_duration
        results = self._rt.retention.vacuum(
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
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(CatalogServicer(runtime), server)
