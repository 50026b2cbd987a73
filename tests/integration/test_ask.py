"""Ask end to end on ingested résumé PDFs: the filter derived from the question, the
matrix retrieval, extractive answers with no model, generative answers through each
provider's wire format (the fake LLM), grounding checks, a provider that is down, and
streaming over gRPC and REST (Envoy), and the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import httpx
import pytest
from google.protobuf import json_format

from lakehouse.api.ask import fallback_of
from lakehouse.api.errors import InvalidArgument, Unavailable
from lakehouse.demo.resumes import Resume
from tests.support.documents import ANA, JOHN, MARIA, pdf, zip_of
from tests.support.fake_llm import FakeLLM
from tests.support.system import System

CORPUS = "ask_resumes"
QUESTION = "Forklift operator with OSHA-30 in IL"
LUIS = Resume(
    name="Luis Ortega",
    city="Chicago",
    state="IL",
    zip_code="60601",
    email="luis.ortega@example.com",
    phone="312-555-0142",
    roles=("forklift operator",),
    certifications=("OSHA-10",),
    skills=("pallet jack",),
    years=2,
)


@pytest.fixture(scope="module")
def fake():
    with FakeLLM() as llm:
        yield llm


@pytest.fixture(scope="module")
def asystem(tmp_path_factory, fake):
    env = {
        "LAKEHOUSE_MODELS__OLLAMA_URL": fake.url,
        "LAKEHOUSE_MODELS__OPENAI_URL": fake.openai_url,
        "LAKEHOUSE_MODELS__ANTHROPIC_URL": fake.url,
        "LAKEHOUSE_MODELS__CHAT_MODEL": "fake-model",
        "LAKEHOUSE_MODELS__HTTP_RETRIES": "1",
        "LAKEHOUSE_MODELS__HTTP_TIMEOUT_S": "5",
        "LAKEHOUSE_ASK__CORPORA": json.dumps([CORPUS]),
    }
    system = System.start(tmp_path_factory.mktemp("ask-home"), env)
    with system.client() as lh:
        archive = zip_of({"maria.pdf": pdf(MARIA), "john.pdf": pdf(JOHN), "ana.pdf": pdf(ANA), "luis.pdf": pdf(LUIS)})
        result = lh.ingest("ask_resumes", archive, format="zip", embed={"embed_corpus": CORPUS})
        assert result.rows == 4
    yield system
    system.stop()


@pytest.fixture(autouse=True)
def _fresh_fake(fake):
    fake.reset()
    yield


def test_extractive_answer_from_the_derived_filter_cites_pages(asystem):
    with asystem.client() as lh:
        answer = lh.ask(QUESTION)
    assert answer.mode == "extractive" and answer.grounded and not answer.ungrounded_citations
    r = answer.retrieval
    assert r.filter_source == "derived"
    clauses = json_format.MessageToDict(r.filter)["$and"]
    assert {"state": "IL"} in clauses and {"certifications": "OSHA-30"} in clauses
    assert {"roles": "forklift operator"} in clauses
    assert {c.file_name for c in answer.citations} == {"maria.pdf"}  # Luis has OSHA-10, not 30
    assert all(c.page >= 1 and c.doc_id and c.snippet for c in answer.citations)
    assert [c.file_name for c in answer.candidates] == ["maria.pdf"]
    assert "maria.pdf" in answer.answer and "luis.pdf" not in answer.answer
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert cited and cited <= {c.n for c in answer.citations}
    assert any("OSHA-30" in s for s in answer.candidates[0].sentences)


def test_an_explicit_filter_replaces_the_derived_one(asystem):
    with asystem.client() as lh:
        derived = lh.ask("welder with MIG welding experience in IL")
        texas = lh.ask("welder with MIG welding experience in IL", filter={"state": "TX"})
        unfiltered = lh.ask(QUESTION, filter={}, k=8)
    assert derived.retrieval.filter_source == "derived" and not derived.citations  # no welder in IL
    assert texas.retrieval.filter_source == "explicit"
    assert {c.file_name for c in texas.citations} == {"john.pdf"}
    assert unfiltered.retrieval.filter_source == "none" and not unfiltered.retrieval.HasField("filter")
    assert len({c.file_name for c in unfiltered.citations}) > 1


def test_nothing_relevant_says_so_and_names_no_one(asystem, fake):
    with asystem.client() as lh:
        answer = lh.ask("Registered nurse with ICU experience in Alaska", provider="ollama")
    assert answer.retrieval.retrieved == 0 and not answer.citations and not answer.candidates
    assert answer.answer == "No matching candidates were found for this question."
    assert fake.requests == []  # no model is asked to answer from nothing


@pytest.mark.parametrize("provider", ["ollama", "openai", "anthropic"])
def test_a_generative_answer_sees_exactly_the_retrieved_chunks(asystem, fake, provider):
    fake.reply = "Maria Lopez is a forklift operator with OSHA-30 [1]."
    with asystem.client() as lh:
        answer = lh.ask(QUESTION, provider=provider, model="fake-model")
    assert answer.mode == "generative" and answer.provider == provider
    assert answer.answer == fake.reply and answer.grounded
    (request,) = [r for r in fake.requests if "chat" in r.path or "messages" in r.path]
    body = request.body
    messages = body.get("messages", [])
    prompt = "\n".join(m["content"] if isinstance(m["content"], str) else json.dumps(m["content"]) for m in messages)
    numbered = re.findall(r"^\[(\d+)\] ", prompt.split("Sources:", 1)[1], flags=re.M)
    assert [int(n) for n in numbered] == [c.n for c in answer.citations]  # every chunk, and only those
    for c in answer.citations:
        assert c.snippet.rstrip("\u2026") in prompt


def test_a_citation_of_a_chunk_never_retrieved_is_flagged(asystem, fake):
    fake.reply = "Maria [1] and an unnamed welder [9] fit."
    with asystem.client() as lh:
        answer = lh.ask("forklift or welding candidates", filter={}, k=5, provider="ollama")
    assert len(answer.citations) == 5
    assert list(answer.ungrounded_citations) == [9] and not answer.grounded


def test_a_provider_that_is_down_is_503_with_the_extractive_answer(asystem, fake):
    fake.fail_next(20, status=503)
    with asystem.client() as lh, pytest.raises(Unavailable) as info:
        lh.ask(QUESTION, provider="openai", model="fake-model")
    assert info.value.reason == "CHAT_PROVIDER_DOWN"
    fallback = fallback_of(info.value)
    assert fallback is not None and fallback.mode == "extractive"
    assert {c.file_name for c in fallback.citations} == {"maria.pdf"} and "maria.pdf" in fallback.answer
    fake.fail_next(20, status=503)
    r = httpx.post(
        f"{asystem.rest}/v1/ask", json={"question": QUESTION, "provider": "openai", "model": "fake-model"}, timeout=60
    )
    assert r.status_code == 503, r.text
    body = r.json()
    (attached,) = [d for d in body["details"] if d["@type"].endswith("lakehouse.v1.AskResponse")]
    assert attached["mode"] == "extractive" and attached["citations"][0]["file_name"] == "maria.pdf"


def test_streaming_over_grpc_and_rest(asystem, fake):
    fake.reply = "Maria Lopez holds OSHA-30 and drives forklifts [1]."
    with asystem.client() as lh:
        events = list(lh.ask_stream(QUESTION, provider="ollama"))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "retrieval" and kinds[-1] == "answer" and kinds.count("token") >= 3
    tokens = "".join(e.token for e in events if e.WhichOneof("event") == "token")
    assert tokens.strip() == events[-1].answer.answer == fake.reply
    with httpx.stream(
        "POST", f"{asystem.rest}/v1/ask:stream", json={"question": QUESTION, "provider": "ollama"}, timeout=60
    ) as r:
        assert r.status_code == 200
        raw = r.read().decode()
    messages = json.loads(raw)
    assert "retrieval" in messages[0] and "answer" in messages[-1]
    assert "".join(m.get("token", "") for m in messages).strip() == fake.reply


def test_bad_questions_are_refused_by_field(asystem):
    with asystem.client() as lh, pytest.raises(InvalidArgument) as info:
        lh.ask("   ")
    assert info.value.violations[0].field == "question"
    r = httpx.post(f"{asystem.rest}/v1/ask", json={"question": QUESTION, "filter": {"state": {"bogus": 1}}}, timeout=30)
    assert r.status_code == 400 and "filter" in r.text


def test_the_cli_streams_an_answer_and_lists_its_sources(asystem):
    done = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "ask", QUESTION],
        env={**os.environ, **asystem.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "filter (derived)" in done.stderr and "OSHA-30" in done.stderr
    assert "maria.pdf" in done.stdout and "sources (extractive):" in done.stdout
    assert re.search(r"^  \[1\] maria\.pdf, p\.\d", done.stdout, flags=re.M)
