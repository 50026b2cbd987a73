"""StorageService core: buckets (local directory or S3), objects, the error journal."""

from lakehouse.servers.storage.core import RESCUE_BUCKET, BucketSpec, StorageCore, validate_bucket_name
from lakehouse.servers.storage.journal import ErrorJournal
from lakehouse.servers.storage.keys import validate_key, validate_page, validate_prefix
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.storage.model import BucketInfo, ObjectInfo, ObjectStore
from lakehouse.servers.storage.policy import MANAGED_PREFIXES, BucketPolicy
from lakehouse.servers.storage.s3 import S3ObjectStore

__all__ = [
    "RESCUE_BUCKET",
    "MANAGED_PREFIXES",
    "BucketInfo",
    "BucketPolicy",
    "BucketSpec",
    "ErrorJournal",
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectStore",
    "S3ObjectStore",
    "StorageCore",
    "validate_bucket_name",
    "validate_key",
    "validate_page",
    "validate_prefix",
]
