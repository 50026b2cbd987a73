"""Object keys of dataset files (DESIGN §4), with a per-attempt suffix.

``datasets/<name>/v<version>/part-<n>-<attempt>.parquet`` for base files and
``datasets/<name>/deltas/<seq>-<n>-<attempt>.parquet`` for delta files. The
attempt id makes a retried or racing attempt write new keys, so it can never
overwrite a file that a committed version refers to. ``<n>`` numbers the files
of one attempt (a large upload rotates files). Zero padding makes listing order
equal numeric order.
"""

from __future__ import annotations

import re
import uuid

from lakehouse.api.catalog import DataFile, DatasetVersion

DATASETS_PREFIX = "datasets"
ATTEMPT_HEX = 8
PART_DIGITS = 5
SEQ_DIGITS = 10

_DELTA_SEQ_RE = re.compile(r"/deltas/(\d+)-")


def new_attempt() -> str:
    return uuid.uuid4().hex[:ATTEMPT_HEX]


def dataset_prefix(dataset: str) -> str:
    """Every key a dataset's versions may name starts with this."""
    return f"{DATASETS_PREFIX}/{dataset}/"


def version_prefix(dataset: str, version: int) -> str:
    return f"{dataset_prefix(dataset)}v{version}/"


def part_key(dataset: str, version: int, n: int, attempt: str) -> str:
    return f"{version_prefix(dataset, version)}part-{n:0{PART_DIGITS}d}-{attempt}.parquet"


def delta_key(dataset: str, seq: int, n: int, attempt: str) -> str:
    return f"{DATASETS_PREFIX}/{dataset}/deltas/{seq:0{SEQ_DIGITS}d}-{n:0{PART_DIGITS}d}-{attempt}.parquet"


def delta_seq(key: str) -> int | None:
    match = _DELTA_SEQ_RE.search(key)
    return int(match.group(1)) if match else None


def written_by(version: DatasetVersion) -> list[DataFile]:
    """The files a version itself wrote (its manifest also lists older ones);
    deltas use the version number as their sequence."""
    prefix = version_prefix(version.dataset, version.version)
    own = [f for f in version.files if f.path.startswith(prefix)]
    own += [f for f in version.deltas if delta_seq(f.path) == version.version]
    return own
