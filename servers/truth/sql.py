"""The dataset evaluator: a rule set compiled, against a dataset's Arrow schema, into one
DuckDB statement that counts every rule and lists its first violations.

It means what ``evaluate.py`` means on a record: every comparison is wrapped in
``COALESCE(..., FALSE)`` so a null makes it false (two-valued logic, as in Python);
membership in a list column is ``list_contains`` / ``list_has_any`` with the values that
meet the required one (supersession); a struct column's fields are reached with
``struct_extract``. Names are quoted (``servers/sql.py``) and literals rendered from
their parsed values, never pasted from the condition's text. Fields are resolved here,
so a rule naming a column the dataset lacks, or comparing it with the wrong type, is
refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from lakehouse.servers.sql import quote_ident, string_literal
from lakehouse.servers.truth.evaluate import TypeMismatch
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
from lakehouse.servers.truth.rules import RuleSet

SCALARS = ("string", "number", "boolean")
_SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class Misfit(Exception):
    """A rule (``rule``: its id; "" for the key) that does not fit the dataset: ``error`` is
    an UnknownColumn, UnsupportedType or TypeMismatch."""

    def __init__(self, rule: str, error: Exception) -> None:
        super().__init__(str(error))
        self.rule = rule
        self.error = error


class UnknownColumn(Exception):
    def __init__(self, field: str, available: Sequence[str]) -> None:
        super().__init__(field)
        self.field = field
        self.available = list(available)


class UnsupportedType(Exception):
    def __init__(self, field: str, type_: pa.DataType) -> None:
        super().__init__(field)
        self.field = field
        self.type = type_


def family(type_: pa.DataType) -> str:
    """string, number, boolean, null, list:<scalar>, struct, or "" (not usable in a rule)."""
    if pa.types.is_dictionary(type_):
        return family(type_.value_type)
    if pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_string_view(type_):
        return "string"
    if pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return "number"
    if pa.types.is_boolean(type_):
        return "boolean"
    if pa.types.is_null(type_):
        return "null"
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_list_view(type_):
        inner = family(type_.value_type)
        return f"list:{inner}" if inner in SCALARS else ""
    if pa.types.is_struct(type_):
        return "struct"
    return ""


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return string_literal(str(value))


@dataclass(frozen=True)
class Expr:
    sql: str
    family: str
    name: str = ""  # the field's path, for messages ("" for a literal)


class SqlCompiler:
    """Conditions of ``rule_set`` as SQL over a table with ``schema``."""

    def __init__(self, rule_set: RuleSet, schema: pa.Schema) -> None:
        self._rules = rule_set
        self._schema = schema

    def field(self, f: Field | Sequence[str], *, null_test: bool = False) -> Expr:
        """The field's SQL and type family; ``null_test``: a struct is allowed (``x = null``)."""
        path = tuple(f.path) if isinstance(f, Field) else tuple(f)
        name = ".".join(path)
        if path[0] not in self._schema.names:
            raise UnknownColumn(name, self._schema.names)
        type_ = self._schema.field(path[0]).type
        sql = quote_ident(path[0])
        for depth, part in enumerate(path[1:], start=1):
            if not pa.types.is_struct(type_):
                raise TypeMismatch(name, f"{'.'.join(path[:depth])} is not a struct: it has no field {part!r}")
            index = type_.get_field_index(part)
            if index < 0:
                raise UnknownColumn(name, [f"{'.'.join(path[:depth])}.{c.name}" for c in type_])
            type_ = type_.field(index).type
            sql = f"struct_extract({sql}, {string_literal(part)})"
        kind = family(type_)
        if not kind or (kind == "struct" and not null_test):
            raise UnsupportedType(name, type_)
        return Expr(sql, kind, name)

    def operand(self, x: Lit | Field) -> Expr:
        if isinstance(x, Field):
            return self.field(x)
        return Expr(literal(x.value), value_kind(x.value))

    def condition(self, node: Node) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.condition(n) for n in node.operands) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.condition(n) for n in node.operands) + ")"
        if isinstance(node, Not):
            return f"(NOT {self.condition(node.operand)})"
        if isinstance(node, Const):
            return "TRUE" if node.value else "FALSE"
        if isinstance(node, IsTrue):
            e = self.field(node.field)
            if e.family not in ("boolean", "null"):
                raise TypeMismatch(e.name, f"{e.name} is a {e.family} column, not a boolean")
            return f"COALESCE({e.sql}, FALSE)"
        if isinstance(node, Compare):
            return self._compare(node)
        return self._member(node)

    def _compare(self, node: Compare) -> str:
        nulls = [s for s in (node.left, node.right) if isinstance(s, Lit) and s.value is None]
        if nulls:  # x = null, x != null: a test for a missing value
            side = node.right if node.left is nulls[0] else node.left
            other = self.field(side, null_test=True) if isinstance(side, Field) else self.operand(side)
            return f"({other.sql} IS {'NOT ' if node.op == '!=' else ''}NULL)"
        left, right = self.operand(node.left), self.operand(node.right)
        name = left.name or right.name
        families = {left.family, right.family} - {"null"}
        if len(families) > 1 or not families <= set(SCALARS):
            a, b = left.family.replace("list:", "list of "), right.family.replace("list:", "list of ")
            raise TypeMismatch(name, f"cannot compare a {a} with a {b} ({name})")
        if families == {"boolean"} and node.op not in ("=", "!="):
            raise TypeMismatch(name, f"booleans only compare with = or != ({name})")
        return f"COALESCE(({left.sql} {_SQL_OPS[node.op]} {right.sql}), FALSE)"

    def _member(self, node: Member) -> str:
        meeting = self._rules.meeting
        item = self.operand(node.item)
        if isinstance(node.container, ListLit):
            values = list(dict.fromkeys(v for x in node.container.items for v in meeting(x)))
            kinds = {value_kind(v) for v in node.container.items}
            if item.family not in (*SCALARS, "null") or (kinds and item.family != "null" and item.family not in kinds):
                raise TypeMismatch(item.name, f"{item.name} is a {item.family} column: it cannot be in this list")
            sql = f"COALESCE({item.sql} IN ({', '.join(literal(v) for v in values)}), FALSE)" if values else "FALSE"
        else:
            container = self.field(node.container)
            if container.family == "null":
                sql = "FALSE"
            elif not container.family.startswith("list:"):
                raise TypeMismatch(container.name, f"{container.name} is a {container.family} column, not a list")
            else:
                inner = container.family.removeprefix("list:")
                if item.family not in (inner, "null"):
                    raise TypeMismatch(container.name, f"{container.name} holds {inner}s, not {item.family}s")
                if isinstance(node.item, Lit):
                    wanted = ", ".join(literal(v) for v in meeting(node.item.value))
                    sql = f"COALESCE(list_has_any({container.sql}, [{wanted}]), FALSE)"
                else:
                    sql = f"COALESCE(list_contains({container.sql}, {item.sql}), FALSE)"
        return f"(NOT {sql})" if node.negated else sql


