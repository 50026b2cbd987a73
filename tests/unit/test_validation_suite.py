"""Check suites: YAML and JSON parsing, every problem reported at once, unknown check types
named, names resolved, stored suites found by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakehouse.api import errors
from lakehouse.api.validation import CHECK_TYPES, INVALID_SUITE, SUITE_NOT_FOUND, UNKNOWN_CHECK
from lakehouse.servers.settings import ValidatorSettings
from lakehouse.servers.validation.suite import (
    Freshness,
    RowCount,
    Unique,
    load_named,
    load_text,
    parse_duration,
    parse_suite,
)

SETTINGS = ValidatorSettings()


def fields(exc: errors.InvalidArgument) -> dict[str, str]:
    return {v.field: v.description for v in exc.violations}


def test_a_yaml_suite_with_every_check_type_loads():
    text = """
name: workers_quality
description: what a workers file must hold
checks:
  - {type: schema, columns: {id: {type: int64, nullable: false}, email: {type: string}}, exact: true}
  - {type: not_null, column: email}
  - {type: null_rate, column: phone, max: 0.05}
  - {type: unique, columns: [id]}
  - {type: range, column: rate, min: 15, max: 40}
  - {type: allowed_values, column: role, values: [welder, picker]}
  - {type: regex, column: email, format: email}
  - {type: row_count, min: 1}
  - {type: freshness, column: updated_at, max_age: 30d}
  - {type: references, column: state, dataset: states, ref_column: code, blocking: false}
"""
    suite = load_text(text, SETTINGS)
    assert suite.name == "workers_quality"
    assert [c.check.type for c in suite.checks] == list(CHECK_TYPES)
    assert suite.checks[6].pattern == SETTINGS.formats["email"]
    assert not suite.checks[9].check.blocking and suite.checks[0].check.blocking
    assert suite.columns_read()["unique(id)"] == ("id",)
    assert suite.columns_read()["schema"] == ()  # a missing column is the schema check's finding
    assert isinstance(suite.checks[8].check, Freshness) and suite.checks[8].check.max_age == 30 * 86400


def test_json_text_and_a_parsed_object_load_the_same():
    spec = {"checks": [{"type": "unique", "column": "id"}, {"type": "row_count", "min": 1.0, "max": 9}]}
    from_json = load_text(json.dumps(spec), SETTINGS)
    from_object = parse_suite(spec, SETTINGS)
    assert from_json == from_object
    unique, rows = from_object.checks[0].check, from_object.checks[1].check
    assert isinstance(unique, Unique) and unique.columns == ("id",)  # column: shorthand
    assert isinstance(rows, RowCount) and rows.min == 1  # a JSON number 1.0 (a Struct's) is an int


def test_an_unknown_check_type_is_named():
    text = "checks:\n  - {type: unique, column: id}\n  - {type: expect_magic, column: id}\n"
    with pytest.raises(errors.InvalidArgument) as info:
        load_text(text, SETTINGS)
    assert info.value.reason == UNKNOWN_CHECK
    assert info.value.metadata["unknown_checks"] == "expect_magic"
    assert "expect_magic" in info.value.message
    assert "unknown check type 'expect_magic'" in fields(info.value)["checks[1].type"]


def test_every_problem_is_one_violation_and_an_unknown_type_leads():
    text = """
checks:
  - {type: null_rate, column: a, max: 2}
  - {type: range, column: a}
  - {type: range, column: a, min: 5, max: 1}
  - {type: regex, column: a, pattern: "(", }
  - {type: regex, column: a, format: zipcode9}
  - {type: regex, column: a}
  - {type: row_count, min: 9, max: 1}
  - {type: freshness, column: t, max_age: soon}
  - {type: references, column: s, dataset: "Bad Name"}
  - {type: unique, columns: [a, a]}
  - {type: not_null, column: a, colour: red}
  - {type: nope}
  - {column: a}
  - 7
