"""``when``: whether a node runs, decided on upstream outputs and inputs (Archon's grammar).

    $classify.output == 'BUG'
    $score.output.value >= 0.8 && $INPUTS.mode != 'fast'
    $a.output.ok == true || $b.output.count > 0

An atom compares one reference with a literal: a quoted string, a number, ``true``,
``false`` or ``null``. ``==`` and ``!=`` compare texts (a number or boolean output as its
JSON text; two numbers numerically); ``<``, ``<=``, ``>``, ``>=`` need two numbers and are
false otherwise. ``&&`` binds tighter than ``||``; there are no parentheses. A condition
that does not parse is refused when the workflow is loaded (Archon skips such a node at run
time); a reference that cannot be resolved fails the node, it never reads as false.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from lakehouse.servers.workflows.refs import _REF, Ref, Resolve, _ref, text_of

_OPS = ("==", "!=", ">=", "<=", ">", "<")
_ATOM = re.compile(rf"\s*(?P<ref>{_REF.pattern})\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<literal>.+?)\s*\Z")
_QUOTED = re.compile(r"'(?P<single>[^']*)'\Z|\"(?P<double>[^\"]*)\"\Z")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\Z")


class ConditionSyntax(ValueError):
    """A ``when`` that does not parse."""


@dataclass(frozen=True)
class Atom:
    ref: Ref
    op: str
    expected: str  # the literal's text (a quoted string without its quotes)


@dataclass(frozen=True)
class Condition:
    text: str
    clauses: tuple[tuple[Atom, ...], ...]  # OR of ANDs

    @property
    def refs(self) -> list[Ref]:
        return [a.ref for clause in self.clauses for a in clause]

    def holds(self, resolve: Resolve) -> bool:
        return any(all(_holds(a, resolve(a.ref)) for a in clause) for clause in self.clauses)


def _split(text: str, sep: str) -> list[str]:
    """``text`` split on ``sep`` outside quotes."""
    parts, current, quote, i = [], [], "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif text.startswith(sep, i):
            parts.append("".join(current))
            current, i = [], i + len(sep)
            continue
        current.append(ch)
        i += 1
    if quote:
        raise ConditionSyntax(f"unterminated quote in {text!r}")
    parts.append("".join(current))
    return parts


def _literal(raw: str) -> str:
    quoted = _QUOTED.match(raw)
    if quoted:
        return quoted.group("single") if quoted.group("single") is not None else quoted.group("double")
    if raw in ("true", "false", "null") or _NUMBER.match(raw):
        return raw
    raise ConditionSyntax(f"{raw!r} is not a literal: quote a string ('text'), or write a number, true, false or null")


def parse(text: str) -> Condition:
    clauses = []
    for alternative in _split(text, "||"):
        atoms = []
        for part in _split(alternative, "&&"):
            m = _ATOM.match(part)
            if m is None:
                raise ConditionSyntax(
                    f"{part.strip()!r} is not '<$node.output[.field] or $INPUTS.name> <{' '.join(_OPS)}> <literal>'"
                )
            atoms.append(Atom(_ref(_REF.match(m.group("ref"))), m.group("op"), _literal(m.group("literal"))))
        clauses.append(tuple(atoms))
    return Condition(text, tuple(clauses))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return None


def _holds(atom: Atom, actual: Any) -> bool:
    left, right = _number(actual), _number(atom.expected)
    if atom.op in ("==", "!="):
        if left is not None and right is not None:
            equal = left == right
        else:
            equal = text_of(actual) == atom.expected if actual is not None else atom.expected == "null"
        return equal if atom.op == "==" else not equal
    if left is None or right is None:
        return False
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[atom.op]
