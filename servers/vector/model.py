"""Plain types of the vector core: items, hits, corpus descriptions, the embedder it calls.

Nothing here imports FAISS or gRPC; the servicer converts these to and from protos.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from lakehouse.api.catalog import DATASET_NAME_RE
from lakehouse.api.errors import invalid_field
from lakehouse.api.vector import (
    INVALID_CORPUS_NAME,
    INVALID_DIMENSION,
    INVALID_HNSW_PARAMS,
    INVALID_METRIC,
    CorpusInfo,  # noqa: F401 - the API's domain types, re-exported
    Hit,  # noqa: F401
    Item,  # noqa: F401
    SearchResult,  # noqa: F401
)
from lakehouse.servers.models.model import Embedder

METRICS = ("cosine", "l2", "ip")

# Bounds on corpus parameters: outside them HNSW is either useless or absurdly slow/large.
MIN_HNSW_M, MAX_HNSW_M = 4, 128
MIN_EF_CONSTRUCTION, MAX_EF_CONSTRUCTION = 8, 2048
MIN_DIMENSION, MAX_DIMENSION = 1, 4096
# Per-request efSearch cap; the graph walk cost grows linearly with it.
MAX_EF_SEARCH = 4096
MAX_ID_CHARS = 512
MAX_METADATA_BYTES = 64 * 1024
MAX_DESCRIPTION_CHARS = 1024
MAX_TAGS = 32
TAG_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


class CorpusEmbedder(Embedder, Protocol):
    """The ``Embedder`` the vector core is given (ModelService in production, through
    ``embedder.ModelsEmbedder``): ``model`` "" means the embedder's default, and ``embed``
    returns ``dimension(model)`` columns. A corpus created without a dimension takes it from here.

    It may also offer ``resolve(model) -> str``, the canonical name of the model a name stands
    for; a corpus then records that name, so a later change of the default model cannot change
    which model embeds its texts.
    """

    def dimension(self, model: str) -> int: ...


@dataclass(frozen=True)
class HnswParams:
    """What a generation's graph was built with; dimension and metric never change within a corpus."""

    dimension: int
    metric: str
    hnsw_m: int
    ef_construction: int


def validate_corpus_name(name: str, field_name: str = "corpus") -> str:
    if not isinstance(name, str) or not DATASET_NAME_RE.match(name):
        raise invalid_field(
            field_name,
            f"invalid corpus name {name!r}: use 1-63 lowercase letters, digits or '_', starting with a letter",
            reason=INVALID_CORPUS_NAME,
        )
    return name


def validate_description(description: str, tags: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """A corpus's description and tags (its retrieval intent, shown to people and agents)."""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        raise invalid_field("description", f"must be a string of at most {MAX_DESCRIPTION_CHARS} characters")
    if isinstance(tags, str) or len(tags) > MAX_TAGS:
        raise invalid_field("tags", f"must be a list of at most {MAX_TAGS} tags")
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not TAG_RE.fullmatch(tag):
            raise invalid_field(f"tags[{i}]", f"{tag!r}: use 1-64 letters, digits, '_', '-', '.' or ':'")
    return description, tuple(dict.fromkeys(tags))


def validate_params(params: HnswParams) -> HnswParams:
    """Reject parameters outside the sane ranges, naming the field."""
    if params.metric not in METRICS:
        raise invalid_field("metric", f"must be one of {', '.join(METRICS)}, got {params.metric!r}", INVALID_METRIC)
    _check_range("dimension", params.dimension, MIN_DIMENSION, MAX_DIMENSION, INVALID_DIMENSION)
    _check_range("hnsw_m", params.hnsw_m, MIN_HNSW_M, MAX_HNSW_M, INVALID_HNSW_PARAMS)
    _check_range(
        "ef_construction", params.ef_construction, MIN_EF_CONSTRUCTION, MAX_EF_CONSTRUCTION, INVALID_HNSW_PARAMS
    )
    return params


def _check_range(field_name: str, value: int, low: int, high: int, reason: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid_field(field_name, f"must be an integer in [{low}, {high}], got {value!r}", reason)