"""
    with pytest.raises(errors.InvalidArgument) as info:
        load_text(text, SETTINGS)
    found = fields(info.value)
    assert info.value.reason == UNKNOWN_CHECK
    assert info.value.violations[0].field == "checks[11].type"
    assert "less than or equal to 1" in found["checks[0].max"]
    assert "give min, max or both" in found["checks[1]"]
    assert "min (5) is above max (1)" in found["checks[2]"]
    assert "not a valid RE2 pattern" in found["checks[3].pattern"]
    assert "unknown format 'zipcode9'" in found["checks[4].format"]
    assert "exactly one of pattern and format" in found["checks[5]"]
    assert "min (9) is above max (1)" in found["checks[6]"]
    assert "not a duration" in found["checks[7].max_age"]
    assert "invalid dataset name" in found["checks[8].dataset"]
    assert "distinct" in found["checks[9].columns"]
    assert "Extra inputs" in found["checks[10].colour"]
    assert "required" in found["checks[12].type"]
    assert "expected a mapping" in found["checks[13]"]
    assert info.value.metadata["problems"] == str(len(found))


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("checks: [\n  {type: unique", "suite", "line 3, column 1"),
        ("- just a list", "suite", "expected a mapping"),
        ("checks: []", "checks", "non-empty"),
        ("name: x\nchecks: [{type: row_count, min: 1}]\nextra: 1", "extra", "unknown key"),
        ("checks: [{type: row_count, min: 1, min: 2}]", "suite", "twice"),
    ],
)
def test_malformed_suites_are_invalid_suite(text, field, words):
    with pytest.raises(errors.InvalidArgument) as info:
        load_text(text, SETTINGS)
    assert info.value.reason == INVALID_SUITE
    assert words in fields(info.value)[field]


@pytest.mark.parametrize(
    ("check", "field"),
    [
        ({"type": "range", "column": "a", "min": float("nan")}, "checks[0]"),
        ({"type": "freshness", "column": "a", "max_age": True}, "checks[0].max_age"),
        ({"type": "freshness", "column": "a", "max_age": float("inf")}, "checks[0].max_age"),
        ({"type": "not_null", "column": 5}, "checks[0].column"),
        ({"type": "allowed_values", "column": "a", "values": [{"x": 1}]}, "checks[0].values[0]"),
        ({"type": "schema", "columns": {"a": 5}}, "checks[0].columns.a"),
    ],
)
def test_values_of_the_wrong_kind_are_invalid_suite(check, field):
    with pytest.raises(errors.InvalidArgument) as info:
        parse_suite({"checks": [check]}, SETTINGS)
    assert info.value.reason == INVALID_SUITE and field in fields(info.value)


def test_limits_on_size_and_check_count():
    small = ValidatorSettings(max_suite_bytes=64, max_checks=2)
    with pytest.raises(errors.InvalidArgument, match="at most 64"):
        load_text("checks: [" + ", ".join(["{type: row_count, min: 1}"] * 9) + "]", small)
    with pytest.raises(errors.InvalidArgument, match="at most 2"):
        parse_suite({"checks": [{"type": "row_count", "min": 1}] * 3}, small)


def test_default_names_are_unique_and_given_names_must_be():
    suite = parse_suite(
        {
            "checks": [
                {"type": "not_null", "column": "a"},
                {"type": "not_null", "column": "a"},
                {"type": "references", "column": "s", "dataset": "states", "ref_column": "code"},
                {"type": "row_count", "min": 1, "name": "enough"},
            ]
        },
        SETTINGS,
    )
    assert [c.name for c in suite.checks] == ["not_null(a)", "not_null(a)#2", "references(s->states.code)", "enough"]
    with pytest.raises(errors.InvalidArgument) as info:
        parse_suite({"checks": [{"type": "row_count", "min": 1, "name": "x"}] * 2}, SETTINGS)
    assert "names another check" in fields(info.value)["checks[1].name"]


def test_durations():
    assert parse_duration("45s") == 45
    assert parse_duration("90m") == 5400
    assert parse_duration("12h") == 43200
    assert parse_duration("2w") == 14 * 86400
    assert parse_duration(30) == 30
    for bad in ("0s", "-1d", "soon", "5y", float("nan"), float("inf")):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_stored_suites_by_name(tmp_path: Path):
    (tmp_path / "workers.yaml").write_text("checks: [{type: row_count, min: 1}]\n")
    (tmp_path / "people.json").write_text(json.dumps({"name": "ignored", "checks": [{"type": "row_count", "max": 5}]}))
    assert load_named("workers", tmp_path, SETTINGS).name == "workers"
    assert load_named("people", tmp_path, SETTINGS).name == "people"  # the file's name wins
    with pytest.raises(errors.NotFound) as info:
        load_named("absent", tmp_path, SETTINGS)
    assert info.value.reason == SUITE_NOT_FOUND
    for bad in ("../workers", "Workers", "", "a/b"):
        with pytest.raises(errors.InvalidArgument):
            load_named(bad, tmp_path, SETTINGS)
