"""HTTP embedding providers (Ollama, OpenAI-compatible) against a real fake server,
including every failure mode: each must end in a clean domain error, never a raw
exception, a hang or a partial result."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.servers.models import embed_http
from lakehouse.servers.models.core import ModelsCore
from lakehouse.servers.models.embed_http import OpenAIEmbedder, to_matrix
from lakehouse.servers.models.transport import CHAT, EMBEDDING, ProviderClient
from lakehouse.servers.settings import ModelSettings
from tests.support.fake_llm import FakeLLM

API_KEY = "sk-test"
PROVIDERS = ["ollama", "openai"]
PATHS = {"ollama": "/api/embed", "openai": "/v1/embeddings"}
# Scheduling slack on a busy 2-core box, on top of the computed worst case.
SLACK_S = 1.5


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    with FakeLLM(dimension=16, api_key=API_KEY, slow_s=3.0) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeLLM) -> Iterator[FakeLLM]:
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def core(fake: FakeLLM) -> Iterator[ModelsCore]:
    c = ModelsCore(fake.model_settings(http_timeout_s=0.5, http_retries=1))
    yield c
    c.close()


def embed_error(core: ModelsCore, provider: str, texts: list[str] | None = None) -> errors.LakehouseError:
    with pytest.raises(errors.LakehouseError) as info:
        core.embed(texts or ["alpha", "beta", "gamma"], provider=provider, model="fake-embed")
    return info.value


@pytest.mark.parametrize("provider", PROVIDERS)
def test_embeds_in_order_with_the_wire_format(core: ModelsCore, fake: FakeLLM, provider: str) -> None:
    texts = ["forklift operator", "registered nurse", "cdl driver"]
    result = core.embed(texts, provider=provider, model="fake-embed")
    assert result.provider == provider and result.model == "fake-embed" and result.dimension == 16
    assert result.vectors.dtype == np.float32 and result.vectors.shape == (3, 16)
    np.testing.assert_allclose(result.vectors, np.array([fake.vector_for(t) for t in texts]), rtol=1e-6)
    request = fake.requests[-1]
    assert request.path == PATHS[provider]
    assert request.body["model"] == "fake-embed" and request.body["input"] == texts
    if provider == "openai":
        assert request.headers["authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_large_requests_are_split_and_reassembled(core: ModelsCore, fake: FakeLLM, provider: str) -> None:
    texts = [f"text number {i}" for i in range(embed_http.HTTP_EMBED_BATCH + 7)]
    vectors = core.embed(texts, provider=provider, model="fake-embed").vectors
    assert len(fake.requests) == 2
    np.testing.assert_allclose(vectors, np.array([fake.vector_for(t) for t in texts]), rtol=1e-6)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_timeout_is_a_clean_error_within_the_bound(fake: FakeLLM, provider: str) -> None:
    timeout_s, retries = 0.4, 1
    settings = fake.model_settings(http_timeout_s=timeout_s, http_retries=retries)
    with ModelsCore(settings) as core:
        fake.mode = "slow"
        started = time.monotonic()
        err = embed_error(core, provider)
        elapsed = time.monotonic() - started
    attempts = 1 + retries
    assert isinstance(err, errors.Unavailable)
    assert err.reason == "EMBEDDING_PROVIDER_UNAVAILABLE" and err.metadata["cause"] == "timeout"
    assert len(fake.requests) == attempts
    max_backoff_s = retries * settings.http_retry_backoff_max_s
    assert attempts * timeout_s <= elapsed < attempts * timeout_s + max_backoff_s + SLACK_S


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_failures_are_retried_then_succeed(
    core: ModelsCore, fake: FakeLLM, provider: str, status: int
) -> None:
    fake.fail_next(1, status=status)
    result = core.embed(["retry me"], provider=provider, model="fake-embed")
    assert len(fake.requests) == 2
    np.testing.assert_allclose(result.vectors[0], fake.vector_for("retry me"), rtol=1e-6)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_persistent_5xx_gives_unavailable_after_retries(core: ModelsCore, fake: FakeLLM, provider: str) -> None:
    fake.fail_next(5, status=502)
    err = embed_error(core, provider)
    assert isinstance(err, errors.Unavailable) and err.reason == "EMBEDDING_PROVIDER_UNAVAILABLE"
    assert err.metadata["cause"] == "http_502" and "injected HTTP 502" in err.message
    assert len(fake.requests) == 2  # 1 + http_retries


def test_persistent_429_is_resource_exhausted_and_honours_retry_after(core: ModelsCore, fake: FakeLLM) -> None:
    fake.fail_next(2, status=429, retry_after=0.6)
    started = time.monotonic()
    err = embed_error(core, "openai")
    assert time.monotonic() - started >= 0.6 * (1 - ModelSettings().http_retry_jitter)
    assert isinstance(err, errors.ResourceExhausted) and err.reason == "PROVIDER_RATE_LIMITED"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("mode", ["garbage", "wrong_count", "nan", "bad_dims", "truncated"])
def test_bad_responses_are_clean_errors(core: ModelsCore, fake: FakeLLM, provider: str, mode: str) -> None:
    fake.mode = mode
    err = embed_error(core, provider)
    assert isinstance(err, errors.Unavailable)
    assert err.reason == "EMBEDDING_PROVIDER_BAD_RESPONSE"
    assert len(fake.requests) == 1  # a malformed 200 is not retried


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connection_cut_mid_body_is_retried_then_unavailable(core: ModelsCore, fake: FakeLLM, provider: str) -> None:
    fake.mode = "cut"
    err = embed_error(core, provider)
    assert isinstance(err, errors.Unavailable) and err.reason == "EMBEDDING_PROVIDER_UNAVAILABLE"
    assert err.metadata["cause"] == "network" and len(fake.requests) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unauthorized_is_failed_precondition_without_retry(fake: FakeLLM, provider: str) -> None:
    fake.mode = "unauthorized"
    with ModelsCore(fake.model_settings()) as core:
        err = embed_error(core, provider)
    assert isinstance(err, errors.FailedPrecondition) and err.reason == "PROVIDER_AUTH_FAILED"
    assert "invalid api key" in err.message and len(fake.requests) == 1


def test_wrong_api_key_is_rejected(fake: FakeLLM) -> None:
    with ModelsCore(fake.model_settings(openai_api_key="wrong")) as core:
        err = embed_error(core, "openai")
    assert isinstance(err, errors.FailedPrecondition) and err.metadata["http_status"] == "401"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_model_is_invalid_argument_with_the_providers_message(fake: FakeLLM, provider: str) -> None:
    fake.models = {"fake-embed"}
    try:
        with ModelsCore(fake.model_settings()) as core:
            with pytest.raises(errors.InvalidArgument) as info:
                core.embed(["x"], provider=provider, model="no-such-model")
    finally:
        fake.models = None
    assert info.value.reason == "PROVIDER_REJECTED"
    assert "'no-such-model' not found" in info.value.message
    assert len(fake.requests) == 1


def test_unreachable_provider_is_unavailable() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ModelsCore(ModelSettings(ollama_url=f"http://127.0.0.1:{port}", http_retries=1)) as core:
        err = embed_error(core, "ollama")
    assert isinstance(err, errors.Unavailable) and err.reason == "EMBEDDING_PROVIDER_UNAVAILABLE"
    assert err.metadata["cause"] == "network" and err.metadata["attempts"] == "2"


@pytest.mark.parametrize("url", ["", "not a url", "ftp://host/v1"])
def test_unconfigured_provider_is_failed_precondition(url: str) -> None:
    with ModelsCore(ModelSettings(openai_url=url)) as core:
        with pytest.raises(errors.FailedPrecondition) as info:
            core.embed(["x"], provider="openai", model="m")
    assert info.value.reason == "PROVIDER_NOT_CONFIGURED"


def test_one_pooled_client_serves_concurrent_calls(core: ModelsCore, fake: FakeLLM) -> None:
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            for j in range(5):
                text = f"thread {i} call {j}"
                got = core.embed([text], provider="ollama", model="fake-embed").vectors[0]
                np.testing.assert_allclose(got, fake.vector_for(text), rtol=1e-6)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(fake.requests) == 40
    assert len(core._clients) == 1  # one pool for the provider


@pytest.mark.parametrize(
    "rows",
    [
        None,
        {"embeddings": []},
        [[1.0, 2.0], [1.0]],
        [[1.0, "2"], [3.0, 4.0]],
        [[True, False], [True, True]],
        [[1.0, None], [1.0, 2.0]],
        [[], []],
        [[1e300, 0.0], [0.0, 1.0]],
        [[float("inf"), 0.0], [0.0, 1.0]],
        [[[1.0]], [[2.0]]],
    ],
)
def test_to_matrix_refuses_malformed_vectors(rows: object) -> None:
    with pytest.raises(errors.Unavailable) as info:
        to_matrix(rows, 2, "p")
    assert info.value.reason == "EMBEDDING_PROVIDER_BAD_RESPONSE"


def test_openai_indexes_must_be_a_permutation(fake: FakeLLM) -> None:
    client = ProviderClient("openai", fake.openai_url, fake.model_settings())
    try:
        embedder = OpenAIEmbedder(client)
        reply = {"data": [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}]}
        assert embedder._in_order(reply, 2) == [[1.0, 0.0], [0.0, 1.0]]
        for data in ([{"index": 0}, {"index": 0}], [{"index": "0"}, {"index": 1}], [{"index": 0}, {"index": 5}]):
            with pytest.raises(errors.Unavailable):
                embedder._in_order({"data": data}, 2)
    finally:
        client.close()


class _Sleeps(list[float]):
    """Records the backoff waits instead of sleeping them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _recording_client(fake: FakeLLM, **overrides: object) -> tuple[ProviderClient, _Sleeps]:
    sleeps = _Sleeps()
    return ProviderClient("ollama", fake.url, fake.model_settings(**overrides), sleep=sleeps), sleeps


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (None, [0.25, 0.3]),  # exponential: 0.25 then 0.5, capped
        (0.0, [0.25, 0.3]),  # a Retry-After shorter than the backoff does not shorten it
        (0.28, [0.28, 0.3]),  # a longer one wins
        (30.0, [0.3, 0.3]),  # but never beyond the cap
    ],
)
def test_backoff_honours_retry_after_up_to_the_cap(
    fake: FakeLLM, retry_after: float | None, expected: list[float]
) -> None:
    client, sleeps = _recording_client(
        fake, http_retries=2, http_retry_backoff_s=0.25, http_retry_backoff_max_s=0.3, http_retry_jitter=0.0
    )
    fake.fail_next(3, status=503, retry_after=retry_after)
    try:
        with pytest.raises(errors.Unavailable) as info:
            client.post_json("/api/embed", {"model": "fake-embed", "input": ["x"]}, EMBEDDING)
    finally:
        client.close()
    assert sleeps == pytest.approx(expected)
    assert info.value.metadata["cause"] == "http_503" and info.value.metadata["attempts"] == "3"
    assert len(fake.requests) == 3


