"""The truth condition language: a recursive-descent parser from tokens (``lexer.py``) to
an AST that both evaluators read (``evaluate.py`` on a record, ``sql.py`` as DuckDB SQL).
Nothing is ever ``eval``-ed.

Grammar (loosest binding first)::

    condition := or END
    or        := and ("or" and)*
    and       := unary ("and" unary)*
    unary     := "not" unary | "(" or ")" | predicate
    predicate := operand [ ("=" | "!=" | "<" | "<=" | ">" | ">=") operand
                         | "in" operand | "not" "in" operand | "contains" operand ]
    operand   := field | literal | list
    field     := name ("." name)*          a path into nested objects / struct columns
    literal   := string | number | true | false | null
    list      := "[" [literal ("," literal)*] "]"   (one type: strings, numbers or booleans)

Meaning: ``x in L`` / ``L contains x`` hold when ``L`` (a list field or a list literal)
has ``x``; ``x = null`` / ``x != null`` test for a missing value; any other comparison
with a missing value is false (so ``not (x = 1)`` is true when x is missing). A bare
field is a condition when it is a boolean (``available and not on_leave``). Compare
strings with strings, numbers with numbers, booleans with ``=``/``!=`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lakehouse.servers.truth.lexer import (
    END,
    IDENT,
    KEYWORD,
    NUMBER,
    OP,
    PUNCT,
    STRING,
    ConditionError,
    Token,
    tokenize,
)

ORDERING = frozenset({"<", "<=", ">", ">="})


@dataclass(frozen=True)
class Lit:
    value: Any  # None, bool, int, float or str
    offset: int


@dataclass(frozen=True)
class ListLit:
    items: tuple[Any, ...]
    offset: int


@dataclass(frozen=True)
class Field:
    path: tuple[str, ...]
    offset: int

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Compare:
    op: str
    left: Lit | Field
    right: Lit | Field
    offset: int  # the operator's


@dataclass(frozen=True)
class Member:
    """``item in container`` (``container contains item``); ``negated`` for ``not in``."""

    item: Lit | Field
    container: ListLit | Field
    negated: bool
    offset: int


@dataclass(frozen=True)
class IsTrue:
    """A bare boolean field used as a condition."""

    field: Field


@dataclass(frozen=True)
class Const:
    """``true`` or ``false`` as a whole condition."""

    value: bool


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Compare | Member | IsTrue | Const | Not | And | Or
Operand = Lit | ListLit | Field


def fields(node: Node) -> list[Field]:
    """Every field the condition reads, in order of appearance."""
    return sorted(_fields(node), key=lambda f: f.offset)


def _fields(node: Node) -> list[Field]:
    if isinstance(node, (And, Or)):
        return [f for n in node.operands for f in _fields(n)]
    if isinstance(node, Not):
        return _fields(node.operand)
    if isinstance(node, IsTrue):
        return [node.field]
    if isinstance(node, Compare):
        return [x for x in (node.left, node.right) if isinstance(x, Field)]
    if isinstance(node, Member):
        return [x for x in (node.item, node.container) if isinstance(x, Field)]
    return []


def parse(text: str, max_depth: int = 64) -> Node:
    """The AST of ``text``; a ConditionError (message, offset) when it is not a condition."""
    return _Parser(tokenize(text), max_depth).condition()


def value_kind(value: Any) -> str:
    """The type family a value is compared within (literals, record values, SQL operands)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


