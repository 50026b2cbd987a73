"""The models API's contract, run against ModelsCore in-process and RemoteModels over gRPC
(lakehouse.api.models): same domain types, same errors."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.api.models import ChatMessage, EmbedResult, ModelsApi, RemoteModels
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import ModelSettings, Settings
from tests.support.contract import IMPLEMENTATIONS, implementation


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    settings = Settings(
        home=tmp_path_factory.mktemp("models-contract") / "home",
        models=ModelSettings(embed_provider="hash", embed_model="hash-16", chat_provider="ollama", ollama_url=""),
    )
    lh = build_server(settings, "models")
    yield lh
    lh.stop(0)


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest, server) -> Iterator[ModelsApi]:
    yield from implementation(request.param, server.address, lambda: server.runtime.models, RemoteModels)


def test_embed_returns_the_same_domain_type(api: ModelsApi) -> None:
    result = api.embed(["forklift operator", "ICU nurse"])
    assert isinstance(result, EmbedResult)
    assert (result.provider, result.model, result.dimension) == ("hash", "hash-16", 16)
    assert result.vectors.shape == (2, 16) and result.vectors.dtype == np.float32
    assert api.resolve_embed("", "") == ("hash", "hash-16") and api.dimension("hash", "hash-8") == 8


def test_listing_is_the_same(api: ModelsApi) -> None:
    listing = api.list_models()
    assert listing["default_embed_provider"] == "hash"
    assert {p["name"] for p in listing["providers"]} >= {"local", "hash", "ollama", "openai", "anthropic"}


@pytest.mark.parametrize(
    ("call", "error", "reason"),
    [
        (lambda a: a.embed([]), errors.InvalidArgument, "EMPTY_INPUT"),
        (lambda a: a.embed(["x"], provider="nope"), errors.InvalidArgument, "UNKNOWN_PROVIDER"),
        (lambda a: list(a.chat([ChatMessage("user", "hi")])), errors.InvalidArgument, "MODEL_REQUIRED"),
    ],
    ids=["no-texts", "unknown-provider", "chat-no-model"],
)
def test_errors_are_the_same_both_ways(api: ModelsApi, call, error, reason) -> None:
    with pytest.raises(errors.LakehouseError) as info:
        call(api)
    assert type(info.value) is error and info.value.reason == reason, info.value
