"""Conversions between plain Python values and well-known protobuf types, shared by
every servicer and client adapter."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2


def timestamp(dt: datetime) -> timestamp_pb2.Timestamp:
    """A Timestamp for ``dt``; aware datetimes are converted to UTC first."""
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt.astimezone(UTC) if dt.tzinfo else dt)
    return ts
