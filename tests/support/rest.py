"""Helpers for REST calls through the gateway in integration tests."""

from __future__ import annotations

import httpx


def bearer(key: str) -> dict[str, str]:
    """The headers that carry an API key."""
    return {"authorization": f"Bearer {key}"}


def error_reason(response: httpx.Response) -> str:
    """The ErrorInfo reason of a google.rpc.Status JSON error body."""
    return next(d["reason"] for d in response.json()["details"] if d["@type"].endswith("ErrorInfo"))
