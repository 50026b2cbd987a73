"""The truth condition language: tokens, the AST (precedence, associativity, parentheses),
and every syntax error with the position it points at."""

from __future__ import annotations

import pytest

from lakehouse.servers.truth.lexer import ConditionError, tokenize
from lakehouse.servers.truth.parser import (
    And,
    Compare,
    Const,
    Field,
    IsTrue,
    ListLit,
    Lit,
    Member,
    Not,
    Or,
    fields,
    parse,
)


def test_tokens_carry_kinds_values_and_offsets():
    toks = tokenize("a.b >= -1.5e2 and `zip code` != 'it''s' or x in [1, 2]")
    assert [(t.kind, t.value, t.offset) for t in toks[:6]] == [
        ("ident", "a", 0),
        ("punct", ".", 1),
        ("ident", "b", 2),
        ("op", ">=", 4),
        ("number", -150.0, 7),
        ("keyword", "and", 14),
    ]
    assert toks[6].kind == "ident" and toks[6].value == "zip code"
    assert [t.value for t in tokenize(r'"say \"hi\"\n" 42')[:2]] == ['say "hi"\n', 42]
    assert tokenize("")[0].kind == "end"


def test_and_binds_tighter_than_or_and_not_tighter_than_and():
    node = parse("a = 1 or b = 2 and not c = 3")
    assert isinstance(node, Or)
    left, right = node.operands
    assert isinstance(left, Compare) and left.left == Field(("a",), 0)
    assert isinstance(right, And)
    assert isinstance(right.operands[0], Compare)
    assert isinstance(right.operands[1], Not) and isinstance(right.operands[1].operand, Compare)


def test_parentheses_override_precedence_and_chains_flatten():
    node = parse("(a = 1 or b = 2) and c = 3 and d = 4")
    assert isinstance(node, And) and len(node.operands) == 3
    assert isinstance(node.operands[0], Or)
    assert isinstance(parse("a or b or c"), Or) and len(parse("a or b or c").operands) == 3
    assert parse("not not a") == Not(Not(IsTrue(Field(("a",), 8))))


def test_predicates():
    assert parse('"OSHA-10" in certifications') == Member(Lit("OSHA-10", 0), Field(("certifications",), 13), False, 10)
    assert parse('certifications contains "CPR"') == Member(Lit("CPR", 24), Field(("certifications",), 0), False, 15)
    assert parse('state not in ["IL", "WI"]') == Member(Field(("state",), 0), ListLit(("IL", "WI"), 13), True, 6)
    assert parse("worker.home.state = null") == Compare("=", Field(("worker", "home", "state"), 0), Lit(None, 20), 18)
    assert parse("available") == IsTrue(Field(("available",), 0))
    assert parse("false") == Const(False)
    assert parse("x in []") == Member(Field(("x",), 0), ListLit((), 5), False, 2)
    assert parse("x in [1, 2,]").container == ListLit((1, 2), 5)  # a trailing comma
    assert [f.name for f in fields(parse("a = 1 and (b.c in [1] or not d) or e contains f"))] == [
        "a",
        "b.c",
        "d",
        "e",
        "f",
    ]


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("", 0, "empty condition"),
        ("   ", 0, "empty condition"),
        ("a =", 3, "expected a field, a value or a list, found the end"),
        ("a = = 1", 4, "expected a field, a value or a list"),
        ("a == 1", 2, "use = (not ==)"),
        ("(a = 1", 6, "expected a closing )"),
        ("a = 1)", 5, "expected and, or or the end"),
        ("a = 1 b = 2", 6, "expected and, or or the end"),
        ("a = 1 and", 9, "expected a field"),
        ("a.", 2, "a field name after ."),
        ("a.1", 2, "a field name after ."),
        ("x = 'open", 4, "unterminated string"),
        ('x = "a\\qb"', 6, "unknown escape \\q"),
        ("x = `", 4, "unterminated `quoted` name"),
        ("x = ``", 4, "empty `quoted` name"),
        ("x = 12abc", 4, "malformed number"),
        ("x # 1", 2, "unexpected character '#'"),
        ("x not y", 6, "expected in after not"),
        ('"IL"', 0, "a string is not a condition"),
        ("42", 0, "a number is not a condition"),
        ("x in [1, 'a']", 9, "a list holds one type"),
        ("x in [null]", 6, "not null"),
        ("x in [y]", 6, "not field y"),
        ("x in [1 2]", 8, ", or ]"),
        ("x = [1]", 4, "compare a list with in or contains"),
        ("x < null", 2, "null only compares with = or !="),
        ("x > true", 2, "booleans only compare"),
        ("1 = 'a'", 2, "cannot compare a number with a string"),
        ("[1] in x", 0, "one value, not a list"),
        ("null in x", 0, "null is never in a list"),
        ("x in 'abc'", 5, "in needs a list or a list field"),
        ("'a' in [1, 2]", 0, "cannot look for a string among numbers"),
        ("x contains [1]", 11, "one value, not a list"),
        ("not", 3, "expected a field"),
    ],
)
def test_every_syntax_error_names_its_position(text, offset, message):
    with pytest.raises(ConditionError) as caught:
        parse(text)
    assert caught.value.offset == offset, caught.value.message
    assert message in caught.value.message


def test_nesting_is_bounded():
    parse("(" * 10 + "a" + ")" * 10, max_depth=10)
    with pytest.raises(ConditionError) as caught:
        parse("not " * 11 + "a", max_depth=10)
    assert caught.value.offset == 40 and "nested more than 10 levels" in caught.value.message
    with pytest.raises(ConditionError):
        parse("(" * 5000 + "a" + ")" * 5000)  # refused cleanly, never a RecursionError
