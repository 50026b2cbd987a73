"""StorageService core: the registry of buckets and the error journal.

Two buckets always exist: the lake (local directory or S3, per settings) and a
local ``rescue`` bucket that catches error records when the lake cannot. More
buckets can be registered at run time; they are persisted to
``<home>/buckets.json`` (mode 0600, because it holds S3 secret keys, which are
never returned by any method here).

Where a bucket may point, and which keys the object API may change, is decided
by ``policy.BucketPolicy`` (see there). Object writes from the StorageService go
through ``put_object``/``delete_object`` here, never straight to a store, so the
managed-prefix rule cannot be skipped by a servicer.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from lakehouse.api import errors
from lakehouse.api.storage import (
    BUCKET_EXISTS,
    BUCKET_PROTECTED,
    BUCKET_REGISTRY_CORRUPT,
    BUCKET_REGISTRY_UNWRITABLE,
    DEFAULT_CONTENT_TYPE,
    INVALID_BUCKET,
    BucketInfo,
    ErrorRecord,
    ObjectBody,
    ObjectInfo,
    S3Location,
)
from lakehouse.servers.auth.context import bucket_not_found, bucket_scope, check_bucket
from lakehouse.servers.settings import Settings
from lakehouse.servers.storage.journal import ErrorJournal, error_record
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.storage.policy import BucketPolicy
from lakehouse.servers.storage.s3 import DEFAULT_REGION, S3ObjectStore, split_endpoint

RESCUE_BUCKET = "rescue"
REGISTRY_FILE = "buckets.json"
# Public form of a local bucket's location: "local:" + its directory relative to LAKEHOUSE_HOME.
LOCAL_LOCATION_SCHEME = "local:"
REGISTRY_VERSION = 1
REGISTRY_MODE = 0o600
BUCKET_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
BACKENDS = ("local", "s3")


@dataclass(frozen=True)
class BucketSpec:
    """How to reach a registered bucket; the persisted form (secret included)."""

    name: str
    backend: str
    root: str = ""
    endpoint: str = ""
    bucket: str = ""
    access_key: str = ""
    secret_key: str = ""
    region: str = ""
    secure: bool = False


def validate_bucket_name(name: str) -> str:
    if not isinstance(name, str) or not BUCKET_NAME_PATTERN.match(name):
        raise errors.invalid_field(
            "name",
            "must match ^[a-z][a-z0-9-]{1,62}$ (lowercase letter, then letters, digits, '-')",
            INVALID_BUCKET,
        )
    return name


class StorageCore:
    """Buckets by name -> ObjectStore; the lake and rescue buckets cannot be removed."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.RLock()
        self._lake_name = validate_bucket_name(settings.storage.lake_bucket)
        if self._lake_name == RESCUE_BUCKET:
            raise errors.invalid_field("storage.lake_bucket", f"{RESCUE_BUCKET!r} is reserved", INVALID_BUCKET)
        self._registry_path = settings.home_dir / REGISTRY_FILE
        self._policy = BucketPolicy(settings, self._lake_name, (self._lake_name, RESCUE_BUCKET))
        self._specs: dict[str, BucketSpec] = self._load()
        self._stores: dict[str, ObjectStore] = {
            self._lake_name: self._lake_store(),
            RESCUE_BUCKET: LocalObjectStore(
                RESCUE_BUCKET, settings.rescue_root, settings.storage.chunk_bytes, settings.paging
            ),
        }
        self._journal = ErrorJournal(self._stores[self._lake_name], self._stores[RESCUE_BUCKET], paging=settings.paging)

    # Built-in buckets -------------------------------------------------------

    def _lake_store(self) -> ObjectStore:
        storage = self._settings.storage
        if storage.backend == "s3":
            return S3ObjectStore(
                self._lake_name,
                storage.s3_endpoint,
                storage.s3_access_key,
                storage.s3_secret_key.get_secret_value(),
                storage.s3_bucket,
                storage.s3_region,
                storage.s3_secure,
                storage.s3_timeout_s,
                storage.s3_retries,
                chunk_bytes=storage.chunk_bytes,
                paging=self._settings.paging,
            )
        return LocalObjectStore(self._lake_name, self._settings.lake_root, storage.chunk_bytes, self._settings.paging)

    @property
    def protected(self) -> tuple[str, str]:
        return self._lake_name, RESCUE_BUCKET

    def lake(self) -> ObjectStore:
        return self._stores[self._lake_name]

    @property
    def journal(self) -> ErrorJournal:
        return self._journal

    # Registry ---------------------------------------------------------------

    def authorize_bucket_admin(self, principal: object = None) -> None:
        """Raise PermissionDenied unless ``principal`` may register or forget buckets
        (the one seam for an admin role once callers have profiles)."""
        self._policy.authorize_bucket_admin(principal)

    def register_bucket(
        self,
        name: str,
        backend: str,
        *,
        root: str = "",
        endpoint: str = "",
        bucket: str = "",
        access_key: str = "",
        secret_key: str = "",
        region: str = "",
        secure: bool = False,
        verify: bool = True,
        principal: object = None,
    ) -> BucketInfo:
        """Add a bucket. The location is checked against the policy before any
        connection; with ``verify`` the backend is checked next (Unavailable /
        Unauthenticated propagate and nothing is saved)."""
        self.authorize_bucket_admin(principal)
        validate_bucket_name(name)
        spec = self._spec(name, backend, root, endpoint, bucket, access_key, secret_key, region, secure)
        store = self._open(spec)
        if verify:
            store.check()
        with self._lock:
            if name in self._stores or name in self._specs:
                raise errors.AlreadyExists(f"bucket {name!r} already exists", reason=BUCKET_EXISTS)
            specs = {**self._specs, name: spec}
            self._save(specs)
            self._specs = specs
            self._stores[name] = store
        return self._public(store.info)

    def _spec(
        self,
        name: str,
        backend: str,
        root: str,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str,
        secure: bool,
    ) -> BucketSpec:
        if backend == "local":
            if not root:
                raise errors.invalid_field("root", "is required for a local bucket", INVALID_BUCKET)
            if endpoint or bucket or access_key or secret_key or region:
                raise errors.invalid_field("backend", "a local bucket takes only a root", INVALID_BUCKET)
            resolved = self._policy.local_root(name, root)
            return BucketSpec(name=name, backend=backend, root=str(resolved))
        if backend == "s3":
            if root:
                raise errors.invalid_field("root", "an S3 bucket takes no root", INVALID_BUCKET)
            if not endpoint:
                raise errors.invalid_field("endpoint", "is required for an S3 bucket", INVALID_BUCKET)
            if not bucket:
                raise errors.invalid_field("bucket", "is required for an S3 bucket", INVALID_BUCKET)
            return BucketSpec(
                name=name,
                backend=backend,
                endpoint=endpoint,
                bucket=bucket,
                access_key=access_key,
                secret_key=secret_key,
                region=region or DEFAULT_REGION,
                secure=secure,
            )
        raise errors.invalid_field("backend", f"must be one of {', '.join(BACKENDS)}", INVALID_BUCKET)

    def _open(self, spec: BucketSpec) -> ObjectStore:
        """A store for ``spec``, checked against the policy before it can be used, also
        for registry entries saved before it (or under wider settings), so those are
        not served. Building an S3 store validates its fields but connects nowhere."""
        storage = self._settings.storage
        if spec.backend == "local":
            self._policy.check_local(spec.name, Path(spec.root))
            return LocalObjectStore(spec.name, Path(spec.root), storage.chunk_bytes, self._settings.paging)
        store = S3ObjectStore(
            spec.name,
            spec.endpoint,
            spec.access_key,
            spec.secret_key,
            spec.bucket,
            spec.region,
            spec.secure,
            storage.s3_timeout_s,
            storage.s3_retries,
            chunk_bytes=storage.chunk_bytes,
            paging=self._settings.paging,
        )
        self._policy.check_s3(spec.name, spec.endpoint, spec.bucket, spec.secure)
        return store

    def list_buckets(self) -> list[BucketInfo]:
        """Every bucket the caller's profiles hold, including registry entries the policy no
        longer serves (listed from their spec, so an administrator can see and delete them)."""
        scope = bucket_scope()
        with self._lock:
            names = sorted(n for n in set(self._stores) | set(self._specs) if scope is None or n in scope)
        out = []
        for name in names:
            try:
                out.append(self.get_bucket(name))
            except errors.PermissionDenied:
                out.append(self._public(_described(self._specs[name])))
        return out

    def get_bucket(self, name: str) -> BucketInfo:
        return self._public(self._held(name).info)

    def _public(self, info: BucketInfo) -> BucketInfo:
        """What a caller may see of a bucket: a local directory is named relative to
        LAKEHOUSE_HOME (``local:buckets/archive``), never by its server path."""
        if info.backend != "local":
            return info
        try:
            relative = Path(info.location).resolve().relative_to(self._settings.home_dir)
        except (ValueError, OSError):
            return replace(info, location=f"{LOCAL_LOCATION_SCHEME}{info.name}")
        return replace(info, location=f"{LOCAL_LOCATION_SCHEME}{relative.as_posix()}")

    def delete_bucket(self, name: str, principal: object = None) -> None:
        """Forget a registered bucket; its objects are left untouched."""
        self.authorize_bucket_admin(principal)
        check_bucket(name)
        if name in self.protected:
            raise errors.FailedPrecondition(
                f"bucket {name!r} is built in and cannot be deleted", reason=BUCKET_PROTECTED
            )
        with self._lock:
            if name not in self._specs:
                raise bucket_not_found(name)
            specs = {k: v for k, v in self._specs.items() if k != name}
            self._save(specs)
            self._specs = specs
            self._stores.pop(name, None)

    def _held(self, name: str) -> ObjectStore:
        """``store(name)`` for the object API: a bucket outside the caller's profiles does
        not exist for it (servers/auth/context.py)."""
        check_bucket(name)
        return self.store(name)

    def store(self, name: str) -> ObjectStore:
        with self._lock:
            existing = self._stores.get(name)
            if existing is not None:
                return existing
            spec = self._specs.get(name)
            if spec is None:
                raise bucket_not_found(name)
            opened = self._stores[name] = self._open(spec)
            return opened

    # Objects (the StorageService's writes) ------------------------------------

    def put_object(self, bucket: str, key: str, chunks: Iterable[bytes], content_type: str = "") -> ObjectInfo:
        """Write through the object API: refused before reading ``chunks`` when the
        key is under a managed prefix of a built-in bucket."""
        store = self._held(bucket)
        self._policy.check_object_write(bucket, key)
        return store.put(key, chunks, content_type=content_type)

    def delete_object(self, bucket: str, key: str) -> None:
        store = self._held(bucket)
        self._policy.check_object_write(bucket, key)
        store.delete(key)

    # The rest of StorageApi ------------------------------------------------------

    def create_bucket(self, name: str, location: str | S3Location) -> BucketInfo:
        if isinstance(location, S3Location):
            return self.register_bucket(
                name,
                "s3",
                endpoint=location.endpoint,
                bucket=location.bucket,
                access_key=location.access_key,
                secret_key=location.secret_key,
                region=location.region,
                secure=location.secure,
            )
        return self.register_bucket(name, "local", root=location)

    def get_object(self, bucket: str, key: str) -> ObjectBody:
        store = self._held(bucket)
        info = store.stat(key)  # a missing object fails here, before any byte is streamed
        return ObjectBody(info.content_type or DEFAULT_CONTENT_TYPE, store.get(key))

    def stat_object(self, bucket: str, key: str) -> ObjectInfo:
        return self._held(bucket).stat(key)

    def list_objects(
        self, bucket: str, prefix: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[ObjectInfo], str]:
        return self._held(bucket).list(prefix, page_size, page_token)

    def list_errors(
        self, page_size: int = 0, page_token: str = "", datasets: frozenset[str] | None = None
    ) -> tuple[list[ErrorRecord], str]:
        """Error records, newest first. ``datasets``: a scoped caller's datasets; it sees only
        the records of those (records of no dataset, the system's own, are left out)."""
        visible = None if datasets is None else (lambda entry: _record_dataset(entry) in datasets)
        entries, token = self._journal.list(page_size, page_token, visible)
        return [error_record(e) for e in entries], token

    # Persistence ------------------------------------------------------------

    def _load(self) -> dict[str, BucketSpec]:
        """Read the registry; a damaged file stops start-up rather than being overwritten."""
        try:
            raw = self._registry_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise errors.FailedPrecondition(
                f"cannot read the bucket registry ({REGISTRY_FILE}): {exc.strerror or type(exc).__name__}",
                reason=BUCKET_REGISTRY_CORRUPT,
            ) from exc
        known = {f.name for f in fields(BucketSpec)}
        try:
            data = json.loads(raw)
            specs = [BucketSpec(**{k: v for k, v in item.items() if k in known}) for item in data["buckets"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise errors.FailedPrecondition(
                f"the bucket registry ({REGISTRY_FILE}) is damaged: {exc}", reason=BUCKET_REGISTRY_CORRUPT
            ) from exc
        return {spec.name: spec for spec in specs}

    def _save(self, specs: dict[str, BucketSpec]) -> None:
        """Atomic replace of a 0600 file (created with that mode, never wider)."""
        body = json.dumps(
            {"version": REGISTRY_VERSION, "buckets": [asdict(s) for s in specs.values()]},
            indent=2,
            sort_keys=True,
        ).encode("utf-8")
        directory = self._registry_path.parent
        temp = directory / f".{REGISTRY_FILE}.{uuid.uuid4().hex}.tmp"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), REGISTRY_MODE)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(body)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(temp, REGISTRY_MODE)
                os.replace(temp, self._registry_path)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise errors.Unavailable(
                f"cannot write the bucket registry ({REGISTRY_FILE}): {exc.strerror or type(exc).__name__}",
                reason=BUCKET_REGISTRY_UNWRITABLE,
            ) from exc


def _described(spec: BucketSpec) -> BucketInfo:
    """What a registry entry says, without opening (or policy-checking) it."""
    if spec.backend == "local":
        return BucketInfo(name=spec.name, backend="local", location=spec.root)
    try:
        host, _ = split_endpoint(spec.endpoint, spec.secure)
    except errors.InvalidArgument:
        host = "?"
    return BucketInfo(name=spec.name, backend="s3", location=f"s3://{host}/{spec.bucket}")


def _record_dataset(entry: dict) -> str | None:
    context = entry.get("context")
    return context.get("dataset") if isinstance(context, dict) else None
