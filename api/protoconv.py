"""Conversions between plain Python values and well-known protobuf types, shared by
every servicer and client adapter."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2

from lakehouse.api.errors import EMPTY_INPUT, InvalidArgument


def timestamp(dt: datetime) -> timestamp_pb2.Timestamp:
    """A Timestamp for ``dt``; aware datetimes are converted to UTC first."""
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt.astimezone(UTC) if dt.tzinfo else dt)
    return ts


def opened_upload(messages: Iterator[Any]) -> tuple[Any, Iterator[bytes]]:
    """The first message of an upload stream (it names what is uploaded) and the bytes of
    every message's ``body``, that one's included; an empty stream is refused."""
    first = next(messages, None)
    if first is None:
        raise InvalidArgument("the upload stream had no messages", reason=EMPTY_INPUT)
    chunks = (m.body.data for m in itertools.chain([first], messages))
    return first, (data for data in chunks if data)
