"""ModelsCore: provider/model resolution, request validation, dimensions, listing, lifecycle.
Uses the hash embedder (instant) and the fake HTTP provider; the local model's own
proofs are in test_models_local.py."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.servers.models import embed_hash
from lakehouse.servers.models.core import ModelsCore
from lakehouse.servers.models.model import ChatMessage
from lakehouse.servers.settings import ModelSettings
from tests.support.fake_llm import FakeLLM


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    with FakeLLM(dimension=12) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeLLM) -> Iterator[FakeLLM]:
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def hash_core() -> Iterator[ModelsCore]:
    with ModelsCore(ModelSettings(embed_provider="hash", embed_model="hash-64", max_texts_per_request=5)) as core:
        yield core


def test_default_provider_and_model(hash_core: ModelsCore) -> None:
    result = hash_core.embed(["forklift operator", "nurse"])
    assert (result.provider, result.model, result.dimension) == ("hash", "hash-64", 64)
    assert result.vectors.shape == (2, 64) and result.vectors.dtype == np.float32


def test_provider_per_request_with_its_own_default_model(hash_core: ModelsCore) -> None:
    result = hash_core.embed(["x"], provider="hash", model="hash-8")
    assert result.dimension == 8
    # Another provider than the configured one gets that provider's default model.
    other = ModelsCore(ModelSettings(embed_provider="local"))
    assert other.resolve_embed("hash", "") == ("hash", embed_hash.DEFAULT_MODEL)


def test_bare_provider_name_means_its_default_model(hash_core: ModelsCore) -> None:
    """A corpus created with embedding_model "local" gets local/all-MiniLM-L6-v2."""
    from lakehouse.servers.vector.embedder import ModelsEmbedder

    with ModelsCore(ModelSettings()) as core:
        assert core.resolve_embed("", "local") == ("local", "all-MiniLM-L6-v2")
        assert ModelsEmbedder(core).resolve("local") == "local/all-MiniLM-L6-v2"
        assert not core._local.loaded
    # The configured provider's bare name keeps the configured model; another's gets its own default.
    assert hash_core.resolve_embed("", "hash") == ("hash", "hash-64")
    assert hash_core.resolve_embed("", "local") == ("local", "all-MiniLM-L6-v2")
    # An explicit provider still takes the name as a model name.
    with pytest.raises(errors.InvalidArgument):
        hash_core.resolve_embed("hash", "hash")


def test_empty_list_is_invalid(hash_core: ModelsCore) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        hash_core.embed([])
    assert info.value.reason == "EMPTY_INPUT" and info.value.violations[0].field == "texts"


def test_too_many_texts(hash_core: ModelsCore) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        hash_core.embed(["t"] * 6)
    assert info.value.reason == "TOO_MANY_TEXTS" and "at most 5" in info.value.message


def test_too_long_texts_are_named() -> None:
    settings = ModelSettings(embed_provider="hash", embed_model="hash-8", max_text_chars=10)
    with ModelsCore(settings) as core, pytest.raises(errors.InvalidArgument) as info:
        core.embed(["short", "x" * 11, "ok", "y" * 50])
    assert info.value.reason == "TEXT_TOO_LONG"
    assert [v.field for v in info.value.violations] == ["texts[1]", "texts[3]"]


@pytest.mark.parametrize("texts", [["ok", 3], "a string, not a list", ["ok", None]])
def test_non_text_input_is_invalid(hash_core: ModelsCore, texts: object) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        hash_core.embed(texts)  # type: ignore[arg-type]
    assert info.value.reason == "INVALID_TEXT"


def test_unknown_provider_lists_the_known_ones(hash_core: ModelsCore) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        hash_core.embed(["x"], provider="cohere")
    assert info.value.reason == "UNKNOWN_PROVIDER"
    for known in ("local", "hash", "ollama", "openai"):
        assert known in info.value.message


def test_unknown_local_model_is_invalid_without_loading() -> None:
    with ModelsCore(ModelSettings()) as core:
        with pytest.raises(errors.InvalidArgument) as info:
            core.embed(["x"], provider="local", model="e5-large")
        assert info.value.reason == "UNKNOWN_MODEL" and "all-MiniLM-L6-v2" in info.value.message
        assert not core._local.loaded


@pytest.mark.parametrize("model", ["hash", "hash-1", "hash-99999", "all-MiniLM-L6-v2"])
def test_bad_hash_model_names(hash_core: ModelsCore, model: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        hash_core.embed(["x"], provider="hash", model=model)


def test_http_provider_needs_a_model(fake: FakeLLM) -> None:
    with ModelsCore(fake.model_settings()) as core, pytest.raises(errors.InvalidArgument) as info:
        core.embed(["x"], provider="ollama")
    assert info.value.reason == "MODEL_REQUIRED" and fake.requests == []


def test_local_dimension_without_running_the_model() -> None:
    with ModelsCore(ModelSettings()) as core:
        assert core.dimension() == 384
        assert core.dimension("local", "sentence-transformers/all-MiniLM-L6-v2") == 384
        assert not core._local.loaded


def test_hash_dimension(hash_core: ModelsCore) -> None:
    assert hash_core.dimension() == 64
    assert hash_core.dimension("hash", "hash-300") == 300


def test_http_dimension_is_probed_once_and_cached(fake: FakeLLM) -> None:
    with ModelsCore(fake.model_settings(embed_provider="ollama", embed_model="fake-embed")) as core:
        assert core.dimension() == 12
        assert core.dimension("ollama", "fake-embed") == 12
        assert len(fake.requests) == 1
        # A real call teaches the dimension too: no probe for openai afterwards.
        core.embed(["x"], provider="openai", model="fake-embed")
        assert core.dimension("openai", "fake-embed") == 12
        assert len(fake.requests) == 2


def test_http_dimension_probe_failure_is_a_clean_error(fake: FakeLLM) -> None:
    fake.mode = "nan"
    with ModelsCore(fake.model_settings()) as core, pytest.raises(errors.Unavailable) as info:
        core.dimension("ollama", "fake-embed")
    assert info.value.reason == "EMBEDDING_PROVIDER_BAD_RESPONSE"


def test_list_models_reports_the_configuration(fake: FakeLLM) -> None:
    settings = fake.model_settings(
        embed_provider="openai", embed_model="text-embed-fake", chat_provider="anthropic", chat_model="claude-fake"
    )
    with ModelsCore(settings) as core:
        listing = core.list_models()
    assert listing["default_embed_provider"] == "openai" and listing["default_chat_provider"] == "anthropic"
    assert fake.requests == [], "listing must not contact providers"
    by_name = {p["name"]: p for p in listing["providers"]}
    assert list(by_name) == ["local", "hash", "ollama", "openai", "anthropic"]
    assert by_name["local"] == {
        "name": "local",
        "embeddings": True,
        "chat": False,
        "default_model": "all-MiniLM-L6-v2",
        "configured": True,
    }
    assert by_name["openai"]["default_model"] == "text-embed-fake" and by_name["openai"]["chat"]
    assert by_name["anthropic"] == {
        "name": "anthropic",
        "embeddings": False,
        "chat": True,
        "default_model": "claude-fake",
        "configured": True,
    }


def test_list_models_marks_unconfigured_providers() -> None:
    with ModelsCore(ModelSettings(openai_url="", anthropic_url="")) as core:
        listing = core.list_models()
        assert not core._local.loaded
    configured = {p["name"]: p["configured"] for p in listing["providers"]}
    assert configured == {"local": True, "hash": True, "ollama": True, "openai": False, "anthropic": False}
    assert listing["default_embed_provider"] == "local"


def test_chat_delegates(fake: FakeLLM) -> None:
    with ModelsCore(fake.model_settings(chat_provider="ollama", chat_model="fake-chat")) as core:
        reply = "".join(c.delta for c in core.chat([ChatMessage("user", "hi")]))
    assert reply == fake.reply


def test_clients_are_shared_between_embed_and_chat(fake: FakeLLM) -> None:
    with ModelsCore(fake.model_settings(chat_model="fake-chat")) as core:
        core.embed(["x"], provider="ollama", model="fake-embed")
        list(core.chat([ChatMessage("user", "hi")], provider="ollama"))
        assert list(core._clients) == ["ollama"]


def test_settings_are_exposed_for_clients_of_the_core() -> None:
    settings = ModelSettings(embed_provider="hash", embed_model="hash-8")
    assert ModelsCore(settings).settings is settings


def test_close_releases_clients_and_refuses_later_calls(fake: FakeLLM) -> None:
    core = ModelsCore(fake.model_settings(chat_model="fake-chat"))
    core.embed(["x"], provider="ollama", model="fake-embed")
    client = core._clients["ollama"]
    core.close()
    assert client._client.is_closed
    for call in (
        lambda: core.embed(["x"], provider="hash", model="hash-8"),
        lambda: core.dimension("local"),
        lambda: core.chat([ChatMessage("user", "hi")], provider="ollama"),
    ):
        with pytest.raises(errors.Unavailable) as info:
            call()
        assert info.value.reason == "MODELS_CLOSED"


def test_hash_embedder_is_deterministic_and_lexical() -> None:
    texts = ["forklift operator Joliet", "forklift operator in Joliet IL", "registered nurse ICU"]
    a = embed_hash.HashEmbedder().embed(texts, "hash-128")
    b = embed_hash.HashEmbedder().embed(texts, "hash-128")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-6)
    assert a[0] @ a[1] > a[0] @ a[2] + 0.3
    assert not np.any(embed_hash.HashEmbedder().embed(["!!!"], "hash-16"))  # no words: zero vector
