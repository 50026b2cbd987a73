"""CatalogApi over gRPC, for engines whose process does not host the catalog."""

from __future__ import annotations

from lakehouse.api.channel import open_channel
from lakehouse.api.config import ChannelSettings
from lakehouse.servers.catalog import convert
from lakehouse.servers.catalog.model import Dataset, DatasetVersion, NewVersion
from lakehouse.v1 import catalog_pb2, catalog_pb2_grpc


class RemoteCatalog:
    def __init__(self, address: str, settings: ChannelSettings | None = None) -> None:
        self._channel = open_channel(address, settings, component="catalog")
        self._stub = catalog_pb2_grpc.CatalogServiceStub(self._channel.grpc)

    def _call(self, method, request):
        return self._channel.call(method, request)

    def get_dataset(self, name: str) -> Dataset:
        return convert.dataset_from_pb(self._call(self._stub.GetDataset, catalog_pb2.GetDatasetRequest(dataset=name)))

    def list_datasets(self, page_size: int = 0, page_token: str = "") -> tuple[list[Dataset], str]:
        resp = self._call(
            self._stub.ListDatasets,
            catalog_pb2.ListDatasetsRequest(page_size=page_size, page_token=page_token),
        )
        return [convert.dataset_from_pb(d) for d in resp.datasets], resp.next_page_token

    def get_version(self, name: str, version: int) -> DatasetVersion:
        return convert.version_from_pb(
            self._call(self._stub.GetVersion, catalog_pb2.GetVersionRequest(dataset=name, version=version))
        )

    def find_by_source_hash(self, name: str, source_hash: str) -> DatasetVersion | None:
        resp = self._call(
            self._stub.FindVersionBySource,
            catalog_pb2.FindVersionBySourceRequest(dataset=name, source_hash=source_hash),
        )
        return convert.version_from_pb(resp.version) if resp.HasField("version") else None

    def commit_version(self, new: NewVersion) -> DatasetVersion:
        return convert.version_from_pb(self._call(self._stub.CommitVersion, convert.new_version_to_pb(new)))

    def generation(self) -> int:
        return self._call(self._stub.GetGeneration, catalog_pb2.GetGenerationRequest()).generation

    def close(self) -> None:
        self._channel.close()