def test_backoff_jitter_stays_within_its_band(fake: FakeLLM) -> None:
    jitter, base = 0.1, 0.25
    client, sleeps = _recording_client(
        fake, http_retries=1, http_retry_backoff_s=base, http_retry_backoff_max_s=4.0, http_retry_jitter=jitter
    )
    try:
        for _ in range(20):
            fake.fail_next(1, status=500)
            client.post_json("/api/embed", {"model": "fake-embed", "input": ["x"]}, EMBEDDING)
    finally:
        client.close()
    assert len(sleeps) == 20 and all(base * (1 - jitter) <= s <= base * (1 + jitter) for s in sleeps)
    assert len(set(sleeps)) > 1, "the waits must be spread, not all equal"


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_retryable_status_then_success(fake: FakeLLM, status: int) -> None:
    client, sleeps = _recording_client(fake, http_retries=1)
    fake.fail_next(1, status=status)
    try:
        reply = client.post_json("/api/embed", {"model": "fake-embed", "input": ["x"]}, EMBEDDING)
    finally:
        client.close()
    assert reply["embeddings"][0] == pytest.approx(fake.vector_for("x"))
    assert len(fake.requests) == 2 and len(sleeps) == 1


@pytest.mark.parametrize(("status", "error"), [(400, errors.InvalidArgument), (403, errors.FailedPrecondition)])
def test_other_4xx_is_not_retried(fake: FakeLLM, status: int, error: type[errors.LakehouseError]) -> None:
    client, sleeps = _recording_client(fake, http_retries=3)
    fake.fail_next(1, status=status)
    try:
        with pytest.raises(error) as info:
            client.post_json("/api/embed", {"model": "fake-embed", "input": ["x"]}, EMBEDDING)
    finally:
        client.close()
    assert info.value.metadata["http_status"] == str(status) and f"injected HTTP {status}" in info.value.message
    assert len(fake.requests) == 1 and sleeps == []


def test_a_started_stream_is_not_retried(fake: FakeLLM) -> None:
    client, sleeps = _recording_client(fake, http_retries=3)
    fake.mode = "cut"
    try:
        response = client.open_stream("/api/chat", {"model": "fake-chat", "messages": [], "stream": True}, CHAT)
        with pytest.raises(httpx.TransportError):
            response.read()  # the body breaks after it started: the caller sees it, no new attempt
        response.close()
    finally:
        client.close()
    assert len(fake.requests) == 1 and sleeps == []
