"""Property-based REST requests, shaped by the proto descriptors Envoy transcodes.

Every RPC with a ``google.api.http`` rule becomes a ``RestMethod``; ``requests``
draws an HTTP request for one of them: path variables, query parameters and a
JSON (or raw) body built from the request message's fields, then mutated the
ways real clients get it wrong: invalid UTF-8, deep nesting, huge numbers, wrong
types, unknown fields, garbage bodies. The property the callers check is the
gateway's promise: no request, however malformed, gets a 5xx.
"""

from __future__ import annotations

import base64
import importlib
import json
import re
from dataclasses import dataclass
from urllib.parse import quote

from google.api import annotations_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import strategies as st

from lakehouse.servers.services import SERVICES

_VARIABLE = re.compile(r"\{([a-z_][a-z0-9_.]*)(?:=[^}]*)?\}")
# How deep generated messages and JSON values nest (before the deliberate deep-nesting mutation).
MAX_MESSAGE_DEPTH = 3
# The deep-nesting mutation goes past protobuf's and the transcoder's recursion limits.
DEEP_NESTING = (60, 90, 120, 300)
HUGE_NUMBERS = (2**31, 2**53 + 1, 2**63, 2**64, 2**70, -(2**63) - 1, 1e308, -1e308, 1e-320)
NASTY_STRINGS = (
    "",
    "..",
    "../../etc/passwd",
    "/etc/passwd",
    "a" * 300,
    "x" * 5000,
    "\x00",
    "\u202e\ufeff",
    "💥" * 8,
    "NaN",
    "-Infinity",
    "1e400",
    "SELECT 1",
    "datasets/x/v1/part-0.parquet",
    "%FF",
)
# Percent-encoded path and query values that are not UTF-8 once decoded.
INVALID_UTF8_ENCODED = ("%FF", "%C3%28", "%ED%A0%80", "a%80b", "%F8%88%80%80%80", "%00")
INVALID_UTF8_BYTES = (b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x80abc", b'{"a": "\xff"}')
DURATIONS = ("1s", "0.5s", "-5s", "0s", "315576000001s", "1e9s", "s", "10", "1.000000001s")
TIMESTAMPS = ("2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "yesterday", "")
CONTENT_TYPES = ("text/csv", "application/json", "application/octet-stream", "", "multipart/form-data; boundary=x")


@dataclass(frozen=True)
class RestMethod:
    service: str
    name: str
    verb: str
    template: str
    body: str  # "" (none), "*" (the whole message), or a field name (e.g. the raw HttpBody)
    request: Descriptor

    def __repr__(self) -> str:
        return f"RestMethod({self})"

    @property
    def variables(self) -> list[str]:
        return _VARIABLE.findall(self.template)

    def __str__(self) -> str:
        return f"{self.service}.{self.name} {self.verb.upper()} {self.template}"


# Streams that follow until the caller hangs up: a valid request never ends, which is not a hang.
ENDLESS = frozenset({"ObserverService.TailOps"})


def rest_methods() -> list[RestMethod]:
    """Every REST binding of every Lakehouse service (additional_bindings included)."""
    found: list[RestMethod] = []
    for spec in SERVICES:
        module = importlib.import_module(spec.pb2_module)
        service = module.DESCRIPTOR.services_by_name[spec.full_name.rsplit(".", 1)[-1]]
        for method in service.methods:
            options = method.GetOptions()
            if not options.HasExtension(annotations_pb2.http) or f"{service.name}.{method.name}" in ENDLESS:
                continue
            rule = options.Extensions[annotations_pb2.http]
            for binding in (rule, *rule.additional_bindings):
                verb = binding.WhichOneof("pattern")
                if verb is None or verb == "custom":
                    continue
                found.append(
                    RestMethod(
                        service=service.name,
                        name=method.name,
                        verb=verb,
                        template=getattr(binding, verb),
                        body=binding.body,
                        request=method.input_type,
                    )
                )
    return found


# Values --------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


def _deep(depth: int, as_list: bool) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value] if as_list else {"k": value}
    return value


deep_values = st.builds(_deep, st.sampled_from(DEEP_NESTING), st.booleans())

strings = st.one_of(
    st.text(max_size=40), st.sampled_from(NASTY_STRINGS), st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
)
integers = st.one_of(
    st.integers(min_value=-5, max_value=100),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([n for n in HUGE_NUMBERS if isinstance(n, int)]),
    st.sampled_from(["12", "-1", "1e3", "9223372036854775808", "abc"]),
)
floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["NaN", "Infinity", "-Infinity", 1e308, "1e999"]),
)
_WELL_KNOWN = {
    "google.protobuf.Duration": st.sampled_from(DURATIONS),
    "google.protobuf.Timestamp": st.sampled_from(TIMESTAMPS),
    "google.protobuf.Struct": st.one_of(st.dictionaries(st.text(max_size=8), json_values, max_size=4), deep_values),
    "google.protobuf.Value": st.one_of(json_values, deep_values),
    "google.protobuf.ListValue": st.lists(json_values, max_size=4),
    "google.protobuf.Empty": st.just({}),
    "google.api.HttpBody": st.fixed_dictionaries(
        {
            "content_type": st.sampled_from(CONTENT_TYPES),
            "data": st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
        }
    ),
}
_INTEGER_TYPES = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
}


