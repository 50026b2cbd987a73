"""StorageService: converts, calls StorageCore, converts back."""

from __future__ import annotations

import grpc
from google.api import httpbody_pb2
from google.protobuf import empty_pb2

from lakehouse.api.storage import (
    bucket_to_pb,
    create_bucket_from_pb,
    error_record_to_pb,
    object_to_pb,
    put_from_pb,
)
from lakehouse.servers.auth.context import dataset_scope
from lakehouse.v1 import storage_pb2, storage_pb2_grpc


class StorageServicer(storage_pb2_grpc.StorageServiceServicer):
    def __init__(self, core) -> None:
        self._core = core

    def ListBuckets(self, request, context):
        return storage_pb2.ListBucketsResponse(buckets=[bucket_to_pb(b) for b in self._core.list_buckets()])

    def GetBucket(self, request, context):
        return bucket_to_pb(self._core.get_bucket(request.bucket))

    def CreateBucket(self, request, context):
        return bucket_to_pb(self._core.create_bucket(*create_bucket_from_pb(request)))

    def DeleteBucket(self, request, context):
        self._core.delete_bucket(request.bucket)
        return empty_pb2.Empty()

    def PutObject(self, request_iterator, context):
        bucket, key, content_type, chunks = put_from_pb(request_iterator)
        return object_to_pb(bucket, self._core.put_object(bucket, key, chunks, content_type=content_type))

    def GetObject(self, request, context):
        body = self._core.get_object(request.bucket, request.key)
        sent = False
        for chunk in body.chunks:
            yield httpbody_pb2.HttpBody(content_type=body.content_type, data=chunk)
            sent = True
        if not sent:
            yield httpbody_pb2.HttpBody(content_type=body.content_type)

    def StatObject(self, request, context):
        return object_to_pb(request.bucket, self._core.stat_object(request.bucket, request.key))

    def ListObjects(self, request, context):
        objects, token = self._core.list_objects(request.bucket, request.prefix, request.page_size, request.page_token)
        return storage_pb2.ListObjectsResponse(
            objects=[object_to_pb(request.bucket, o) for o in objects], next_page_token=token
        )

    def DeleteObject(self, request, context):
        self._core.delete_object(request.bucket, request.key)
        return empty_pb2.Empty()

    def ListErrors(self, request, context):
        # A caller bound to some datasets sees only their records.
        records, token = self._core.list_errors(request.page_size, request.page_token, dataset_scope())
        return storage_pb2.ListErrorsResponse(errors=[error_record_to_pb(r) for r in records], next_page_token=token)


def register(server: grpc.Server, runtime) -> None:
    storage_pb2_grpc.add_StorageServiceServicer_to_server(StorageServicer(runtime.storage), server)
