"""The metadata filter language (servers/vector/filters.py): semantics on fixed metadata,
strict types, arrays, nesting, and a clear error with its path for every malformed filter."""

from __future__ import annotations

import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.servers.settings import FilterSettings
from lakehouse.servers.vector.filters import INVALID_FILTER, MetadataColumns, parse_filter

PEOPLE = [
    {"state": "IL", "years": 3, "certs": ["OSHA-10", "forklift"], "since": "2021-04-01", "addr": {"city": "Joliet"}},
    {"state": "WI", "years": 12, "certs": ["CDL-A"], "since": "2015-09-30", "addr": {"city": "Madison"}},
    {"state": "IL", "years": 0.5, "since": "2024-01-15T08:30:00"},
    {"state": "IN", "certs": [], "remote": True},
    {"years": "3", "state": None, "remote": False},
    None,
    {"state": "il", "years": 7, "certs": ["OSHA-30", {"nested": "ignored"}], "remote": 1},
]
COLUMNS = MetadataColumns.from_items(PEOPLE)


def rows(raw) -> list[int]:
    mask = parse_filter(raw).matches(COLUMNS)
    assert mask.dtype == np.bool_ and mask.shape == (len(PEOPLE),)
    return np.flatnonzero(mask).tolist()


def test_equality_keeps_only_that_value_g3_6_a() -> None:
    assert rows({"state": "IL"}) == [0, 2]  # case-sensitive: "il" is another value


def test_a_list_is_or_within_a_key_g3_6_b() -> None:
    assert rows({"state": ["IL", "WI"]}) == [0, 1, 2]


def test_keys_are_anded_and_a_missing_key_drops_the_item_g3_6_c() -> None:
    assert rows({"state": "IL", "certs": "OSHA-10"}) == [0]
    assert rows({"state": ["IL", "IN"], "years": {"gte": 0}}) == [0, 2]  # row 3 has no years


def test_types_are_strict() -> None:
    assert rows({"years": 3}) == [0]
    assert rows({"years": "3"}) == [4]
    assert rows({"remote": True}) == [3]  # 1 is a number, not true
    assert rows({"remote": 1}) == [6]


def test_comparisons_on_numbers_and_iso_dates() -> None:
    assert rows({"years": {"gt": 3}}) == [1, 6]
    assert rows({"years": {"gte": 3, "lt": 10}}) == [0, 6]
    assert rows({"years": {"lte": 0.5}}) == [2]
    assert rows({"since": {"gte": "2021-01-01"}}) == [0, 2]
    assert rows({"since": {"lt": "2016-01-01T00:00:00"}}) == [1]


def test_arrays_match_when_any_element_matches() -> None:
    assert rows({"certs": "forklift"}) == [0]
    assert rows({"certs": {"in": ["CDL-A", "OSHA-30"]}}) == [1, 6]
    assert rows({"certs": {"prefix": "OSHA"}}) == [0, 6]


def test_in_not_in_prefix_regex_exists() -> None:
    assert rows({"state": {"in": ["WI", "IN"]}}) == [1, 3]
    assert rows({"state": {"not_in": ["IL", "il"]}}) == [1, 3]  # only rows that have a state
    assert rows({"addr.city": {"prefix": "Mad"}}) == [1]
    assert rows({"state": {"regex": "^[A-Z]{2}$"}}) == [0, 1, 2, 3]
    assert rows({"certs": {"exists": True}}) == [0, 1, 6]  # an empty list holds no value
    assert rows({"state": {"exists": False}}) == [4, 5]  # null and absent alike


def test_logic_nests() -> None:
    assert rows({"$or": [{"state": "WI"}, {"years": {"lt": 1}}]}) == [1, 2]
    assert rows({"$not": {"state": "IL"}}) == [1, 3, 4, 5, 6]
    assert rows({"$and": [{"state": "IL"}, {"$not": {"certs": {"exists": True}}}]}) == [2]
    assert rows({"state": "IL", "$or": [{"years": 3}, {"since": {"gt": "2023-12-31"}}]}) == [0, 2]


def test_a_catastrophic_pattern_runs_in_linear_time() -> None:
    """RE2 has no backtracking: a backtracking engine would not finish this in the test's life."""
    columns = MetadataColumns.from_items([{"s": "a" * 100_000 + "!"}, {"s": "aaa"}])
    mask = parse_filter({"s": {"regex": "^(a+)+$"}}).matches(columns)
    assert mask.tolist() == [False, True]


@pytest.mark.parametrize(
    ("raw", "field", "says"),
    [
        ({"years": {"gte": "three"}}, "filter.years.gte", "expected a number"),
        ({"years": {"between": [1, 2]}}, "filter.years.between", "unknown operator"),
        ({"$nor": [{"a": 1}]}, "filter.$nor", "unknown operator"),
        ({"$or": {"a": 1}}, "filter.$or", "non-empty list"),
        ({"$or": [{"a": 1}, "b"]}, "filter.$or[1]", "expected an object"),
        ({"state": {"in": "IL"}}, "filter.state.in", "expected a list"),
        ({"state": []}, "filter.state", "non-empty list"),
        ({"state": [["IL"]]}, "filter.state[0]", "string, number or boolean"),
        ({"state": None}, "filter.state", "string, number or boolean"),
        ({"state": {}}, "filter.state", "at least one operator"),
        ({"state": {"exists": "yes"}}, "filter.state.exists", "true or false"),
        ({"state": {"prefix": 1}}, "filter.state.prefix", "expected a string"),
        ({"s": {"regex": "x" * 300}}, "filter.s.regex", "longer than 256"),
        ({"s": {"regex": r"(a)\1"}}, "filter.s.regex", "not a supported regular expression"),
        ({"since": {"gt": "2021-13-45"}}, "filter.since.gt", "ISO date"),
        ({}, "filter", "at least one key"),
        ([{"state": "IL"}], "filter", "expected an object"),
    ],
)
def test_a_malformed_filter_names_its_path(raw, field: str, says: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        parse_filter(raw)
    assert info.value.reason == INVALID_FILTER
    assert [v.field for v in info.value.violations] == [field] and says in str(info.value), info.value


def test_nesting_and_pattern_length_are_bounded_by_settings() -> None:
    raw: dict = {"a": 1}
    for _ in range(20):
        raw = {"$not": raw}
    with pytest.raises(errors.InvalidArgument) as info:
        parse_filter(raw)
    assert "deeper than 16" in str(info.value)
    tight = FilterSettings(max_regex_chars=4, max_depth=2)
    assert parse_filter({"$not": {"a": 1}}, limits=tight)
    with pytest.raises(errors.InvalidArgument, match="deeper than 2"):
        parse_filter({"$not": {"$not": {"a": 1}}}, limits=tight)
    with pytest.raises(errors.InvalidArgument, match="longer than 4"):
        parse_filter({"s": {"regex": "abcde"}}, limits=tight)