def _is_repeated(field: FieldDescriptor) -> bool:
    return field.is_repeated


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def field_value(field: FieldDescriptor, depth: int) -> st.SearchStrategy:
    """A JSON value for ``field``: mostly the right shape, sometimes the wrong type."""
    if _is_map(field):
        value_field = field.message_type.fields_by_name["value"]
        right = st.dictionaries(strings, _single(value_field, depth + 1), max_size=3)
    elif _is_repeated(field):
        right = st.lists(_single(field, depth + 1), max_size=3)
    else:
        right = _single(field, depth)
    return st.one_of(right, right, right, json_values)


def _single(field: FieldDescriptor, depth: int) -> st.SearchStrategy:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return strings
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.one_of(st.binary(max_size=32).map(lambda b: base64.b64encode(b).decode()), strings)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.one_of(st.booleans(), st.sampled_from(["true", "yes", 1]))
    if kind in _INTEGER_TYPES:
        return integers
    if kind in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return floats
    if kind == FieldDescriptor.TYPE_ENUM:
        names = [v.name for v in field.enum_type.values]
        return st.one_of(st.sampled_from(names), st.integers(min_value=-1, max_value=99), strings)
    message = field.message_type
    if message.full_name in _WELL_KNOWN:
        return _WELL_KNOWN[message.full_name]
    if depth >= MAX_MESSAGE_DEPTH:
        return st.just({})
    return message_value(message, depth + 1)


def message_value(message: Descriptor, depth: int = 0, skip: frozenset[str] = frozenset()) -> st.SearchStrategy:
    """A JSON object for ``message``: a random subset of its fields, plus the odd unknown one."""
    fields = [f for f in message.fields if f.name not in skip]
    known = st.fixed_dictionaries(
        {}, optional={f.json_name if depth % 2 else f.name: field_value(f, depth) for f in fields}
    )
    unknown = st.dictionaries(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), json_values, max_size=1)
    return st.one_of(known, known, known, st.tuples(known, unknown).map(lambda kv: {**kv[1], **kv[0]}))


# Requests ------------------------------------------------------------------


@dataclass(frozen=True)
class FuzzRequest:
    method: RestMethod
    verb: str
    path: str
    content: bytes
    content_type: str

    def describe(self) -> str:
        return f"{self.verb} {self.path} [{self.content_type}] {self.content[:300]!r}"


path_values = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).map(lambda s: quote(s, safe="")),
    st.text(min_size=1, max_size=40).map(lambda s: quote(s, safe="")),
    st.sampled_from(NASTY_STRINGS[1:]).map(lambda s: quote(s, safe="")),
    st.sampled_from(INVALID_UTF8_ENCODED),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def _query_value(field: FieldDescriptor) -> st.SearchStrategy:
    if field.message_type is not None and field.message_type.full_name == "google.protobuf.Duration":
        plain = st.sampled_from(DURATIONS)
    elif field.type in _INTEGER_TYPES:
        plain = integers.map(str)
    elif field.type == FieldDescriptor.TYPE_BOOL:
        plain = st.sampled_from(["true", "false", "1", "maybe"])
    else:
        plain = strings
    return st.one_of(plain.map(lambda v: quote(str(v), safe="")), st.sampled_from(INVALID_UTF8_ENCODED))


def _query_fields(method: RestMethod) -> list[FieldDescriptor]:
    bound = set(method.variables) | ({method.body} if method.body not in ("", "*") else set())
    if method.body == "*":
        return []
    return [
        f
        for f in method.request.fields
        if f.name not in bound
        and (f.message_type is None or f.message_type.full_name == "google.protobuf.Duration")
        and not _is_map(f)
    ]


@st.composite
def requests(draw: st.DrawFn, methods: list[RestMethod]) -> FuzzRequest:
    method = draw(st.sampled_from(methods))
    path = method.template
    for _ in method.variables:
        value = draw(path_values)
        path = _VARIABLE.sub(lambda _match, v=value: v, path, count=1)
    params = [
        f"{f.name}={draw(_query_value(f))}"
        for f in _query_fields(method)
        if draw(st.integers(min_value=0, max_value=3)) == 0
    ]
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        params.append(f"{draw(st.from_regex(r'[a-z_]{1,8}', fullmatch=True))}=1")
    if params:
        path += "?" + "&".join(params)
    content, content_type = b"", ""
    if method.body == "*":
        content_type = "application/json"
        content = draw(_json_body(method))
    elif method.body:
        content_type = draw(st.sampled_from(CONTENT_TYPES))
        content = draw(st.one_of(st.binary(max_size=256), st.sampled_from(INVALID_UTF8_BYTES), st.just(b"a,b\n1,2\n")))
    verb = method.verb.upper()
    return FuzzRequest(method, verb, path, content, content_type)


def _json_body(method: RestMethod) -> st.SearchStrategy[bytes]:
    bound = frozenset(method.variables)
    well_formed = message_value(method.request, skip=bound).map(lambda v: json.dumps(v).encode())
    return st.one_of(
        well_formed,
        well_formed,
        well_formed,
        json_values.map(lambda v: json.dumps(v).encode()),
        deep_values.map(lambda v: json.dumps(v).encode()),
        st.sampled_from(INVALID_UTF8_BYTES),
        st.binary(max_size=64),
        st.sampled_from([json.dumps({"x": n}).encode() for n in HUGE_NUMBERS]),
    )
