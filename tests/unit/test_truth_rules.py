"""Rule files: TOML read and validated at load time; a TOML error carries tomllib's line
and column, a condition's syntax error the file, the rule and its line and column in the
file (whatever TOML string form holds the condition)."""

from __future__ import annotations

import pytest

from lakehouse.api import truth as t
from lakehouse.api.errors import InvalidArgument
from lakehouse.servers.settings import TruthSettings
from lakehouse.servers.truth.core import EXAMPLES_DIR
from lakehouse.servers.truth.rules import load_rules

S = TruthSettings()


def load(text: str, **kw):
    return load_rules(text, S, source="rules.toml", **kw)


def refused(text: str, settings: TruthSettings = S) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        load_rules(text, settings, source="rules.toml")
    return caught.value


def rule(when: str = "", require: str = "'a = 1'", extra: str = "") -> str:
    lines = ["[[rules]]", 'id = "r1"', 'description = "d"', 'severity = "warning"']
    if when:
        lines.append(f"when = {when}")
    lines.append(f"require = {require}")
    return "\n".join(lines) + "\n" + extra


def test_the_shipped_example_loads_with_its_rules_and_supersession():
    rs = load((EXAMPLES_DIR / "staffing.toml").read_text())
    assert rs.name == "staffing" and rs.key == "doc_id"
    assert [r.id for r in rs.rules] == [
        "forklift-certification",
        "il-state-valid-certification",
        "welder-aws-certification",
        "known-state",
    ]
    assert [r.severity for r in rs.rules] == ["error", "error", "warning", "info"]
    assert rs.rules[3].when is None and rs.meeting("OSHA-10") == ("OSHA-10", "OSHA-30")
    assert rs.meeting("OSHA-30") == ("OSHA-30",) and rs.meeting(7) == (7,)
    assert {p.suffix for p in EXAMPLES_DIR.iterdir() if p.is_file()} == {".toml"}


def test_defaults_and_transitive_supersession():
    rs = load('[supersedes]\nC = ["B"]\nB = ["A"]\n' + rule(), name="fallback")
    assert rs.name == "fallback" and rs.key == "" and rs.description == ""
    assert rs.meeting("A") == ("A", "B", "C") and rs.meeting("B") == ("B", "C")
    assert load(rule().replace('severity = "warning"\n', "")).rules[0].severity == "error"


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('[[rules]]\nid = "r1"\nrequire = "a = 1\n', 3, 17),  # an unterminated string
        ("[[rules]]\nid = \nrequire = 'a'\n", 2, 6),
        ("[[rules]\n", 1, 8),
        ('name = "a"\nname = "b"\n', 2, 11),  # a repeated key
        ("[[rules]]\nid = 'r'\nrequire = 'a = 1\n", 4, 1),  # "at end of document": just past the end
    ],
)
def test_a_toml_error_carries_tomllibs_line_and_column(text, line, column):
    err = refused(text)
    assert err.reason == t.RULES_TOML_SYNTAX
    assert err.metadata == {"file": "rules.toml", "line": str(line), "column": str(column)}
    assert err.message.startswith("rules.toml: not valid TOML")
    assert err.violations[0].description.startswith(f"line {line}, column {column}: ")


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("title = 'x'\n" + rule(), "title", t.RULES_INVALID),
        (rule(extra='severty = "error"\n'), "rules[0].severty", t.RULES_INVALID),
        (rule().replace('id = "r1"', "id = 7"), "rules[0].id", t.RULES_INVALID),
        (rule().replace('id = "r1"\n', ""), "rules[0].id", t.RULES_INVALID),
        (rule().replace('id = "r1"', 'id = "bad id!"'), "rules[0].id", t.RULES_INVALID),
        (rule().replace("warning", "fatal"), "rules[0].severity", t.RULES_INVALID),
        (rule().replace("require = 'a = 1'", ""), "rules[0].require", t.RULES_INVALID),
        (rule(require="['a']"), "rules[0].require", t.RULES_INVALID),
        ('name = "x"\n', "rules", t.RULES_INVALID),
        ("rules = []\n", "rules", t.RULES_INVALID),
        ("rules = [1]\n", "rules[0]", t.RULES_INVALID),
        ("supersedes = 1\n" + rule(), "supersedes", t.RULES_INVALID),
        ('[supersedes]\nA = "B"\n' + rule(), "supersedes.A", t.RULES_INVALID),
        (rule() + rule(), "rules[1].id", t.DUPLICATE_RULE_ID),
    ],
)
def test_unknown_missing_and_mistyped_fields_are_refused(text, where, reason):
    err = refused(text)
    assert err.reason == reason and err.violations[0].field == where, err.message
    assert err.metadata["file"] == "rules.toml"


