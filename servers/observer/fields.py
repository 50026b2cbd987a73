"""Key fields of a request or response as an op's attributes: short strings, never secrets,
never whole payloads.

The extraction is generic (no per-method table to keep in step with the protos): the
top-level fields of the message that hold a value, each by a kind chosen once per message
type from its descriptor —

* a string: its value, cut to ``max_chars``;
* a number, bool or enum (by name): its value;
* a repeated string: the first values joined by commas, cut the same way;
* any other repeated field (messages, numbers, a vector): its length;
* bytes, maps, nested messages: nothing (the request's size covers bytes; nested
  messages are structure, e.g. a filter, not a key field).

A response adds only what the request did not say, and no strings (its counts and flags:
rows, truncated, version ...; a response's strings are results, not keys). A field whose
name matches the secret pattern (password, token, api_key ...) is not in the plan at all,
so its value is never read. At most ``max_count`` attributes per op.

The plan is a tuple of (name, kind) read with ``getattr``: a default value (0, "", empty)
is falsy and skipped, which is what "set" means for proto3 fields, at the cost of one
attribute read per planned field (``ListFields`` builds a descriptor pair per set field,
several times slower on the small messages most calls carry).
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

ELLIPSIS = "…"
# Repeated strings: at most this many values are joined (then the count of the rest).
JOINED_VALUES = 8

# Kinds of planned fields.
_STRING, _NUMBER, _FLOAT, _BOOL, _ENUM, _JOINED, _COUNT = range(7)
_FLOATS = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)
_SKIPPED = (FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_GROUP)

Plan = tuple[tuple[str, int, Any], ...]


class FieldSummaries:
    """Attributes of messages, by a plan built once per message type and side (thread-safe:
    a race builds the same plan twice)."""

    def __init__(self, secret_pattern: str, max_count: int, max_chars: int) -> None:
        self._secret = re.compile(secret_pattern, re.IGNORECASE)
        self._max_count = max_count
        self._max_chars = max_chars
        self._plans: tuple[dict[type, Plan], dict[type, Plan]] = ({}, {})  # requests, responses

    def add(self, message: Any, into: dict[str, str], response: bool = False) -> None:
        """Add the key fields of ``message`` that ``into`` does not hold yet."""
        plans = self._plans[response]
        plan = plans.get(type(message))
        if plan is None:
            plan = plans[type(message)] = self._plan(message.DESCRIPTOR, response)
        limit, chars = self._max_count, self._max_chars
        for name, kind, names in plan:
            value = getattr(message, name)
            if not value or name in into:
                continue
            if len(into) >= limit:
                return
            if kind == _STRING:
                into[name] = value if len(value) <= chars else value[: chars - 1] + ELLIPSIS
            elif kind == _NUMBER:
                into[name] = str(value)
            elif kind == _COUNT:
                into[name] = str(len(value))
            elif kind == _BOOL:
                into[name] = "true"
            elif kind == _ENUM:
                into[name] = names.get(value, str(value))
            elif kind == _FLOAT:
                into[name] = f"{value:g}"
            else:
                text = _joined(value)
                into[name] = text if len(text) <= chars else text[: chars - 1] + ELLIPSIS

    def _plan(self, descriptor: Any, response: bool) -> Plan:
        plan = []
        for fd in descriptor.fields:
            if self._secret.search(fd.name):
                continue
            kind = _kind(fd, response)
            if kind is not None:
                names = {v.number: v.name for v in fd.enum_type.values} if kind == _ENUM else None
                plan.append((fd.name, kind, names))
        return tuple(plan)


def _kind(fd: FieldDescriptor, response: bool) -> int | None:
    if fd.type in _SKIPPED:
        return None
    if _repeated(fd):
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            return None
        return _JOINED if fd.type == FieldDescriptor.TYPE_STRING and not response else _COUNT
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        return None
    if fd.type == FieldDescriptor.TYPE_STRING:
        return None if response else _STRING
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return _BOOL
    if fd.type == FieldDescriptor.TYPE_ENUM:
        return _ENUM
    return _FLOAT if fd.type in _FLOATS else _NUMBER


def _repeated(fd: FieldDescriptor) -> bool:
    flag = getattr(fd, "is_repeated", None)  # protobuf >= 5.29; ``label`` is deprecated there
    if flag is not None:
        return bool(flag)
    return fd.label == FieldDescriptor.LABEL_REPEATED


def _joined(values: Any) -> str:
    n = len(values)
    head = ",".join(values[:JOINED_VALUES])
    return head if n <= JOINED_VALUES else f"{head},{ELLIPSIS}(+{n - JOINED_VALUES})"
