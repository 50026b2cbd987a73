"""What the storage control plane lets a caller reach.

Three rules, each refused with PERMISSION_DENIED and a reason that names the
setting an administrator would change:

- A local bucket is a strict subdirectory of one of ``settings.local_bucket_roots``
  (default ``<home>/buckets``), checked on the fully resolved path (symlinks
  followed), and it may not overlap the lakehouse's own directories. The root
  itself is refused so that no single bucket can see every other one.
- An S3 bucket's endpoint must be on ``settings.s3_bucket_endpoints`` (default:
  the lake's own endpoint when the lake is on S3, else none). The check is a
  string comparison made before any client exists, so the answer never depends
  on whether the host:port is reachable (no SSRF, no port-scan oracle).
- On the built-in buckets, the keys under the lake's managed prefixes are
  read-only through the object API. Engines write those through their
  ``ObjectStore`` directly and are not affected.

Registering and forgetting buckets goes through ``authorize_bucket_admin``: today
a switch in settings, the place for an admin check once callers have profiles.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from lakehouse.api import errors
from lakehouse.api.storage import (
    BUCKET_LOCATION_NOT_ALLOWED,
    BUCKET_REGISTRATION_DISABLED,
    INVALID_BUCKET,
    MANAGED_PREFIX_READ_ONLY,
    S3_ENDPOINT_NOT_ALLOWED,
)
from lakehouse.servers.settings import Settings
from lakehouse.servers.storage.keys import SEPARATOR, validate_key
from lakehouse.servers.storage.s3 import split_endpoint

LOCAL_ROOTS_SETTING = "LAKEHOUSE_STORAGE__LOCAL_BUCKET_ROOTS"
S3_ENDPOINTS_SETTING = "LAKEHOUSE_STORAGE__S3_BUCKET_ENDPOINTS"
REGISTRATION_SETTING = "LAKEHOUSE_STORAGE__ALLOW_BUCKET_REGISTRATION"

# First key segments the lake's engines own (datasets, vector corpora, the journal,
# error records, catalog snapshots).
MANAGED_PREFIXES = ("datasets", "corpora", "_journal", "_errors", "_catalog")


_DEFAULT_PORTS = {False: 80, True: 443}


def endpoint_keys(endpoint: str, secure: bool | None = None) -> frozenset[str]:
    """The ``host:port`` pairs an endpoint string can connect to, lowercased.

    Without a port the scheme's default applies; an allow-list entry with neither
    scheme nor port (``secure`` None) stands for both 80 and 443.
    """
    host, scheme_secure = split_endpoint(endpoint, bool(secure))
    has_scheme = "://" in endpoint
    try:
        parts = urlsplit("//" + host)
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:
        raise errors.invalid_field("endpoint", f"invalid host:port: {exc}", INVALID_BUCKET) from exc
    shown = f"[{hostname}]" if hostname and ":" in hostname else hostname
    canonical = shown if port is None else f"{shown}:{port}"
    if not hostname or canonical != host.lower():
        # userinfo ("a@b"), an empty port ("h:") and the like: nothing but host[:port].
        raise errors.invalid_field("endpoint", "must be host:port or http(s)://host:port", INVALID_BUCKET)
    if port is not None:
        return frozenset({f"{shown}:{port}"})
    if has_scheme or secure is not None:
        return frozenset({f"{shown}:{_DEFAULT_PORTS[scheme_secure]}"})
    return frozenset(f"{shown}:{p}" for p in _DEFAULT_PORTS.values())


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a in b.parents or b in a.parents


class BucketPolicy:
    """The rules above, fixed at construction from one process's settings."""

    def __init__(self, settings: Settings, lake_bucket: str, builtin_buckets: tuple[str, ...]) -> None:
        self._allow_registration = settings.storage.allow_bucket_registration
        self._home = settings.home_dir
        self._roots = settings.local_bucket_roots
        # Directories of the lakehouse itself: a bucket may be neither in nor around them.
        self._reserved = (
            settings.lake_root,
            settings.rescue_root,
            settings.spool_dir,
            settings.run_dir,
            settings.home_dir / "vector",
        )
        try:
            self._endpoints = frozenset().union(*(endpoint_keys(e) for e in settings.s3_bucket_endpoints))
        except errors.InvalidArgument as exc:
            raise errors.invalid_field("storage.s3_bucket_endpoints", exc.message, INVALID_BUCKET) from exc
        storage = settings.storage
        self._lake_s3: tuple[frozenset[str], str] | None = None
        if storage.backend == "s3":
            self._lake_s3 = (endpoint_keys(storage.s3_endpoint, storage.s3_secure), storage.s3_bucket)
        self._lake_bucket = lake_bucket
        self._builtin = builtin_buckets

    # Registration ---------------------------------------------------------

    def authorize_bucket_admin(self, principal: object = None) -> None:
        """Seam for "registering buckets is an admin operation": there are no caller
        profiles yet, so ``principal`` is unused and the setting decides for everyone."""
        if not self._allow_registration:
            raise errors.PermissionDenied(
                f"registering and removing buckets is disabled on this server (setting {REGISTRATION_SETTING})",
                reason=BUCKET_REGISTRATION_DISABLED,
                metadata={"setting": REGISTRATION_SETTING},
            )

    def local_root(self, name: str, requested: str) -> Path:
        """The resolved directory for ``requested`` (relative paths are under home),
        or PermissionDenied when it is not allowed. Messages never show server paths."""
        try:
            path = Path(requested).expanduser()
            resolved = (path if path.is_absolute() else self._home / path).resolve(strict=False)
        except ValueError as exc:  # e.g. an embedded NUL
            raise errors.invalid_field("local_path", "is not a valid path", INVALID_BUCKET) from exc
        except (OSError, RuntimeError) as exc:  # symlink loops
            raise self._location_denied(name, "cannot be resolved") from exc
        self.check_local(name, resolved)
        return resolved

    def check_local(self, name: str, resolved: Path) -> None:
        """Also run on buckets loaded from the registry, before they are opened."""
        try:
            real = resolved.resolve(strict=False)  # a registry entry may have become a symlink
        except (OSError, RuntimeError) as exc:
            raise self._location_denied(name, "cannot be resolved") from exc
        if not any(root in real.parents for root in self._roots):
            raise self._location_denied(name, "is not inside a directory allowed for local buckets")
        if real == self._home or real in self._home.parents or any(_overlaps(real, r) for r in self._reserved):
            raise self._location_denied(name, "overlaps the lakehouse's own storage")

    @staticmethod
    def _location_denied(name: str, why: str) -> errors.PermissionDenied:
        return errors.PermissionDenied(
            f"bucket {name!r}: local_path {why}; an administrator can allow directories with {LOCAL_ROOTS_SETTING}",
            reason=BUCKET_LOCATION_NOT_ALLOWED,
            metadata={"bucket": name, "setting": LOCAL_ROOTS_SETTING},
        )

    def check_s3(self, name: str, endpoint: str, bucket: str, secure: bool) -> None:
        """Refuse endpoints off the allow-list, and the lake's own S3 bucket (which would
        bypass the managed-prefix rule); no connection is made either way."""
        keys = endpoint_keys(endpoint, secure)
        if not keys <= self._endpoints:
            raise errors.PermissionDenied(
                f"bucket {name!r}: S3 endpoint is not allowed; an administrator can allow endpoints"
                f" with {S3_ENDPOINTS_SETTING}",
                reason=S3_ENDPOINT_NOT_ALLOWED,
                metadata={"bucket": name, "setting": S3_ENDPOINTS_SETTING},
            )
        if self._lake_s3 is not None and keys & self._lake_s3[0] and bucket == self._lake_s3[1]:
            raise errors.PermissionDenied(
                f"bucket {name!r}: names the lake's own S3 bucket, which is already registered as"
                f" {self._lake_bucket!r}",
                reason=BUCKET_LOCATION_NOT_ALLOWED,
                metadata={"bucket": name, "setting": S3_ENDPOINTS_SETTING},
            )

    # Objects ------------------------------------------------------------

    def check_object_write(self, bucket: str, key: str) -> None:
        """PutObject/DeleteObject: the managed prefixes of the built-in buckets are read-only."""
        validate_key(key)
        if bucket not in self._builtin:
            return
        head = key.split(SEPARATOR, 1)[0]
        if head in MANAGED_PREFIXES:
            raise errors.PermissionDenied(
                f"{head}/ in bucket {bucket!r} is managed by the lakehouse and read-only through the object API",
                reason=MANAGED_PREFIX_READ_ONLY,
                metadata={"bucket": bucket, "key": key, "prefix": f"{head}/"},
            )
