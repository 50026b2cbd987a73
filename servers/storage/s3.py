"""A bucket on an S3 endpoint (SeaweedFS in tests, MinIO or AWS S3 in production).

Object calls go through the ``minio`` client with small, explicit timeouts and
retries so an unreachable endpoint fails fast with Unavailable instead of
hanging; the data plane gets a ``pyarrow.fs.S3FileSystem`` on the same bucket.
Every backend failure is translated into a lakehouse error here, in one place.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import certifi
import pyarrow.fs as pafs
import urllib3
from minio import Minio
from minio.datatypes import Object
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import check_bucket_name

from lakehouse.api import errors
from lakehouse.api.paging import PagingSettings
from lakehouse.api.storage import (
    BUCKET_NOT_FOUND,
    INVALID_S3_CONFIG,
    OBJECT_NOT_FOUND,
    S3_ACCESS_DENIED,
    S3_AUTH_FAILED,
    S3_ERROR,
    STORAGE_UNAVAILABLE,
)
from lakehouse.servers.storage.keys import validate_key, validate_page, validate_prefix
from lakehouse.servers.storage.listing import ordered_walk, take_page
from lakehouse.servers.storage.model import BucketInfo, ObjectInfo

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_CHUNK_BYTES = 1 * MiB
# Multipart part size for streamed puts (S3 minimum is 5 MiB); one part is buffered.
DEFAULT_PART_BYTES = 8 * MiB
DEFAULT_REGION = "us-east-1"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 2
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Exponential backoff base between retries (urllib3 doubles it per attempt).
RETRY_BACKOFF_S = 0.1
RETRY_STATUSES = (500, 502, 503, 504)
HTTP_POOL_SIZE = 16
# Parts uploaded one at a time: bounded memory and a single error path.
UPLOAD_THREADS = 1

# S3 error codes meaning "who you claim to be was not accepted".
_AUTH_CODES = frozenset(
    {
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidSecurity",
        "InvalidToken",
        "ExpiredToken",
        "MissingSecurityHeader",
        "AuthorizationHeaderMalformed",
        "RequestTimeTooSkewed",
    }
)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NoSuchVersion"})
_UNAVAILABLE_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"})
_BUCKET_EXISTS_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})
_HTTP_SCHEMES = {"http": False, "https": True}


class _ChunkReader:
    """File-like ``read(n)`` over an iterable of chunks, for minio's streamed put.

    It counts bytes and remembers an exception raised by the caller's iterator so
    the store re-raises that one unchanged instead of mapping it as a backend error.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = bytearray()
        self._done = False
        self.size = 0
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._done = True
                break
            except BaseException as exc:
                self.error = exc
                raise
            self._buffer += chunk
            self.size += len(chunk)
        if size < 0 or size >= len(self._buffer):
            out = bytes(self._buffer)
            self._buffer.clear()
        else:
            out = bytes(self._buffer[:size])
            del self._buffer[:size]
        return out


def split_endpoint(endpoint: str, secure: bool) -> tuple[str, bool]:
    """Accept ``host:port`` or ``http(s)://host:port``; the scheme, when given, wins."""
    if "://" not in endpoint:
        host = endpoint
    else:
        parts = urlsplit(endpoint)
        if parts.scheme not in _HTTP_SCHEMES or parts.path not in ("", "/") or parts.query:
            raise errors.invalid_field("endpoint", "must be host:port or http(s)://host:port", INVALID_S3_CONFIG)
        host, secure = parts.netloc, _HTTP_SCHEMES[parts.scheme]
    if not host or "/" in host:
        raise errors.invalid_field("endpoint", "must be host:port or http(s)://host:port", INVALID_S3_CONFIG)
    return host, secure


