"""AskCore on a stand-in matrix (fixed hits) and the real models core: the derived
filter, grounding checks, extractive sentence choice, and a provider that refuses
connections."""

from __future__ import annotations

import pytest

from lakehouse.api import errors
from lakehouse.api.ask import AskQuery, Retrieved, Token, fallback_of
from lakehouse.api.matrix import MatrixHit, MatrixResult
from lakehouse.gateway.process import free_port
from lakehouse.servers.ask.core import AskCore
from lakehouse.servers.ask.derive import derive_filter
from lakehouse.servers.ask.grounding import cited, ungrounded
from lakehouse.servers.models.core import ModelsCore
from lakehouse.servers.settings import AskSettings, ModelSettings, Settings
from lakehouse.servers.vocabulary import Vocabulary
from tests.support.fake_llm import FakeLLM

VOCABULARY = Vocabulary(Settings().vocabulary)
CHUNKS = [
    ("d1", 1, "Maria Lopez\nJoliet, IL 60431\nCERTIFICATIONS\nOSHA-30\nFirst Aid", {"state": "IL"}),
    ("d1", 2, "Forklift Operator duties at Midwest Logistics.\nNight shift lead.", {"state": "IL"}),
    ("d2", 1, "Luis Ortega\nChicago, IL\nForklift operator, OSHA-10 card.", {"state": "IL"}),
]


class FixedMatrix:
    """Answers every search with the same hits, and remembers the requests."""

    def __init__(self, chunks=CHUNKS) -> None:
        self.requests = []
        self._chunks = chunks

    def search(self, request):
        self.requests.append(request)
        hits = [
            MatrixHit(
                corpus="resumes",
                id=f"{doc}#{page - 1}",
                score=0.9 - 0.1 * n,
                fused_score=0.9 - 0.1 * n,
                rank_in_corpus=n + 1,
                generation=1,
                metadata={"doc_id": doc, "page": page, "file_name": f"{doc}.pdf", **meta},
                text=text,
            )
            for n, (doc, page, text, meta) in enumerate(self._chunks)
        ]
        return MatrixResult(hits, [], 0, "composed", False, "", [], False)


def _core(matrix, models=None, **ask) -> AskCore:
    models = models or ModelsCore(ModelSettings())
    return AskCore(lambda: matrix, lambda: models, AskSettings(**ask), VOCABULARY)


def test_the_derived_filter_requires_each_certification_and_allows_any_state():
    assert derive_filter(VOCABULARY, "Forklift operator with OSHA-30 in IL") == {
        "$and": [{"state": "IL"}, {"certifications": "OSHA-30"}, {"roles": "forklift operator"}]
    }
    both = derive_filter(VOCABULARY, "welders in Ohio or Texas with OSHA-10 and First Aid")
    assert both == {
        "$and": [
            {"state": ["OH", "TX"]},
            {"certifications": "OSHA-10"},
            {"certifications": "First Aid"},
            {"roles": "welder"},
        ]
    }
    assert derive_filter(VOCABULARY, "Machine operator with First Aid in IN") == {
        "$and": [{"state": "IN"}, {"certifications": "First Aid"}, {"roles": "machine operator"}]
    }  # an ambiguous code after "in" is a state
    assert derive_filter(VOCABULARY, "Welder with AWS certification in TX")["$and"][1] == {
        "certifications": "AWS Welding"
    }
    assert derive_filter(VOCABULARY, "who is good at talking to people?") is None


def test_citations_are_parsed_and_checked_against_the_sources():
    assert cited("A [1], B [2, 3] and [2][9].") == [1, 2, 3, 9]
    assert ungrounded("A [1], B [2, 3] and [2][9].", 5) == (9,)
    assert ungrounded("nothing cited", 5) == () and ungrounded("[0]", 3) == (0,)


def test_extractive_answers_cover_each_part_of_the_question():
    matrix = FixedMatrix()
    answer = _core(matrix).ask(AskQuery("Forklift operator with OSHA-30 in IL"))
    assert answer.mode == "extractive" and answer.grounded
    first = answer.candidates[0]
    assert first.file_name == "d1.pdf" and first.citations == (2, 1)
    assert first.sentences[0].startswith("Forklift Operator duties") and first.sentences[1] == "OSHA-30 [1]"
    assert [c.file_name for c in answer.candidates] == ["d1.pdf", "d2.pdf"]
    (request,) = matrix.requests
    assert request.relevance.enabled and request.include_text and request.filter["$and"][0] == {"state": "IL"}


def test_an_empty_filter_turns_derivation_off_and_k_caps_the_chunks():
    matrix = FixedMatrix()
    answer = _core(matrix).ask(AskQuery("Forklift operator with OSHA-30 in IL", filter={}, k=2))
    assert matrix.requests[0].filter is None and answer.retrieval.filter_source == "none"
    assert [c.n for c in answer.citations] == [1, 2]


def test_a_refused_connection_is_provider_down_with_the_extractive_answer():
    models = ModelsCore(ModelSettings(ollama_url=f"http://127.0.0.1:{free_port()}", http_retries=0))
    core = _core(FixedMatrix(), models, provider="ollama", model="m")
    events = []
    with pytest.raises(errors.Unavailable) as info:
        for event in core.stream(AskQuery("Forklift operator with OSHA-30 in IL")):
            events.append(event)
    assert isinstance(events[0], Retrieved)  # the retrieval went out before generation failed
    assert info.value.reason == "CHAT_PROVIDER_DOWN" and "ollama" in info.value.message
    fallback = fallback_of(info.value)
    assert fallback.mode == "extractive" and fallback.candidates[0].file_name == "d1.pdf"


def test_the_prompt_holds_the_numbered_chunks_and_tokens_stream():
    with FakeLLM(reply="Maria [1] has OSHA-30 [1].") as fake:
        models = ModelsCore(fake.model_settings(chat_model="m"))
        events = list(_core(FixedMatrix(), models, provider="ollama").stream(AskQuery("OSHA-30 forklift in IL")))
        prompt = fake.requests[-1].body["messages"][1]["content"]
    assert [e.text for e in events if isinstance(e, Token)] == fake.reply_tokens()
    assert prompt.startswith("Sources:\n[1] (d1.pdf, page 1) Maria Lopez")
    assert "[2] (d1.pdf, page 2) Forklift Operator duties" in prompt and "[3] (d2.pdf, page 1)" in prompt
    assert "[4]" not in prompt and prompt.endswith("Question: OSHA-30 forklift in IL")
    assert events[-1].answer.grounded and events[-1].answer.mode == "generative"


@pytest.mark.parametrize(("question", "field"), [("", "question"), ("x" * 5000, "question")])
def test_bad_questions_name_the_field(question, field):
    with pytest.raises(errors.InvalidArgument) as info:
        _core(FixedMatrix()).ask(AskQuery(question))
    assert info.value.violations[0].field == field
