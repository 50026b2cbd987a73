"""ModelService end to end: Embed with the real local model and with HTTP providers,
Chat streamed from each provider's wire format (a local fake server), and clean
errors when a provider times out or answers garbage — through gRPC and REST."""

from __future__ import annotations

import math

import httpx
import numpy as np
import pytest

from lakehouse.api.errors import InvalidArgument, Unavailable
from tests.support.fake_llm import FakeLLM
from tests.support.system import System

API_KEY = "test-key"
PROVIDER_TIMEOUT_S = "1.0"


@pytest.fixture(scope="module")
def fake():
    with FakeLLM(dimension=16, api_key=API_KEY, slow_s=3.0) as server:
        yield server


@pytest.fixture(scope="module")
def msystem(tmp_path_factory, fake):
    env = {
        "LAKEHOUSE_MODELS__OLLAMA_URL": fake.url,
        "LAKEHOUSE_MODELS__OPENAI_URL": fake.openai_url,
        "LAKEHOUSE_MODELS__OPENAI_API_KEY": API_KEY,
        "LAKEHOUSE_MODELS__ANTHROPIC_URL": fake.url,
        "LAKEHOUSE_MODELS__ANTHROPIC_API_KEY": API_KEY,
        "LAKEHOUSE_MODELS__HTTP_TIMEOUT_S": PROVIDER_TIMEOUT_S,
        "LAKEHOUSE_MODELS__HTTP_RETRIES": "1",
        "LAKEHOUSE_MODELS__CHAT_MODEL": "fake-chat",
    }
    system = System.start(tmp_path_factory.mktemp("models-home"), env)
    yield system
    system.stop()


@pytest.fixture(autouse=True)
def _reset(fake):
    fake.reset()
    yield
    fake.reset()


def test_local_embeddings_over_rest(msystem):
    texts = ["Forklift operator, OSHA-10, Joliet IL", "Certified forklift driver with OSHA 10", "ICU nurse"]
    r = httpx.post(f"{msystem.rest}/v1/embed", json={"texts": texts}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provider"] == "local" and body["model"] == "all-MiniLM-L6-v2" and body["dimension"] == 384
    vecs = np.array([e["values"] for e in body["embeddings"]], dtype=np.float32)
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]  # paraphrase closer than an unrelated text


@pytest.mark.parametrize("provider", ["ollama", "openai"])
def test_http_embedding_providers(msystem, fake, provider):
    with msystem.client() as lh:
        vecs = lh.embed(["alpha", "beta"], provider=provider, model="fake-embed")
    assert np.allclose(vecs[0], fake.vector_for("alpha"), atol=1e-6)
    assert len(vecs) == 2 and len(vecs[1]) == fake.dimension
    sent = fake.requests[-1]
    assert sent.path.endswith("/api/embed" if provider == "ollama" else "/v1/embeddings")


def test_hash_provider_is_deterministic(msystem):
    with msystem.client() as lh:
        a = lh.embed(["same text"], provider="hash")[0]
        b = lh.embed(["same text"], provider="hash")[0]
    assert a == b and math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)


@pytest.mark.parametrize("provider", ["ollama", "openai", "anthropic"])
def test_chat_streams_tokens_from_each_provider(msystem, fake, provider):
    with msystem.client() as lh:
        chunks = list(
            lh.chat(
                [("system", "be brief"), ("user", "who can drive a forklift?")], provider=provider, model="fake-chat"
            )
        )
    assert len(chunks) > 2 and chunks[-1].done
    assert "".join(c.delta for c in chunks) == fake.reply
    assert chunks[-1].finish_reason == "stop"


def test_chat_over_rest_returns_the_stream_as_a_json_array(msystem, fake):
    r = httpx.post(
        f"{msystem.rest}/v1/chat",
        json={"provider": "openai", "model": "fake-chat", "messages": [{"role": "user", "content": "hi"}]},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    events = r.json()
    assert "".join(e["delta"] for e in events) == fake.reply and events[-1]["done"] is True


def test_list_models(msystem):
    body = httpx.get(f"{msystem.rest}/v1/models").json()
    names = {p["name"] for p in body["providers"]}
    assert {"local", "ollama", "openai", "anthropic", "hash"} <= names
    assert body["default_embed_provider"] == "local"


def test_bad_embed_requests(msystem):
    r = httpx.post(f"{msystem.rest}/v1/embed", json={"texts": []})
    assert r.status_code == 400
    r = httpx.post(f"{msystem.rest}/v1/embed", json={"texts": ["x"], "provider": "nope"})
    assert r.status_code == 400
    with msystem.client() as lh, pytest.raises(InvalidArgument):
        lh.chat([("wizard", "hi")], provider="ollama").__next__()


def test_provider_timeout_is_a_clean_503(msystem, fake):
    fake.mode = "slow"
    r = httpx.post(f"{msystem.rest}/v1/embed", json={"texts": ["x"], "provider": "ollama", "model": "m"}, timeout=60)
    assert r.status_code == 503, r.text
    info = next(d for d in r.json()["details"] if d["@type"].endswith("ErrorInfo"))
    assert info["reason"] == "EMBEDDING_PROVIDER_UNAVAILABLE"


@pytest.mark.parametrize("mode", ["garbage", "nan", "wrong_count"])
def test_provider_garbage_is_a_clean_error(msystem, fake, mode):
    fake.mode = mode
    with msystem.client() as lh, pytest.raises(Unavailable) as exc:
        lh.embed(["a", "b"], provider="openai", model="m")
    assert exc.value.reason == "EMBEDDING_PROVIDER_BAD_RESPONSE"


def test_truncated_chat_stream_is_reported(msystem, fake):
    fake.mode = "truncated"
    with msystem.client() as lh, pytest.raises(Unavailable) as exc:
        list(lh.chat([("user", "hi")], provider="anthropic", model="fake-chat"))
    assert exc.value.reason == "CHAT_STREAM_TRUNCATED"


def test_corpus_on_an_http_model_fails_cleanly_and_adds_nothing(msystem, fake):
    with msystem.client() as lh:
        corpus = lh.create_corpus("via_ollama", embedding_model="ollama/fake-embed")
        assert corpus.dimension == fake.dimension and corpus.embedding_model == "ollama/fake-embed"
        lh.add_items("via_ollama", [{"id": "a", "text": "forklift operator"}])
        for mode, error in (("slow", Unavailable), ("garbage", Unavailable), ("nan", Unavailable)):
            fake.mode = mode
            with pytest.raises(error):
                lh.add_items("via_ollama", [{"id": "b", "text": "nurse"}])
            with pytest.raises(error):
                lh.search("via_ollama", text="nurse")
        fake.reset()
        assert lh.get_corpus("via_ollama").count == 1
        assert lh.search("via_ollama", text="forklift operator", k=1).results[0].id == "a"