class S3ObjectStore:
    """One S3 bucket; implements ``model.ObjectStore``. The bucket is created on first use."""

    def __init__(
        self,
        name: str,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        region: str = DEFAULT_REGION,
        secure: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        part_bytes: int = DEFAULT_PART_BYTES,
        paging: PagingSettings | None = None,
    ) -> None:
        self._paging = paging or PagingSettings()
        self._endpoint, self._secure = split_endpoint(endpoint, secure)
        try:
            check_bucket_name(bucket, strict=True)
        except ValueError as exc:
            raise errors.invalid_field("bucket", str(exc), INVALID_S3_CONFIG) from exc
        if bool(access_key) != bool(secret_key):
            raise errors.invalid_field(
                "secret_key",
                "access key and secret key must be given together (or neither)",
                INVALID_S3_CONFIG,
            )
        self._bucket = bucket
        self._region = region or DEFAULT_REGION
        self._access_key = access_key
        self._secret_key = secret_key
        self._timeout_s = timeout_s
        self._retries = retries
        self._chunk_bytes = chunk_bytes
        self._part_bytes = part_bytes
        self._bucket_ready = False
        self._lock = threading.Lock()
        self.info = BucketInfo(name=name, backend="s3", location=f"s3://{self._endpoint}/{bucket}")
        self._client = Minio(
            self._endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=self._secure,
            region=self._region,  # a known region skips the GetBucketLocation round trip
            http_client=self._http_pool(),
        )

    def _http_pool(self) -> urllib3.PoolManager:
        """Bounded timeouts and retries: a dead endpoint costs at most
        (retries + 1) x timeout, never a hang."""
        retry = urllib3.Retry(
            total=self._retries,
            connect=self._retries,
            read=self._retries,
            status=self._retries,
            backoff_factor=RETRY_BACKOFF_S,
            status_forcelist=RETRY_STATUSES,
        )
        return urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=self._timeout_s, read=self._timeout_s),
            retries=retry,
            maxsize=HTTP_POOL_SIZE,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )

    @property
    def bucket(self) -> str:
        return self._bucket

    # Errors -------------------------------------------------------------

    @contextlib.contextmanager
    def _mapped(self, what: str, reader: _ChunkReader | None = None) -> Iterator[None]:
        """Translate anything minio/urllib3 raise into a lakehouse error."""
        try:
            yield
        except errors.LakehouseError:
            raise
        except Exception as exc:
            if reader is not None and reader.error is not None:
                raise reader.error from None  # the caller's iterator failed, not S3
            mapped = self._translate(exc, what)
            if mapped is None:
                raise
            raise mapped from exc

    def _translate(self, exc: BaseException, what: str) -> errors.LakehouseError | None:
        where = f"{self.info.location} ({what})"
        if isinstance(exc, S3Error):
            return self._translate_s3(exc, what, where)
        if isinstance(exc, (ServerError, InvalidResponseError)):
            return errors.Unavailable(f"S3 endpoint failed at {where}: {exc}", reason=STORAGE_UNAVAILABLE)
        if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
            return errors.Unavailable(
                f"S3 endpoint {self._endpoint} unreachable at {where}: {type(exc).__name__}",
                reason=STORAGE_UNAVAILABLE,
            )
        return None

    def _translate_s3(self, exc: S3Error, what: str, where: str) -> errors.LakehouseError:
        code = exc.code or ""
        if code in _NOT_FOUND_CODES:
            return errors.NotFound(f"object {what!r} not found", reason=OBJECT_NOT_FOUND, metadata={"key": what})
        if code == "NoSuchBucket":
            self._bucket_ready = False  # deleted behind our back: recreate on next use
            return errors.NotFound(f"S3 bucket of {where} does not exist", reason=BUCKET_NOT_FOUND)
        if code in _AUTH_CODES:
            return self._auth_failed(code)
        if code == "AccessDenied":
            return self._classify_access_denied(where)
        if code in _UNAVAILABLE_CODES or (exc.response is not None and exc.response.status >= 500):
            return errors.Unavailable(f"S3 endpoint failed at {where}: {code}", reason=STORAGE_UNAVAILABLE)
        return errors.Internal(f"S3 error at {where}: {code}: {exc.message}", reason=S3_ERROR)

    def _auth_failed(self, code: str) -> errors.Unauthenticated:
        return errors.Unauthenticated(
            f"S3 endpoint {self._endpoint} rejected the credentials of bucket {self.info.name!r} ({code})",
            reason=S3_AUTH_FAILED,
        )

    def _classify_access_denied(self, where: str) -> errors.LakehouseError:
        """HEAD responses carry no error body, so minio reports a bad signature as
        AccessDenied; a listing request (which has a body) tells the two apart."""
        try:
            next(iter(self._client.list_objects(self._bucket, prefix="", recursive=False)), None)
        except S3Error as probe:
            if probe.code in _AUTH_CODES:
                return self._auth_failed(probe.code)
        except Exception as probe_error:  # noqa: BLE001 - the probe only refines the diagnosis
            log.debug("S3 access-denied probe failed: %s", probe_error)
        return errors.PermissionDenied(f"S3 denied access at {where}", reason=S3_ACCESS_DENIED)

    # Bucket -------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket when missing; done once per store, retried after a failure."""
        if self._bucket_ready:
            return
        with self._lock:
            if self._bucket_ready:
                return
            with self._mapped(f"bucket {self._bucket}"):
                if not self._client.bucket_exists(self._bucket):
                    try:
                        self._client.make_bucket(self._bucket)
                    except S3Error as exc:
                        if exc.code not in _BUCKET_EXISTS_CODES:
                            raise
            self._bucket_ready = True

    # ObjectStore -----------------------------------------------------------

    def put(self, key: str, chunks: Iterable[bytes], content_type: str = "") -> ObjectInfo:
        """Stream the chunks up; objects larger than one part go as a multipart upload."""
        validate_key(key)
        self.ensure_bucket()
        reader = _ChunkReader(chunks)
        with self._mapped(key, reader):
            self._client.put_object(
                self._bucket,
                key,
                reader,
                length=-1,
                part_size=self._part_bytes,
                content_type=content_type or DEFAULT_CONTENT_TYPE,
                num_parallel_uploads=UPLOAD_THREADS,
            )
        return self.stat(key)

    def get(self, key: str, chunk_bytes: int = 0) -> Iterator[bytes]:
        """Issue the request now (so NotFound is raised by the call), stream on iteration."""
        if chunk_bytes < 0:
            raise errors.invalid_field("chunk_bytes", "must not be negative")
        validate_key(key)
        self.ensure_bucket()
        with self._mapped(key):
            response = self._client.get_object(self._bucket, key)
        return self._stream(response, key, chunk_bytes or self._chunk_bytes)

    def _stream(self, response: urllib3.BaseHTTPResponse, key: str, chunk_bytes: int) -> Iterator[bytes]:
        try:
            with self._mapped(key):
                yield from response.stream(chunk_bytes)
        finally:
            response.close()
            response.release_conn()

    def stat(self, key: str) -> ObjectInfo:
        validate_key(key)
        self.ensure_bucket()
        with self._mapped(key):
            obj = self._client.stat_object(self._bucket, key)
        return self._object_info(key, obj)

    def list(self, prefix: str = "", page_size: int = 0, page_token: str = "") -> tuple[list[ObjectInfo], str]:
        """Keys in UTF-8 order after ``page_token``, walked one delimiter level at a
        time (see ``listing``): servers such as SeaweedFS neither order a flat
        listing correctly nor honour ``start-after`` reliably. Directory markers and
        names that are not valid keys are skipped."""
        validate_prefix(prefix)
        size, after = validate_page(page_size, page_token, self._paging)
        self.ensure_bucket()
        with self._mapped(prefix or "/"):
            found = ordered_walk(self._read_level, prefix, after)
            return take_page((info for _, info in found), size, lambda info: info.key)

    def _read_level(self, request: str) -> list[tuple[str, bool, ObjectInfo | None]]:
        entries: list[tuple[str, bool, ObjectInfo | None]] = []
        for obj in self._client.list_objects(self._bucket, prefix=request or None, recursive=False):
            name = obj.object_name or ""
            if obj.is_dir:
                entries.append((name, True, None))
            else:
                entries.append((name, False, self._object_info(name, obj)))
        return entries

    @staticmethod
    def _object_info(key: str, obj: Object) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            size=int(obj.size or 0),
            etag=(obj.etag or "").strip('"'),
            modified_at=obj.last_modified or datetime.now(UTC),
            content_type=obj.content_type or "",
        )

    def delete(self, key: str) -> None:
        """S3 deletes are idempotent; a stat first turns a missing key into NotFound."""
        self.stat(key)
        with self._mapped(key):
            self._client.remove_object(self._bucket, key)

    def filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow S3 filesystem on the same endpoint and credentials, rooted at the bucket."""
        self.ensure_bucket()
        fs = pafs.S3FileSystem(
            access_key=self._access_key,
            secret_key=self._secret_key,
            region=self._region,
            scheme="https" if self._secure else "http",
            endpoint_override=self._endpoint,
            connect_timeout=self._timeout_s,
            request_timeout=self._timeout_s,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=self._retries + 1),
        )
        return fs, self._bucket

    def check(self) -> None:
        """One signed listing call: raises Unavailable or Unauthenticated when unusable."""
        self.ensure_bucket()
        with self._mapped("check"):
            next(iter(self._client.list_objects(self._bucket, recursive=False)), None)
