"""StorageService core: buckets (local directory or S3), objects, the error journal."""

from .core import RESCUE_BUCKET, BucketSpec, StorageCore, validate_bucket_name
from .journal import ErrorJournal
from .keys import validate_key, validate_page, validate_prefix
from .local import LocalObjectStore
from .model import BucketInfo, ObjectInfo, ObjectStore
from .policy import MANAGED_PREFIXES, BucketPolicy
from .s3 import S3ObjectStore

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
