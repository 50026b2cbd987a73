"""The one wall clock of the servers (UTC, timezone-aware). Cores that need time take a
``clock`` callable defaulting to this, so tests can pin it."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