class _Parser:
    def __init__(self, tokens: list[Token], max_depth: int) -> None:
        self._tokens = tokens
        self._i = 0
        self._depth = 0
        self._max_depth = max_depth

    # Token helpers ----------------------------------------------------------------------

    @property
    def _tok(self) -> Token:
        return self._tokens[self._i]

    def _next(self) -> Token:
        tok = self._tokens[self._i]
        self._i += 1
        return tok

    def _is(self, kind: str, value: Any = None) -> bool:
        tok = self._tok
        return tok.kind == kind and (value is None or tok.value == value)

    def _expect(self, kind: str, value: Any, what: str) -> Token:
        if not self._is(kind, value):
            raise ConditionError(f"expected {what}, found {_shown(self._tok)}", self._tok.offset)
        return self._next()

    def _deeper(self, offset: int) -> None:
        self._depth += 1
        if self._depth > self._max_depth:
            raise ConditionError(f"nested more than {self._max_depth} levels deep", offset)

    # Grammar ----------------------------------------------------------------------------

    def condition(self) -> Node:
        if self._is(END):
            raise ConditionError("empty condition", 0)
        node = self._or()
        if not self._is(END):
            raise ConditionError(f"expected and, or or the end, found {_shown(self._tok)}", self._tok.offset)
        return node

    def _or(self) -> Node:
        items = [self._and()]
        while self._is(KEYWORD, "or"):
            self._next()
            items.append(self._and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and(self) -> Node:
        items = [self._unary()]
        while self._is(KEYWORD, "and"):
            self._next()
            items.append(self._unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def _unary(self) -> Node:
        tok = self._tok
        if self._is(KEYWORD, "not"):
            self._next()
            self._deeper(tok.offset)
            node = Not(self._unary())
            self._depth -= 1
            return node
        if self._is(PUNCT, "("):
            self._next()
            self._deeper(tok.offset)
            node = self._or()
            self._expect(PUNCT, ")", "a closing )")
            self._depth -= 1
            return node
        return self._predicate()

    def _predicate(self) -> Node:
        left = self._operand()
        tok = self._tok
        if tok.kind == OP:
            self._next()
            return self._compare(tok, left, self._operand())
        if self._is(KEYWORD, "in"):
            self._next()
            return self._member(left, self._operand(), negated=False, offset=tok.offset)
        if self._is(KEYWORD, "not"):
            self._next()
            self._expect(KEYWORD, "in", "in after not")
            return self._member(left, self._operand(), negated=True, offset=tok.offset)
        if self._is(KEYWORD, "contains"):
            self._next()
            item = self._operand()
            return self._member(item, left, negated=False, offset=tok.offset)
        if isinstance(left, Field):
            return IsTrue(left)
        if isinstance(left, Lit) and isinstance(left.value, bool):
            return Const(left.value)
        raise ConditionError(
            f"a {_describe(left)} is not a condition: compare it (=, !=, <, ...) or test membership (in, contains)",
            left.offset,
        )

    def _operand(self) -> Operand:
        tok = self._tok
        if tok.kind == IDENT:
            return self._field()
        if tok.kind in (STRING, NUMBER):
            self._next()
            return Lit(tok.value, tok.offset)
        if tok.kind == KEYWORD and tok.value in ("true", "false", "null"):
            self._next()
            return Lit({"true": True, "false": False, "null": None}[tok.value], tok.offset)
        if self._is(PUNCT, "["):
            return self._list()
        raise ConditionError(f"expected a field, a value or a list, found {_shown(tok)}", tok.offset)

    def _field(self) -> Field:
        first = self._next()
        path = [first.value]
        while self._is(PUNCT, "."):
            self._next()
            part = self._expect(IDENT, None, "a field name after .")
            path.append(part.value)
        return Field(tuple(path), first.offset)

    def _list(self) -> ListLit:
        start = self._next()
        items: list[Any] = []
        kinds: set[str] = set()
        while not self._is(PUNCT, "]"):
            if items:
                self._expect(PUNCT, ",", ", or ]")
                if self._is(PUNCT, "]"):  # a trailing comma
                    break
            tok = self._tok
            item = self._operand()
            if not isinstance(item, Lit) or item.value is None:
                what = "null" if isinstance(item, Lit) else _describe(item)
                raise ConditionError(f"a list holds strings, numbers or booleans, not {what}", tok.offset)
            kind = value_kind(item.value)
            if kinds and kind not in kinds:
                raise ConditionError(f"a list holds one type: {kind} among {kinds.pop()}s", tok.offset)
            kinds.add(kind)
            items.append(item.value)
        self._next()
        return ListLit(tuple(items), start.offset)

    # Checks that need no schema ----------------------------------------------------------

    def _compare(self, tok: Token, left: Operand, right: Operand) -> Compare:
        for side in (left, right):
            if isinstance(side, ListLit):
                raise ConditionError("compare a list with in or contains, not " + tok.value, side.offset)
        nulls = [s for s in (left, right) if isinstance(s, Lit) and s.value is None]
        if nulls and tok.value not in ("=", "!="):
            raise ConditionError(f"null only compares with = or !=, not {tok.value}", tok.offset)
        if tok.value in ORDERING:
            for side in (left, right):
                if isinstance(side, Lit) and isinstance(side.value, bool):
                    raise ConditionError(f"booleans only compare with = or !=, not {tok.value}", tok.offset)
        if isinstance(left, Lit) and isinstance(right, Lit):
            a, b = value_kind(left.value), value_kind(right.value)
            if "null" not in (a, b) and a != b:
                raise ConditionError(f"cannot compare a {a} with a {b}", tok.offset)
        return Compare(tok.value, left, right, tok.offset)  # type: ignore[arg-type]

    def _member(self, item: Operand, container: Operand, *, negated: bool, offset: int) -> Member:
        if isinstance(item, ListLit):
            raise ConditionError("the left of in (right of contains) is one value, not a list", item.offset)
        if isinstance(item, Lit) and item.value is None:
            raise ConditionError("null is never in a list: test x = null", item.offset)
        if isinstance(container, Lit):
            raise ConditionError(f"in needs a list or a list field, not a {_describe(container)}", container.offset)
        if isinstance(item, Lit) and isinstance(container, ListLit) and container.items:
            a, b = value_kind(item.value), value_kind(container.items[0])
            if a != b:
                raise ConditionError(f"cannot look for a {a} among {b}s", item.offset)
        return Member(item, container, negated, offset)


def _describe(operand: Operand) -> str:
    if isinstance(operand, Field):
        return f"field {operand.name}"
    if isinstance(operand, ListLit):
        return "list"
    return value_kind(operand.value)


def _shown(tok: Token) -> str:
    return "the end" if tok.kind == END else repr(tok.text)
