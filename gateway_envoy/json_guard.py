"""Generate the Lua filter that rejects unknown JSON fields in REST bodies.

Envoy's transcoder drops JSON fields the request message does not define, with
no option to refuse them. The filter (json_guard.lua) runs before it; this module
derives its tables from the same descriptors the transcoder uses: which REST
routes take a JSON body, and which field names (proto and JSON spellings) each
message accepts, recursively. Well-known types and HttpBody are left alone.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

from google.api import annotations_pb2
from google.protobuf.descriptor import Descriptor

from lakehouse.api.errors import ERROR_DOMAIN
from lakehouse.servers.services import SERVICES

LUA_SOURCE = Path(__file__).with_name("json_guard.lua")
OPAQUE_PREFIX = "google.protobuf."  # Struct, Value, Timestamp ... accept what they accept
HTTP_BODY = "google.api.HttpBody"
BODY_METHODS = ("post", "put", "patch")
# Request header the Lua filter sets on requests it answers itself.
GUARD_HEADER = "x-lakehouse-json-guard"
_LUA_MAGIC = re.compile(r"([%^$().\[\]*+\-?])")
_VARIABLE = re.compile(r"\{[^}]*\}")


def _lua_pattern(template: str) -> str:
    parts = _VARIABLE.split(template)
    escaped = [_LUA_MAGIC.sub(r"%\1", p) for p in parts]
    return "^" + "[^/]+".join(escaped) + "$"


def _message_fields(desc: Descriptor, out: dict[str, dict[str, dict]]) -> None:
    if desc.full_name in out or desc.full_name.startswith(OPAQUE_PREFIX):
        return
    fields: dict[str, dict] = {}
    out[desc.full_name] = fields
    for f in desc.fields:
        spec: dict = {}
        target = f.message_type
        if target is not None and target.GetOptions().map_entry:
            spec["map"] = True
            target = target.fields_by_name["value"].message_type
        elif f.is_repeated:
            spec["rep"] = True
        if target is not None and not target.full_name.startswith(OPAQUE_PREFIX):
            spec["msg"] = target.full_name
            _message_fields(target, out)
        fields[f.name] = spec
        fields[f.json_name] = spec


def tables() -> tuple[list[dict], dict[str, dict[str, dict]]]:
    routes: list[dict] = []
    messages: dict[str, dict[str, dict]] = {}
    for svc in SERVICES:
        fd = importlib.import_module(svc.pb2_module).DESCRIPTOR
        service = fd.services_by_name[svc.full_name.rsplit(".", 1)[1]]
        for method in service.methods:
            rule = method.GetOptions().Extensions[annotations_pb2.http]
            verb = rule.WhichOneof("pattern")
            if verb not in BODY_METHODS or not rule.body:
                continue
            if rule.body == "*":
                target = method.input_type
            else:
                target = method.input_type.fields_by_name[rule.body].message_type
                if target is None or target.full_name == HTTP_BODY:
                    continue
            routes.append(
                {
                    "method": verb.upper(),
                    "pattern": _lua_pattern(getattr(rule, verb)),
                    "message": target.full_name,
                }
            )
            _message_fields(target, messages)
    return routes, messages


def _lua_literal(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{json.dumps(k)}] = {_lua_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(_lua_literal(v) for v in value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def lua_code(max_json_depth: int) -> str:
    routes, messages = tables()
    header = (
        f"GUARD_HEADER = {json.dumps(GUARD_HEADER)}\nERROR_DOMAIN = {json.dumps(ERROR_DOMAIN)}\n"
        f"MAX_JSON_DEPTH = {int(max_json_depth)}\n"
        f"ROUTES = {_lua_literal(routes)}\nMESSAGES = {_lua_literal(messages)}\n"
    )
    return header + LUA_SOURCE.read_text()
