"""The ingest core's plain types live in the ingest API (``lakehouse.api.ingest``);
this module names the ones the core's own modules use."""

from __future__ import annotations

from lakehouse.api.ingest import (
    DEFAULT_SHEET_DATASET_PATTERN,
    FORMATS,
    PHASE_COMMIT,
    PHASE_CONVERT,
    PHASE_UPLOAD,
    Format,
    IngestProgress,
    IngestResult,
    IngestSpec,
    Phase,
    ReadOptions,
    ReadSpec,
)

__all__ = [
    "DEFAULT_SHEET_DATASET_PATTERN",
    "FORMATS",
    "PHASE_COMMIT",
    "PHASE_CONVERT",
    "PHASE_UPLOAD",
    "Format",
    "IngestProgress",
    "IngestResult",
    "IngestSpec",
    "Phase",
    "ReadOptions",
    "ReadSpec",
]
