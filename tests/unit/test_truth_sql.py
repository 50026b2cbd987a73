"""The dataset evaluator: rules compiled to DuckDB SQL and executed in-process agree with
the record evaluator on the same rows (generated conditions over nulls, lists, structs),
the statement's counts and violations, schema refusals (unknown columns, wrong types)
and quoting (odd column names, literals that look like SQL)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.api.errors import InvalidArgument
from lakehouse.servers.settings import TruthSettings
from lakehouse.servers.truth.core import EXAMPLES_DIR
from lakehouse.servers.truth.evaluate import TypeMismatch, compile_condition, compile_rules
from lakehouse.servers.truth.parser import parse
from lakehouse.servers.truth.rules import RuleSet, load_rules
from lakehouse.servers.truth.sql import Misfit, SqlCompiler, UnknownColumn, UnsupportedType, check_sql

SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("state", pa.string()),
        ("years", pa.int32()),
        ("rate", pa.float64()),
        ("available", pa.bool_()),
        ("certifications", pa.list_(pa.string())),
        ("roles", pa.list_(pa.string())),
        ("home", pa.struct([("state", pa.string()), ("zip", pa.string())])),
        ("zip code", pa.string()),
        ("wanted", pa.string()),
        ("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)
STATES = ["IL", "WI", "TX", None, "O'Hare"]
CERTS = ["OSHA-10", "OSHA-30", "Forklift", "First Aid"]
ROLES = ["forklift operator", "welder", "picker packer"]


def _rows() -> list[dict]:
    rows = []
    for i in range(60):
        certs = None if i % 11 == 5 else [CERTS[j] for j in range(4) if (i >> j) & 1]
        if certs is not None and i % 13 == 3:
            certs.append(None)  # a null element
        rows.append(
            {
                "doc_id": f"d{i:02d}",
                "state": STATES[i % len(STATES)],
                "years": None if i % 7 == 0 else i % 12,
                "rate": None if i % 9 == 4 else 15 + (i % 5) * 2.5,
                "available": None if i % 6 == 1 else i % 2 == 0,
                "certifications": certs,
                "roles": [ROLES[i % 3]] + ([ROLES[(i + 1) % 3]] if i % 4 == 0 else []),
                "home": None if i % 10 == 9 else {"state": STATES[(i + 2) % len(STATES)], "zip": f"6{i:04d}"},
                "zip code": f"z{i % 3}",
                "wanted": None if i % 8 == 7 else CERTS[i % 4],
                "updated_at": None,
            }
        )
    return rows


ROWS = _rows()
TABLE = pa.Table.from_pylist(ROWS, schema=SCHEMA)
OSHA = RuleSet("osha", (), satisfies={"OSHA-10": frozenset({"OSHA-10", "OSHA-30"})})


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.register("people", TABLE)
    yield con
    con.close()


def _sql_truth(con, text: str, rule_set: RuleSet = OSHA) -> list[bool]:
    where = SqlCompiler(rule_set, SCHEMA).condition(parse(text))
    return [r[0] for r in con.sql(f"SELECT {where} FROM people ORDER BY doc_id").fetchall()]


def _py_truth(text: str, rule_set: RuleSet = OSHA) -> list[bool]:
    test = compile_condition(parse(text), rule_set)
    return [test(r) for r in sorted(ROWS, key=lambda r: r["doc_id"])]


# Generated conditions ----------------------------------------------------------------

_str_lit = st.sampled_from(['"IL"', '"WI"', "'O\\'Hare'", '"TX"', '"Z"', '""'])
_cmp = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
_atoms = st.one_of(
    st.builds(lambda f, op, v: f"{f} {op} {v}", st.sampled_from(["state", "home.state", "`zip code`"]), _cmp, _str_lit),
    st.builds(lambda op, n: f"years {op} {n}", _cmp, st.sampled_from(["0", "3", "7.5", "-1", "11"])),
    st.builds(lambda op, n: f"rate {op} {n}", _cmp, st.sampled_from(["15", "17.5", "20", "1e1"])),
    st.builds(lambda op: f"years {op} rate", _cmp),
    st.builds(lambda op: f"state {op} home.state", _cmp),
    st.sampled_from(["available", "available = true", "available != false", "available = null"]),
    st.builds(lambda c: f'"{c}" in certifications', st.sampled_from(CERTS + ["CPR"])),
    st.builds(lambda c: f'certifications contains "{c}"', st.sampled_from(CERTS)),
    st.builds(lambda c: f'"{c}" not in certifications', st.sampled_from(CERTS)),
    st.builds(lambda r: f'"{r}" in roles', st.sampled_from(ROLES)),
    st.sampled_from(
        [
            'state in ["IL", "TX"]',
            'state not in ["IL"]',
            "years in [1, 2, 3]",
            "years not in []",
            "state in []",
            "wanted in certifications",
            "wanted not in certifications",
            'home.zip in ["60000", "60004"]',
            "state = null",
            "state != null",
            "home = null",
            "home.zip != null",
            "certifications = null",
            "true",
            "false",
        ]
    ),
)


def _combine(children):
    return st.one_of(
        st.builds(lambda a, b: f"{a} and {b}", children, children),
        st.builds(lambda a, b: f"{a} or {b}", children, children),
        st.builds(lambda a: f"not {a}", children),
        st.builds(lambda a: f"({a})", children),
    )


CONDITIONS = st.recursive(_atoms, _combine, max_leaves=6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=CONDITIONS)
def test_sql_and_python_agree_on_every_row(con, text):
    assert _sql_truth(con, text) == _py_truth(text), text


def test_a_few_conditions_hold_on_a_known_number_of_rows(con):
    # Not vacuous: the generated atoms split the rows both ways.
    for text in ('"OSHA-10" in certifications', "available", "years > 3", 'state = "IL"', "wanted in certifications"):
        values = _py_truth(text)
        assert any(values) and not all(values), text
        assert _sql_truth(con, text) == values


def test_supersession_widens_the_sql_list(con):
    sql = SqlCompiler(OSHA, SCHEMA).condition(parse('"OSHA-10" in certifications'))
    assert sql == "COALESCE(list_has_any(\"certifications\", ['OSHA-10', 'OSHA-30']), FALSE)"
    plain = RuleSet("plain", ())
    assert _sql_truth(con, '"OSHA-10" in certifications', plain) == _py_truth('"OSHA-10" in certifications', plain)
    assert _sql_truth(con, '"OSHA-10" in certifications') != _sql_truth(con, '"OSHA-10" in certifications', plain)


# The whole statement ------------------------------------------------------------------

STAFFING = load_rules((EXAMPLES_DIR / "staffing.toml").read_text(), TruthSettings())


def _run(con, rule_set: RuleSet, key: str, limit: int):
    plan = check_sql(rule_set, SCHEMA, "people", key, limit)
    return con.sql(plan.sql).to_arrow_table().to_pylist()


def test_the_statement_counts_every_rule_and_lists_violations_in_order(con):
    staffing = STAFFING
    rows = _run(con, staffing, "doc_id", 1000)
    compiled = compile_rules(staffing)
    head = rows[0]
    assert head["records"] == len(ROWS)
    expected = []
    for i, c in enumerate(compiled):
        applies = [r for r in ROWS if c.applies(r)]
        broken = sorted(r["doc_id"] for r in applies if not c.holds(r))
        assert (head[f"a{i}"], head[f"v{i}"]) == (len(applies), len(broken)), c.rule.id
        expected += [(i, k) for k in broken]
    assert [(r["rule"], r["k"]) for r in rows] == expected and expected
    limited = _run(con, staffing, "doc_id", 3)
    assert [(r["rule"], r["k"]) for r in limited] == expected[:3]
    assert limited[0]["records"] == len(ROWS)  # the counts are whole, whatever the limit


def test_without_a_key_rows_are_keyed_by_position(con):
    rows = _run(con, STAFFING, "", 1000)
    assert rows and all(r["k"].isdigit() for r in rows if r["rule"] is not None)


def test_no_violation_is_one_row_of_counts(con):
    rule_set = load_rules("[[rules]]\nid = 'r'\nrequire = 'true'\n", TruthSettings())
    rows = _run(con, rule_set, "doc_id", 10)
    assert rows == [{"records": len(ROWS), "a0": len(ROWS), "v0": 0, "rule": None, "k": None}]


@pytest.mark.parametrize(
    ("require", "error", "field"),
    [
        ('"Forklift" in licences', UnknownColumn, "licences"),
        ('home.county = "Cook"', UnknownColumn, "home.county"),
        ("state.code = 1", TypeMismatch, "state.code"),
        ('years = "7"', TypeMismatch, "years"),
        ("state > 3", TypeMismatch, "state"),
        ("available < true", None, ""),  # refused at parse time
        ("years", TypeMismatch, "years"),
        ('"a" in state', TypeMismatch, "state"),
        ("1 in roles", TypeMismatch, "roles"),
        ("state in [1]", TypeMismatch, "state"),
        ("roles in certifications", TypeMismatch, "certifications"),
        ("certifications = roles", TypeMismatch, "certifications"),
        ("updated_at = null", UnsupportedType, "updated_at"),
        ('home = "x"', UnsupportedType, "home"),
    ],
)
def test_rules_that_do_not_fit_the_schema_are_refused_before_running(require, error, field):
    text = f"[[rules]]\nid = 'misfit'\nwhen = 'state = \"IL\"'\nrequire = '{require}'\n"
    if error is None:
        with pytest.raises(InvalidArgument):
            load_rules(text, TruthSettings())
        return
    rule_set = load_rules(text, TruthSettings())
    with pytest.raises(Misfit) as caught:
        check_sql(rule_set, SCHEMA, "people", "doc_id", 10)
    assert caught.value.rule == "misfit" and isinstance(caught.value.error, error)
    assert caught.value.error.field == field


def test_an_unknown_key_is_refused_as_the_keys():
    with pytest.raises(Misfit) as caught:
        check_sql(STAFFING, SCHEMA, "people", "worker_id", 10)
    assert caught.value.rule == "" and isinstance(caught.value.error, UnknownColumn)


def test_names_and_literals_are_quoted_not_pasted(con):
    sneaky = "x'); DROP TABLE people; --"
    rule_set = load_rules(
        f'[[rules]]\nid = "q"\nrequire = """`zip code` != "{sneaky}" and state != "O\'Hare" """\n', TruthSettings()
    )
    sql = check_sql(rule_set, SCHEMA, 'pe"ople', "doc_id", 5).sql
    assert '"zip code"' in sql and "'x''); DROP TABLE people; --'" in sql and 'FROM "pe""ople"' in sql
    rows = _run(con, rule_set, "doc_id", 100)
    # Broken where the state is O'Hare, or missing (a comparison with null is false).
    assert rows[0]["v0"] == sum(1 for r in ROWS if r["state"] in ("O'Hare", None)) > 0
    assert con.sql("SELECT count(*) FROM people").fetchall() == [(len(ROWS),)]