def test_limits_are_settings():
    small = TruthSettings(max_rules_bytes=50, max_rules=1, max_condition_chars=5)
    assert refused(rule(require="'a = 1 and b = 2'") * 1, TruthSettings(max_rules_bytes=50)).reason == t.RULES_TOO_LARGE
    two = rule(require="'a = 1'") + rule(require="'a = 1'").replace("r1", "r2")
    assert refused(two, TruthSettings(max_rules=1)).reason == t.RULES_TOO_LARGE
    err = refused(rule(require="'a = 100'"), TruthSettings(max_condition_chars=5))
    assert err.reason == t.RULES_TOO_LARGE and err.violations[0].field == "rules[0].require"
    assert small.max_rules == 1


def _syntax(text: str) -> InvalidArgument:
    err = refused(text)
    assert err.reason == t.RULE_SYNTAX, err.message
    return err


def test_a_condition_error_names_file_rule_line_and_column():
    text = (
        'name = "n"\n\n[[rules]]\nid = "ok"\nrequire = "a = 1"\n\n'
        '[[rules]]\nid = "broken"\nwhen = \'state = "IL"\'\nrequire = \'x in ["a" "b"]\'\n'
    )
    err = _syntax(text)
    # The fault is the list's second string: line 10, after `require = '` (11 characters) and `x in ["a" ` (10).
    assert err.metadata == {
        "file": "rules.toml",
        "rule": "broken",
        "line": "10",
        "column": "22",
        "condition_column": "11",
    }
    assert err.violations[0].field == "rules[1].require"
    assert "rules.toml: rule 'broken' require, line 10, column 22: expected , or ]" in err.message
    assert err.message.endswith('\n  x in ["a" "b"]\n' + " " * 12 + "^")  # a caret under the fault
    line = text.splitlines()[9]
    assert line[21] == '"'


@pytest.mark.parametrize(
    ("value", "line", "column"),
    [
        ("'a = = 1'", 3, 16),  # a literal string
        ('"a = = 1"', 3, 16),  # a basic string
        ('"\\u0061 = = 1"', 3, 21),  # an escape before the fault: raw columns, not decoded ones
        ('"a \\t= = 1"', 3, 18),
        ("'''\na = = 1'''", 4, 5),  # a multi-line literal string (the first newline is dropped)
        ('"""\na =\n  = 1"""', 5, 3),
        ('"""a = \\\n     = 1"""', 4, 6),  # a line-ending backslash joins the lines
    ],
)
def test_positions_are_traced_through_every_toml_string_form(value, line, column):
    text = f'[[rules]]\nid = "r"\nrequire = {value}\n'
    err = _syntax(text)
    assert (err.metadata["line"], err.metadata["column"]) == (str(line), str(column)), err.message
    assert text.splitlines()[line - 1][column - 1] == "="


def test_inline_tables_fall_back_to_the_column_in_the_condition():
    err = _syntax('rules = [{id = "r", require = "a = = 1"}]\n')
    assert err.metadata == {"file": "rules.toml", "rule": "r", "condition_column": "5"}
    assert "condition column 5" in err.message


def test_a_when_error_is_reported_on_its_own_line():
    err = _syntax("[[rules]]\nid = 'w'\nwhen = '(a = 1'\nrequire = 'b = 2'\n")
    assert (err.metadata["line"], err.metadata["column"], err.violations[0].field) == ("3", "15", "rules[0].when")


def test_the_source_name_shows_in_messages():
    err = refused("[[rules]]\nid = 'r'\nrequire = 'a ='\n")
    assert err.message.startswith("rules.toml: rule 'r' require, line 3, column 15")
