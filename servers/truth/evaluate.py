"""The record evaluator: a condition's AST compiled once into Python closures and applied
to records (dicts), e.g. a candidate before a placement is recorded.

It means exactly what the SQL of ``sql.py`` means on a dataset row (a test runs both on
the same data): a missing field (or a path through a non-object) is null; a comparison
with null is false; ``x not in L`` is ``not (x in L)``; membership of a required literal
is met by any value that supersedes it (the rule set's ``[supersedes]``). A value of the
wrong type for its comparison raises ``TypeMismatch`` (the SQL compiler refuses the same
rule from the dataset's schema).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lakehouse.servers.truth.parser import (
    And,
    Compare,
    Const,
    Field,
    IsTrue,
    ListLit,
    Lit,
    Member,
    Node,
    Not,
    Or,
    value_kind,
)
from lakehouse.servers.truth.rules import Rule, RuleSet

Record = Mapping[str, Any]
Test = Callable[[Record], bool]
Getter = Callable[[Record], Any]
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class TypeMismatch(Exception):
    """A field's value does not fit the condition (e.g. a number compared with text)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


kind = value_kind  # the name the evaluator's callers use


def lookup(record: Any, path: Sequence[str]) -> Any:
    """The value at ``path`` (None when a step is missing or not an object)."""
    value = record
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def compile_condition(node: Node, rule_set: RuleSet) -> Test:
    return _Compiler(rule_set).node(node)


class _Compiler:
    def __init__(self, rule_set: RuleSet) -> None:
        self._rules = rule_set

    def node(self, node: Node) -> Test:
        if isinstance(node, And):
            parts = [self.node(n) for n in node.operands]
            return lambda r: all(p(r) for p in parts)
        if isinstance(node, Or):
            parts = [self.node(n) for n in node.operands]
            return lambda r: any(p(r) for p in parts)
        if isinstance(node, Not):
            inner = self.node(node.operand)
            return lambda r: not inner(r)
        if isinstance(node, Const):
            value = node.value
            return lambda r: value
        if isinstance(node, IsTrue):
            return self._is_true(node.field)
        if isinstance(node, Compare):
            return self._compare(node)
        return self._member(node)

    def _is_true(self, f: Field) -> Test:
        path, name = f.path, f.name

        def test(r: Record) -> bool:
            value = lookup(r, path)
            if value is None or isinstance(value, bool):
                return bool(value)
            raise TypeMismatch(name, f"{name} is a {kind(value)}, not a boolean")

        return test

    def _compare(self, node: Compare) -> Test:
        left, right, op = node.left, node.right, node.op
        null_test = [s for s in (left, right) if isinstance(s, Lit) and s.value is None]
        if null_test:
            other = right if left in null_test else left
            get = _getter(other)
            return (lambda r: get(r) is None) if op == "=" else (lambda r: get(r) is not None)
        get_l, get_r, fn = _getter(left), _getter(right), _OPS[op]
        name = next((s.name for s in (left, right) if isinstance(s, Field)), "")

        def test(r: Record) -> bool:
            a, b = get_l(r), get_r(r)
            if a is None or b is None:
                return False
            ka, kb = kind(a), kind(b)
            if ka != kb or ka not in ("string", "number", "boolean"):
                raise TypeMismatch(name, f"cannot compare a {ka} with a {kb} ({_shown(node)})")
            if ka == "boolean" and op not in ("=", "!="):
                raise TypeMismatch(name, f"booleans only compare with = or != ({_shown(node)})")
            return fn(a, b)

        return test

    def _member(self, node: Member) -> Test:
        item, container, negated = node.item, node.container, node.negated
        meeting = self._rules.meeting
        if isinstance(container, ListLit):
            allowed = frozenset(v for x in container.items for v in meeting(x))
            kinds = {kind(x) for x in container.items}
            get = _getter(item)
            name = item.name if isinstance(item, Field) else ""

            def in_list(r: Record) -> bool:
                value = get(r)
                if value is None:
                    return False
                k = kind(value)
                if k not in ("string", "number", "boolean") or (kinds and k not in kinds):
                    raise TypeMismatch(name, f"{name} is a {k}, which {_shown(node)} cannot look for")
                return value in allowed

            test = in_list
        else:
            path, name = container.path, container.name
            wanted = meeting(item.value) if isinstance(item, Lit) else None
            item_name = item.name if isinstance(item, Field) else ""
            get_item = _getter(item)

            def in_field(r: Record) -> bool:
                values = lookup(r, path)
                if values is None:
                    return False
                if not isinstance(values, (list, tuple)):
                    raise TypeMismatch(name, f"{name} is a {kind(values)}, not a list ({_shown(node)})")
                looked = wanted if wanted is not None else (get_item(r),)
                if looked[0] is None:
                    return False
                if kind(looked[0]) not in ("string", "number", "boolean"):
                    raise TypeMismatch(item_name, f"{item_name} is a {kind(looked[0])}, not one value ({_shown(node)})")
                for value in values:
                    if value is None:
                        continue
                    if kind(value) != kind(looked[0]):
                        raise TypeMismatch(name, f"{name} holds {kind(value)}s, not {kind(looked[0])}s")
                    if value in looked:
                        return True
                return False

            test = in_field
        return (lambda r: not test(r)) if negated else test


def _getter(operand: Lit | Field) -> Getter:
    if isinstance(operand, Lit):
        value = operand.value
        return lambda r: value
    path = operand.path
    return lambda r: lookup(r, path)


def _shown(node: Compare | Member) -> str:
    def side(x: Any) -> str:
        if isinstance(x, Field):
            return x.name
        if isinstance(x, ListLit):
            return repr(list(x.items))
        return repr(x.value)

    if isinstance(node, Compare):
        return f"{side(node.left)} {node.op} {side(node.right)}"
    return f"{side(node.item)} {'not in' if node.negated else 'in'} {side(node.container)}"


class CompiledRule:
    """A rule's two conditions, compiled: ``applies`` (its when) and ``holds`` (its require)."""

    def __init__(self, rule: Rule, rule_set: RuleSet) -> None:
        self.rule = rule
        self.applies: Test = compile_condition(rule.when, rule_set) if rule.when is not None else (lambda r: True)
        self.holds: Test = compile_condition(rule.require, rule_set)


def compile_rules(rule_set: RuleSet) -> list[CompiledRule]:
    return [CompiledRule(rule, rule_set) for rule in rule_set.rules]
