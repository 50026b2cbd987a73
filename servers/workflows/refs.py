"""References inside prompts, ``with`` values and ``when`` conditions.

* ``$<node>.output``: the node's output (a prompt's text, or the output object);
* ``$<node>.output.<field>[.<field>...]``: a field of it (a number indexes a list);
* ``$INPUTS.<name>``: a workflow input.

A string that is exactly one reference takes the referenced value as it is (an object
stays an object, a number a number); a reference inside a longer string is replaced by its
text (strings as they are, anything else as JSON). Nothing resolves to an empty string
silently: an unresolvable reference raises ``MissingOutput`` (Archon's "no silent drop").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
INPUTS = "INPUTS"
_REF = re.compile(rf"\$(?:{INPUTS}\.(?P<input>{NAME})|(?P<node>{NAME})\.output(?P<path>(?:\.[A-Za-z0-9_]+)*))")
ID_PATTERN = re.compile(rf"{NAME}\Z")


@dataclass(frozen=True)
class Ref:
    text: str  # as written
    node: str | None = None
    path: tuple[str, ...] = ()
    input: str | None = None

    @property
    def field(self) -> str:
        return ".".join(self.path)


class MissingOutput(Exception):
    """A reference that cannot be resolved at run time (the node fails OUTPUT_MISSING)."""


def _ref(m: re.Match[str]) -> Ref:
    if m.group("input"):
        return Ref(m.group(0), input=m.group("input"))
    path = tuple(p for p in m.group("path").split(".") if p)
    return Ref(m.group(0), node=m.group("node"), path=path)


def refs_in_text(text: str) -> Iterator[Ref]:
    for m in _REF.finditer(text):
        yield _ref(m)


def refs_in(value: Any) -> Iterator[Ref]:
    """Every reference in the strings of a value (object keys are never references)."""
    if isinstance(value, str):
        yield from refs_in_text(value)
    elif isinstance(value, dict):
        for v in value.values():
            yield from refs_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from refs_in(v)


def has_refs(value: Any) -> bool:
    return next(refs_in(value), None) is not None


def whole_ref(text: str) -> Ref | None:
    """The reference a string is, when it is exactly one."""
    m = _REF.fullmatch(text.strip())
    return _ref(m) if m else None


def text_of(value: Any) -> str:
    """The text a value has inside a longer string (and in a condition's comparison)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


Resolve = Callable[[Ref], Any]


def substitute(value: Any, resolve: Resolve) -> Any:
    """``value`` with every reference replaced (see the module docstring)."""
    if isinstance(value, str):
        if "$" not in value:
            return value
        whole = whole_ref(value)
        if whole is not None:
            return resolve(whole)
        return _REF.sub(lambda m: text_of(resolve(_ref(m))), value)
    if isinstance(value, dict):
        return {k: substitute(v, resolve) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, resolve) for v in value]
    return value


def walk(value: Any, ref: Ref) -> Any:
    """The field ``ref.path`` names inside a node's output."""
    current = value
    for depth, part in enumerate(ref.path):
        where = ".".join(("output", *ref.path[:depth]))
        if isinstance(current, dict):
            if part not in current:
                keys = ", ".join(sorted(current)[:12]) or "none"
                raise MissingOutput(f"{ref.text}: {where} of node {ref.node!r} has no field {part!r} (it has: {keys})")
            current = current[part]
        elif isinstance(current, list):
            if not part.isdigit() or int(part) >= len(current):
                raise MissingOutput(
                    f"{ref.text}: {where} of node {ref.node!r} is a list of {len(current)};"
                    f" {part!r} is not an index in it"
                )
            current = current[int(part)]
        else:
            kind = "null" if current is None else type(current).__name__
            raise MissingOutput(f"{ref.text}: {where} of node {ref.node!r} is {kind}, it has no field {part!r}")
    return current
