"""Ask flags candidates with the truth rules they break: each retrieved document checked
once, the flags on its citations and its extractive candidate, and through the contract."""

from __future__ import annotations

import pytest

from lakehouse.api import errors
from lakehouse.api.ask import AskQuery, answer_from_pb, answer_to_pb, query_from_pb, query_to_pb
from lakehouse.api.matrix import MatrixHit, MatrixResult
from lakehouse.servers.ask.core import AskCore
from lakehouse.servers.models.core import ModelsCore
from lakehouse.servers.settings import AskSettings, ModelSettings, Settings
from lakehouse.servers.truth.core import TruthCore
from lakehouse.servers.vocabulary import Vocabulary

MARIA = {"doc_id": "maria", "state": "IL", "roles": ["forklift operator"], "certifications": ["OSHA-30"]}
LUIS = {"doc_id": "luis", "state": "IL", "roles": ["forklift operator"], "certifications": ["OSHA-10", "Forklift"]}
CHUNKS = [
    (MARIA, "Maria Lopez, Joliet, IL. Forklift operator. OSHA-30."),
    (MARIA, "Night shift lead at Midwest Logistics, forklift operator."),
    (LUIS, "Luis Ortega, Chicago, IL. Forklift operator with a forklift certification and OSHA-10."),
]


class FixedMatrix:
    def search(self, request):
        hits = [
            MatrixHit("resumes", f"{m['doc_id']}#{n}", 0.9 - 0.1 * n, 0.9 - 0.1 * n, n + 1, 1, dict(m), text)
            for n, (m, text) in enumerate(CHUNKS)
        ]
        return MatrixResult(hits, [], 0, "composed", False, "", [], False)


class CountingTruth(TruthCore):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, lambda: None)
        self.checked: list[str] = []

    def check(self, request):
        self.checked.append(request.record["doc_id"])
        return super().check(request)


@pytest.fixture
def truth(tmp_path):
    return CountingTruth(Settings(home=tmp_path))


def _core(truth, **ask) -> AskCore:
    models = ModelsCore(ModelSettings())
    return AskCore(
        FixedMatrix, lambda: models, AskSettings(**ask), Vocabulary(Settings().vocabulary), truth=lambda: truth
    )


def test_candidates_and_citations_carry_the_rules_they_break(truth):
    answer = _core(truth).ask(AskQuery("Forklift operator with OSHA-30 in IL", truth_rules="staffing"))
    flags = {c.id: [v.rule_id for v in c.violations] for c in answer.citations}
    assert flags == {"maria#0": ["forklift-certification"], "maria#1": ["forklift-certification"], "luis#2": []}
    assert truth.checked == ["maria", "luis"]  # once per document
    by_doc = {c.doc_id: [v.rule_id for v in c.violations] for c in answer.candidates}
    assert by_doc == {"maria": ["forklift-certification"], "luis": []}
    assert answer.citations[0].violations[0].key == "maria" and answer.citations[0].violations[0].severity == "error"
    # The contract carries them both ways.
    back = answer_from_pb(answer_to_pb(answer))
    assert [c.violations for c in back.citations] == [c.violations for c in answer.citations]
    assert [c.violations for c in back.candidates] == [c.violations for c in answer.candidates]
    assert query_from_pb(query_to_pb(AskQuery("q", truth_rules="staffing"))).truth_rules == "staffing"


def test_the_setting_turns_it_on_and_no_rules_means_no_check(truth):
    answer = _core(truth, truth_rules="staffing").ask(AskQuery("Forklift operator in IL"))
    assert answer.candidates[0].violations and truth.checked
    truth.checked.clear()
    plain = _core(truth).ask(AskQuery("Forklift operator in IL"))
    assert not truth.checked and all(not c.violations for c in plain.citations)


def test_an_unknown_rule_set_is_not_found(truth):
    with pytest.raises(errors.NotFound):
        _core(truth).ask(AskQuery("Forklift operator in IL", truth_rules="nope"))