@dataclass(frozen=True)
class CheckSql:
    sql: str
    keyed: bool  # False: rows are keyed by their position


def check_sql(rule_set: RuleSet, schema: pa.Schema, dataset: str, key: str, limit: int) -> CheckSql:
    """One statement (one snapshot of the dataset, scanned once) returning, on every row,
    ``records`` and ``a<i>``/``v<i>`` (rule i's applicable and violation counts), and
    ``rule``/``k`` (one violation: the rule's index and the row's key; NULL when there is
    none), at most ``limit`` violations ordered by rule then key. Raises Misfit for a rule
    (or the key) that does not fit the schema."""
    compiler = SqlCompiler(rule_set, schema)
    flags: list[str] = []
    for i, rule in enumerate(rule_set.rules):
        try:
            when = compiler.condition(rule.when) if rule.when is not None else "TRUE"
            flags.append(f"{when} AS a{i}, ({when} AND NOT {compiler.condition(rule.require)}) AS v{i}")
        except (UnknownColumn, UnsupportedType, TypeMismatch) as exc:
            raise Misfit(rule.id, exc) from None
    if key:
        try:
            key_sql = compiler.field(key.split(".")).sql
        except (UnknownColumn, UnsupportedType, TypeMismatch) as exc:
            raise Misfit("", exc) from None
    else:
        key_sql = "row_number() OVER () - 1"
    n = len(rule_set.rules)
    counts = ", ".join(f"count(*) FILTER (WHERE a{i}) AS a{i}, count(*) FILTER (WHERE v{i}) AS v{i}" for i in range(n))
    branches = " UNION ALL ".join(f"SELECT {i} AS rule, k FROM f WHERE v{i}" for i in range(n))
    sql = (
        # The per-row flags once (materialized: the counts and the violations both read them).
        f"WITH f AS MATERIALIZED (SELECT {key_sql} AS k, {', '.join(flags)} FROM {quote_ident(dataset)}), "
        f"c AS (SELECT count(*) AS records, {counts} FROM f), "
        f"v AS (SELECT rule, k FROM ({branches}) ORDER BY rule, k LIMIT {int(limit)}) "
        "SELECT c.*, v.rule, CAST(v.k AS VARCHAR) AS k FROM c LEFT JOIN v ON TRUE ORDER BY v.rule, v.k"
    )
    return CheckSql(sql, bool(key))
