"""StorageService's API: its domain types, the interface (``StorageApi``), the proto
conversions and the remote implementation (the local one is ``servers/storage/core.py``).

Buckets are named stores (a local directory or an S3 bucket). Engines read and write
Parquet through an ``ObjectStore`` directly (``servers/storage/model.py``); this API is
the control plane and the object API that clients and other services call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from lakehouse.api.errors import invalid_field
from lakehouse.api.protoconv import opened_upload, timestamp
from lakehouse.api.remote import Remote
from lakehouse.v1 import storage_pb2, storage_pb2_grpc

BACKEND_LOCAL = "local"
BACKEND_S3 = "s3"
DEFAULT_CONTENT_TYPE = "application/octet-stream"

# Stable error reasons (ErrorInfo.reason) of StorageService. The other services return
# STORAGE_UNAVAILABLE too, when the object store fails under them.
STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
OBJECT_NOT_FOUND = "OBJECT_NOT_FOUND"
KEY_CONFLICT = "KEY_CONFLICT"  # a key collides with an existing object or prefix (local buckets)
UNSAFE_PATH = "UNSAFE_PATH"  # a key resolves through a symlink (local buckets)
STORAGE_FULL = "STORAGE_FULL"
BUCKET_NOT_FOUND = "BUCKET_NOT_FOUND"
BUCKET_EXISTS = "BUCKET_EXISTS"
BUCKET_PROTECTED = "BUCKET_PROTECTED"
INVALID_BUCKET = "INVALID_BUCKET"
BUCKET_REGISTRY_CORRUPT = "BUCKET_REGISTRY_CORRUPT"
BUCKET_REGISTRY_UNWRITABLE = "BUCKET_REGISTRY_UNWRITABLE"
# Refusals of the bucket policy (PERMISSION_DENIED).
BUCKET_LOCATION_NOT_ALLOWED = "BUCKET_LOCATION_NOT_ALLOWED"
S3_ENDPOINT_NOT_ALLOWED = "S3_ENDPOINT_NOT_ALLOWED"
BUCKET_REGISTRATION_DISABLED = "BUCKET_REGISTRATION_DISABLED"
MANAGED_PREFIX_READ_ONLY = "MANAGED_PREFIX_READ_ONLY"
# S3 buckets.
INVALID_S3_CONFIG = "INVALID_S3_CONFIG"
S3_AUTH_FAILED = "S3_AUTH_FAILED"
S3_ACCESS_DENIED = "S3_ACCESS_DENIED"
S3_ERROR = "S3_ERROR"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    modified_at: datetime
    content_type: str = ""


@dataclass(frozen=True)
class BucketInfo:
    name: str
    backend: str  # BACKEND_LOCAL | BACKEND_S3
    location: str  # "local:<dir under LAKEHOUSE_HOME>", or "s3://<endpoint>/<bucket>"


@dataclass(frozen=True)
class S3Location:
    """Where an S3 bucket is and how to sign in (the secret is never returned)."""

    endpoint: str
    bucket: str
    access_key: str = ""
    secret_key: str = ""
    region: str = ""
    secure: bool = False


@dataclass(frozen=True)
class ObjectBody:
    """An object being read: its content type, then its bytes as they arrive."""

    content_type: str
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class ErrorRecord:
    """One entry of the error journal (``_errors/`` on the lake, or the rescue bucket)."""

    id: str
    time: datetime | None
    operation: str
    code: str
    reason: str
    message: str
    context: dict[str, str] = field(default_factory=dict)
    rescued: bool = False


class StorageApi(Protocol):
    def list_buckets(self) -> list[BucketInfo]: ...

    def get_bucket(self, name: str) -> BucketInfo: ...

    def create_bucket(self, name: str, location: str | S3Location) -> BucketInfo:
        """``location`` is a local directory path, or an S3 bucket."""
        ...

    def delete_bucket(self, name: str) -> None: ...

    def put_object(self, bucket: str, key: str, chunks: Iterable[bytes], content_type: str = "") -> ObjectInfo: ...

    def get_object(self, bucket: str, key: str) -> ObjectBody: ...

    def stat_object(self, bucket: str, key: str) -> ObjectInfo: ...

    def list_objects(
        self, bucket: str, prefix: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[ObjectInfo], str]: ...

    def delete_object(self, bucket: str, key: str) -> None: ...

    def list_errors(self, page_size: int = 0, page_token: str = "") -> tuple[list[ErrorRecord], str]: ...


# Conversions -----------------------------------------------------------------

_BACKEND_TO_PB = {BACKEND_LOCAL: storage_pb2.BUCKET_BACKEND_LOCAL, BACKEND_S3: storage_pb2.BUCKET_BACKEND_S3}
_BACKEND_FROM_PB = {v: k for k, v in _BACKEND_TO_PB.items()}


def bucket_to_pb(b: BucketInfo) -> storage_pb2.Bucket:
    return storage_pb2.Bucket(name=b.name, backend=_BACKEND_TO_PB.get(b.backend, 0), location=b.location)


def bucket_from_pb(m: storage_pb2.Bucket) -> BucketInfo:
    return BucketInfo(name=m.name, backend=_BACKEND_FROM_PB.get(m.backend, ""), location=m.location)


def object_to_pb(bucket: str, o: ObjectInfo) -> storage_pb2.ObjectInfo:
    return storage_pb2.ObjectInfo(
        bucket=bucket,
        key=o.key,
        size=o.size,
        etag=o.etag,
        modify_time=timestamp(o.modified_at),
        content_type=o.content_type,
    )


def object_from_pb(m: storage_pb2.ObjectInfo) -> ObjectInfo:
    return ObjectInfo(
        key=m.key,
        size=m.size,
        etag=m.etag,
        modified_at=m.modify_time.ToDatetime(tzinfo=UTC),
        content_type=m.content_type,
    )


def create_bucket_to_pb(name: str, location: str | S3Location) -> storage_pb2.CreateBucketRequest:
    if isinstance(location, S3Location):
        return storage_pb2.CreateBucketRequest(
            bucket=name,
            s3=storage_pb2.S3Location(
                endpoint=location.endpoint,
                bucket=location.bucket,
                access_key=location.access_key,
                secret_key=location.secret_key,
                region=location.region,
                secure=location.secure,
            ),
        )
    return storage_pb2.CreateBucketRequest(bucket=name, local_path=location)


def create_bucket_from_pb(m: storage_pb2.CreateBucketRequest) -> tuple[str, str | S3Location]:
    which = m.WhichOneof("location")
    if which == "local_path":
        return m.bucket, m.local_path
    if which == "s3":
        s3 = m.s3
        return m.bucket, S3Location(s3.endpoint, s3.bucket, s3.access_key, s3.secret_key, s3.region, s3.secure)
    raise invalid_field("location", "set local_path or s3")


def error_record_to_pb(r: ErrorRecord) -> storage_pb2.ErrorRecord:
    return storage_pb2.ErrorRecord(
        id=r.id,
        time=timestamp(r.time) if r.time else None,
        operation=r.operation,
        code=r.code,
        reason=r.reason,
        message=r.message,
        context=r.context,
        rescued=r.rescued,
    )


def error_record_from_pb(m: storage_pb2.ErrorRecord) -> ErrorRecord:
    return ErrorRecord(
        id=m.id,
        time=m.time.ToDatetime(tzinfo=UTC) if m.HasField("time") else None,
        operation=m.operation,
        code=m.code,
        reason=m.reason,
        message=m.message,
        context=dict(m.context),
        rescued=m.rescued,
    )


def put_requests(
    bucket: str, key: str, chunks: Iterable[bytes], content_type: str
) -> Iterator[storage_pb2.PutObjectRequest]:
    """The PutObject stream: the first message names the object, the rest carry bytes."""
    yield storage_pb2.PutObjectRequest(bucket=bucket, key=key, body={"content_type": content_type})
    for chunk in chunks:
        if chunk:
            yield storage_pb2.PutObjectRequest(body={"data": chunk})


def put_from_pb(requests: Iterator[storage_pb2.PutObjectRequest]) -> tuple[str, str, str, Iterator[bytes]]:
    """(bucket, key, content type, chunks) of a PutObject stream; an empty stream is refused."""
    first, chunks = opened_upload(requests)
    return first.bucket, first.key, first.body.content_type, chunks


# Remote ----------------------------------------------------------------------


class RemoteStorage(Remote):
    """StorageApi over a channel from ``lakehouse.api.channel.open_channel``."""

    stub_type = storage_pb2_grpc.StorageServiceStub

    def list_buckets(self) -> list[BucketInfo]:
        return [bucket_from_pb(b) for b in self._call("ListBuckets", storage_pb2.ListBucketsRequest()).buckets]

    def get_bucket(self, name: str) -> BucketInfo:
        return bucket_from_pb(self._call("GetBucket", storage_pb2.GetBucketRequest(bucket=name)))

    def create_bucket(self, name: str, location: str | S3Location) -> BucketInfo:
        return bucket_from_pb(self._call("CreateBucket", create_bucket_to_pb(name, location)))

    def delete_bucket(self, name: str) -> None:
        self._call("DeleteBucket", storage_pb2.DeleteBucketRequest(bucket=name))

    def put_object(self, bucket: str, key: str, chunks: Iterable[bytes], content_type: str = "") -> ObjectInfo:
        return object_from_pb(self._call("PutObject", put_requests(bucket, key, chunks, content_type)))

    def get_object(self, bucket: str, key: str) -> ObjectBody:
        """Starts the stream and reads its first message, so a missing object raises here."""
        messages = self._stream("GetObject", storage_pb2.GetObjectRequest(bucket=bucket, key=key))
        first = next(messages, None)
        content_type = first.content_type if first is not None else DEFAULT_CONTENT_TYPE

        def chunks() -> Iterator[bytes]:
            if first is not None and first.data:
                yield first.data
            for message in messages:
                if message.data:
                    yield message.data

        return ObjectBody(content_type, chunks())

    def stat_object(self, bucket: str, key: str) -> ObjectInfo:
        return object_from_pb(self._call("StatObject", storage_pb2.StatObjectRequest(bucket=bucket, key=key)))

    def list_objects(
        self, bucket: str, prefix: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[ObjectInfo], str]:
        request = storage_pb2.ListObjectsRequest(
            bucket=bucket, prefix=prefix, page_size=page_size, page_token=page_token
        )
        resp = self._call("ListObjects", request)
        return [object_from_pb(o) for o in resp.objects], resp.next_page_token

    def delete_object(self, bucket: str, key: str) -> None:
        self._call("DeleteObject", storage_pb2.DeleteObjectRequest(bucket=bucket, key=key))

    def list_errors(self, page_size: int = 0, page_token: str = "") -> tuple[list[ErrorRecord], str]:
        resp = self._call("ListErrors", storage_pb2.ListErrorsRequest(page_size=page_size, page_token=page_token))
        return [error_record_from_pb(r) for r in resp.errors], resp.next_page_token
