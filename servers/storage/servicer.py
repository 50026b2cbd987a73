"""StorageService: proto <-> StorageCore / ObjectStore."""

from __future__ import annotations

from datetime import datetime

import grpc
from google.api import httpbody_pb2
from google.protobuf import empty_pb2

from lakehouse.api.errors import InvalidArgument, invalid_field
from lakehouse.api.protoconv import timestamp
from lakehouse.servers.storage.model import BucketInfo, ObjectInfo
from lakehouse.v1 import storage_pb2, storage_pb2_grpc

_BACKENDS = {"local": storage_pb2.BUCKET_BACKEND_LOCAL, "s3": storage_pb2.BUCKET_BACKEND_S3}


def bucket_to_pb(b: BucketInfo) -> storage_pb2.Bucket:
    return storage_pb2.Bucket(name=b.name, backend=_BACKENDS.get(b.backend, 0), location=b.location)


def object_to_pb(bucket: str, o: ObjectInfo) -> storage_pb2.ObjectInfo:
    return storage_pb2.ObjectInfo(
        bucket=bucket,
        key=o.key,
        size=o.size,
        etag=o.etag,
        modify_time=timestamp(o.modified_at),
        content_type=o.content_type,
    )


def error_record_to_pb(r: dict) -> storage_pb2.ErrorRecord:
    return storage_pb2.ErrorRecord(
        id=r.get("id", ""),
        time=timestamp(datetime.fromisoformat(r["time"])) if r.get("time") else None,
        operation=r.get("operation", ""),
        code=r.get("code", ""),
        reason=r.get("reason", ""),
        message=r.get("message", ""),
        context={str(k): str(v) for k, v in (r.get("context") or {}).items()},
        rescued=bool(r.get("rescued")),
    )


class StorageServicer(storage_pb2_grpc.StorageServiceServicer):
    def __init__(self, runtime) -> None:
        self._rt = runtime

    @property
    def _core(self):
        return self._rt.storage

    def ListBuckets(self, request, context):
        return storage_pb2.ListBucketsResponse(buckets=[bucket_to_pb(b) for b in self._core.list_buckets()])

    def GetBucket(self, request, context):
        return bucket_to_pb(self._core.get_bucket(request.bucket))

    def CreateBucket(self, request, context):
        which = request.WhichOneof("location")
        if which == "local_path":
            info = self._core.register_bucket(request.bucket, "local", root=request.local_path)
        elif which == "s3":
            s3 = request.s3
            info = self._core.register_bucket(
                request.bucket,
                "s3",
                endpoint=s3.endpoint,
                bucket=s3.bucket,
                access_key=s3.access_key,
                secret_key=s3.secret_key,
                region=s3.region,
                secure=s3.secure,
            )
        else:
            raise invalid_field("location", "set local_path or s3")
        return bucket_to_pb(info)

    def DeleteBucket(self, request, context):
        self._core.delete_bucket(request.bucket)
        return empty_pb2.Empty()

    def PutObject(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None:
            raise InvalidArgument("the upload stream had no messages", reason="EMPTY_INPUT")

        def chunks():
            if first.body.data:
                yield first.body.data
            for message in request_iterator:
                if message.body.data:
                    yield message.body.data

        info = self._core.put_object(first.bucket, first.key, chunks(), content_type=first.body.content_type)
        return object_to_pb(first.bucket, info)

    def GetObject(self, request, context):
        store = self._core.store(request.bucket)
        info = store.stat(request.key)
        content_type = info.content_type or "application/octet-stream"
        sent = False
        for chunk in store.get(request.key):
            yield httpbody_pb2.HttpBody(content_type=content_type, data=chunk)
            sent = True
        if not sent:
            yield httpbody_pb2.HttpBody(content_type=content_type)

    def StatObject(self, request, context):
        return object_to_pb(request.bucket, self._core.store(request.bucket).stat(request.key))

    def ListObjects(self, request, context):
        objects, token = self._core.store(request.bucket).list(request.prefix, request.page_size, request.page_token)
        return storage_pb2.ListObjectsResponse(
            objects=[object_to_pb(request.bucket, o) for o in objects], next_page_token=token
        )

    def DeleteObject(self, request, context):
        self._core.delete_object(request.bucket, request.key)
        return empty_pb2.Empty()

    def ListErrors(self, request, context):
        records, token = self._core.journal.list(request.page_size, request.page_token)
        return storage_pb2.ListErrorsResponse(errors=[error_record_to_pb(r) for r in records], next_page_token=token)


def register(server: grpc.Server, runtime) -> None:
    storage_pb2_grpc.add_StorageServiceServicer_to_server(StorageServicer(runtime), server)
