"""The record evaluator: what each condition means on one record (missing values, lists,
nested objects, supersession), and clean refusals of values of the wrong type."""

from __future__ import annotations

import pytest

from lakehouse.servers.settings import TruthSettings
from lakehouse.servers.truth.core import EXAMPLES_DIR
from lakehouse.servers.truth.evaluate import TypeMismatch, compile_condition, compile_rules
from lakehouse.servers.truth.parser import parse
from lakehouse.servers.truth.rules import RuleSet, load_rules

PLAIN = RuleSet("plain", ())
OSHA = RuleSet("osha", (), satisfies={"OSHA-10": frozenset({"OSHA-10", "OSHA-30"})})
STAFFING = load_rules((EXAMPLES_DIR / "staffing.toml").read_text(), TruthSettings())
RECORD = {
    "state": "IL",
    "years": 7,
    "rate": 21.5,
    "available": True,
    "certifications": ["OSHA-30", "First Aid"],
    "roles": ["forklift operator"],
    "home": {"city": "Joliet", "zip": "60431"},
    "empty": [],
}


def holds(text: str, record=RECORD, rule_set: RuleSet = PLAIN) -> bool:
    return compile_condition(parse(text), rule_set)(record)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('state = "IL"', True),
        ('state != "IL"', False),
        ("years >= 7 and years < 8", True),
        ("rate > 21.4 and rate <= 21.5", True),
        ("years = 7.0", True),
        ('state < "MI" and "IA" < state', True),
        ("available", True),
        ("not available", False),
        ("available = true", True),
        ('"First Aid" in certifications', True),
        ('certifications contains "CPR"', False),
        ('"CPR" not in certifications', True),
        ('state in ["IL", "WI"]', True),
        ("years in [1, 7]", True),
        ("years not in [1, 2]", True),
        ("state in []", False),
        ('home.zip = "60431"', True),
        ('home.city in ["Joliet"]', True),
        ("home.missing = null", True),
        ("state != null", True),
        ('"x" in empty', False),
        ("true and not false", True),
        ('state = "IL" and (years > 10 or rate < 22)', True),
        ('not (state = "IL" or years = 1)', False),
    ],
)
def test_conditions_on_a_record(text, expected):
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("missing = 1", False),
        ("missing != 1", False),  # a comparison with a missing value is false, both ways
        ("not (missing = 1)", True),
        ("missing = null", True),
        ("missing != null", False),
        ('"a" in missing', False),
        ('"a" not in missing', True),  # `not in` is `not (in)`
        ("missing in [1, 2]", False),
        ("missing", False),
        ("state.deeper = 1", False),  # a path through a non-object is missing
        ("home.city.x = null", True),
    ],
)
def test_missing_values_are_null_and_comparisons_with_null_are_false(text, expected):
    assert holds(text) is expected


def test_null_list_elements_never_match_and_list_of_values_compare_by_value():
    assert holds('"a" in xs', {"xs": [None, "a"]}) and not holds('"b" in xs', {"xs": [None]})
    assert holds("n in xs", {"n": 2, "xs": [1, 2.0]}) and not holds("n in xs", {"xs": [1]})


def test_osha_30_meets_a_requirement_for_osha_10():
    assert holds('"OSHA-10" in certifications', rule_set=OSHA)
    assert not holds('"OSHA-10" in certifications')  # without the supersession: exact values
    assert holds('cert in ["OSHA-10"]', {"cert": "OSHA-30"}, OSHA)  # the required list is widened
    assert not holds('"OSHA-30" in certifications', {"certifications": ["OSHA-10"]}, OSHA)  # not the other way
    assert not holds('cert = "OSHA-10"', {"cert": "OSHA-30"}, OSHA)  # equality stays exact
    assert holds('"OSHA-10" not in certifications', {"certifications": ["CPR"]}, OSHA)
    assert not holds('"OSHA-10" not in certifications', {"certifications": ["OSHA-30"]}, OSHA)


def _broken(record) -> list[str]:
    return [c.rule.id for c in compile_rules(STAFFING) if c.applies(record) and not c.holds(record)]


def test_the_staffing_rules_on_candidates():
    maria = {"state": "IL", "roles": ["forklift operator", "picker packer"], "certifications": ["OSHA-30", "First Aid"]}
    luis = {"state": "IL", "roles": ["forklift operator"], "certifications": ["OSHA-10", "Forklift"]}
    ana = {"state": "WI", "roles": ["warehouse associate"], "certifications": ["OSHA-10", "Forklift"]}
    john = {"state": "TX", "roles": ["welder"], "certifications": []}
    nobody = {}
    assert _broken(maria) == ["forklift-certification"]  # OSHA-30 meets IL's OSHA-10
    assert _broken(luis) == [] and _broken(ana) == []
    assert _broken(john) == ["welder-aws-certification"]
    assert _broken(nobody) == ["known-state"]
    assert _broken({"state": "IL", "certifications": ["First Aid"]}) == ["il-state-valid-certification"]


@pytest.mark.parametrize(
    ("text", "record", "field"),
    [
        ('state = "IL"', {"state": 5}, "state"),
        ("years > 1", {"years": "seven"}, "years"),
        ("years > 1", {"years": True}, "years"),  # a boolean is not a number
        ("available", {"available": "yes"}, "available"),
        ('"a" in roles', {"roles": "a"}, "roles"),
        ('"a" in roles', {"roles": [1]}, "roles"),
        ("state in [1, 2]", {"state": "IL"}, "state"),
        ("x in ys", {"x": ["a"], "ys": [["a"]]}, "x"),
        ("a = b", {"a": [1], "b": [1]}, "a"),
    ],
)
def test_values_of_the_wrong_type_are_refused(text, record, field):
    with pytest.raises(TypeMismatch) as caught:
        holds(text, record)
    assert caught.value.field == field
