"""Streamed chat over Ollama (NDJSON), OpenAI-compatible (SSE) and Anthropic (SSE events)
against a real fake server: the happy path on each wire format, every failure mode,
and input validation (which must fail before any request is sent)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from lakehouse.api import errors
from lakehouse.servers.models.chat_streams import AnthropicChat, OllamaChat, OpenAIChat, sse_events
from lakehouse.servers.models.core import ModelsCore
from lakehouse.servers.models.model import ChatChunk, ChatMessage
from lakehouse.servers.models.transport import ProviderClient
from lakehouse.servers.settings import ModelSettings
from tests.support.fake_llm import STREAM_HEAD_TOKENS, FakeLLM

API_KEY = "sk-ant-test"
PROVIDERS = ["ollama", "openai", "anthropic"]
PATHS = {"ollama": "/api/chat", "openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
SLACK_S = 1.5
MESSAGES = [
    ChatMessage("system", "You are a staffing assistant."),
    ChatMessage("system", "Answer in one sentence."),
    ChatMessage("user", "Who can drive a forklift in Joliet?"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    with FakeLLM(api_key=API_KEY, slow_s=3.0) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeLLM) -> Iterator[FakeLLM]:
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def core(fake: FakeLLM) -> Iterator[ModelsCore]:
    c = ModelsCore(fake.model_settings(http_timeout_s=0.5, http_retries=1, chat_model="fake-chat"))
    yield c
    c.close()


def run(core: ModelsCore, provider: str, **kwargs: object) -> list[ChatChunk]:
    return list(core.chat(MESSAGES, provider=provider, model="fake-chat", **kwargs))


def chat_error(core: ModelsCore, provider: str) -> tuple[errors.LakehouseError, list[ChatChunk]]:
    """The error a stream ends with, and the chunks delivered before it."""
    received: list[ChatChunk] = []
    with pytest.raises(errors.LakehouseError) as info:
        for chunk in core.chat(MESSAGES, provider=provider, model="fake-chat"):
            received.append(chunk)
    return info.value, received


@pytest.mark.parametrize("provider", PROVIDERS)
def test_streams_the_reply_and_one_final_chunk(core: ModelsCore, fake: FakeLLM, provider: str) -> None:
    chunks = run(core, provider)
    assert len(chunks) > 2, "the reply must arrive in pieces"
    assert "".join(c.delta for c in chunks) == fake.reply
    assert [c.done for c in chunks] == [False] * (len(chunks) - 1) + [True]
    final = chunks[-1]
    assert final.delta == "" and final.finish_reason == "stop"
    # The fake counts prompt words of the messages it received (Anthropic's system prompt travels apart).
    sent = [m for m in MESSAGES if provider != "anthropic" or m.role != "system"]
    prompt_words = sum(len(m.content.split()) for m in sent)
    assert final.usage == {"input_tokens": prompt_words, "output_tokens": len(fake.reply_tokens())}


def test_ollama_wire_format(core: ModelsCore, fake: FakeLLM) -> None:
    run(core, "ollama", temperature=0.2, max_tokens=64)
    request = fake.requests[-1]
    assert request.path == PATHS["ollama"]
    assert request.body["stream"] is True and request.body["model"] == "fake-chat"
    assert request.body["messages"][0] == {"role": "system", "content": "You are a staffing assistant."}
    assert request.body["options"] == {"temperature": 0.2, "num_predict": 64}


def test_openai_wire_format(core: ModelsCore, fake: FakeLLM) -> None:
    run(core, "openai", temperature=1.5, max_tokens=10)
    request = fake.requests[-1]
    assert request.path == PATHS["openai"]
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = request.body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 1.5 and body["max_tokens"] == 10 and len(body["messages"]) == 3


def test_anthropic_wire_format_puts_system_messages_on_top(core: ModelsCore, fake: FakeLLM) -> None:
    run(core, "anthropic")
    request = fake.requests[-1]
    assert request.path == PATHS["anthropic"]
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    body = request.body
    assert body["system"] == "You are a staffing assistant.\n\nAnswer in one sentence."
    assert body["messages"] == [{"role": "user", "content": "Who can drive a forklift in Joliet?"}]
    assert body["max_tokens"] > 0 and body["stream"] is True and "temperature" not in body


def test_default_provider_and_model_come_from_settings(fake: FakeLLM) -> None:
    with ModelsCore(fake.model_settings(chat_provider="anthropic", chat_model="claude-fake")) as core:
        chunks = list(core.chat([ChatMessage("user", "hello")]))
    assert chunks[-1].done and fake.requests[-1].body["model"] == "claude-fake"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("mode", ["truncated", "cut"])
def test_broken_stream_is_truncated_after_the_partial_reply(
    core: ModelsCore, fake: FakeLLM, provider: str, mode: str
) -> None:
    fake.mode = mode
    err, received = chat_error(core, provider)
    assert isinstance(err, errors.Unavailable) and err.reason == "CHAT_STREAM_TRUNCATED"
    assert "".join(c.delta for c in received) == "".join(fake.reply_tokens()[:STREAM_HEAD_TOKENS])
    assert not any(c.done for c in received)
    assert len(fake.requests) == 1  # a started stream is never retried


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stalled_stream_times_out_as_truncated(core: ModelsCore, fake: FakeLLM, provider: str) -> None:
    fake.mode = "stall"
    started = time.monotonic()
    err, received = chat_error(core, provider)
    assert time.monotonic() - started < 0.5 + SLACK_S
    assert isinstance(err, errors.Unavailable) and err.reason == "CHAT_STREAM_TRUNCATED"
    assert err.metadata["cause"] == "timeout" and received


@pytest.mark.parametrize("provider", PROVIDERS)
def test_error_event_carries_the_providers_message(core: ModelsCore, fake: FakeLLM, provider: str) -> None:
    fake.mode = "error_event"
    err, received = chat_error(core, provider)
    assert isinstance(err, errors.Unavailable) and err.reason == "CHAT_PROVIDER_ERROR"
    assert "the fake provider is overloaded" in err.message and len(received) == STREAM_HEAD_TOKENS


@pytest.mark.parametrize("provider", PROVIDERS)
def test_undecodable_stream_is_bad_response(core: ModelsCore, fake: FakeLLM, provider: str) -> None:
    fake.mode = "garbage"
    err, _ = chat_error(core, provider)
    assert isinstance(err, errors.Unavailable) and err.reason == "CHAT_PROVIDER_BAD_RESPONSE"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_slow_provider_is_unavailable_within_the_bound(fake: FakeLLM, provider: str) -> None:
    timeout_s, retries = 0.4, 1
    settings = fake.model_settings(http_timeout_s=timeout_s, http_retries=retries)
    fake.mode = "slow"
    with ModelsCore(settings) as core:
        started = time.monotonic()
        err, received = chat_error(core, provider)
        elapsed = time.monotonic() - started
    assert isinstance(err, errors.Unavailable) and err.reason == "CHAT_PROVIDER_UNAVAILABLE" and not received
    assert err.metadata["cause"] == "timeout" and len(fake.requests) == 1 + retries
    assert elapsed < (1 + retries) * timeout_s + retries * settings.http_retry_backoff_max_s + SLACK_S


@pytest.mark.parametrize("provider", PROVIDERS)
def test_500_then_ok_is_retried(core: ModelsCore, fake: FakeLLM, provider: str) -> None:
    fake.fail_next(1, status=500)
    chunks = run(core, provider)
    assert chunks[-1].done and len(fake.requests) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unauthorized_is_failed_precondition(core: ModelsCore, fake: FakeLLM, provider: str) -> None:
    fake.mode = "unauthorized"
    err, _ = chat_error(core, provider)
    assert isinstance(err, errors.FailedPrecondition) and err.reason == "PROVIDER_AUTH_FAILED"
    assert "invalid api key" in err.message and len(fake.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_model_is_invalid_argument(core: ModelsCore, fake: FakeLLM, provider: str) -> None:
    fake.models = {"other-model"}
    try:
        err, _ = chat_error(core, provider)
    finally:
        fake.models = None
    assert isinstance(err, errors.InvalidArgument) and "'fake-chat' not found" in err.message


def test_stopping_early_closes_the_stream(core: ModelsCore, fake: FakeLLM) -> None:
    stream = core.chat(MESSAGES, provider="openai", model="fake-chat")
    first = next(stream)
    assert first.delta
    stream.close()  # the caller went away (e.g. a cancelled RPC)
    assert run(core, "openai")[-1].done  # the pool is still healthy


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        ([], "messages"),
        ([ChatMessage("robot", "hi")], "messages[0].role"),
        ([ChatMessage("user", "   ")], "messages[0].content"),
        ([ChatMessage("user", "ok"), ChatMessage("assistant", "")], "messages[1].content"),
        ([ChatMessage("system", "only a system prompt")], "messages"),
        (["not a message"], "messages[0]"),
    ],
)
def test_invalid_messages_fail_before_any_request(
    core: ModelsCore, fake: FakeLLM, messages: list[ChatMessage], field: str
) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        core.chat(messages, provider="ollama", model="m")
    assert field in [v.field for v in info.value.violations]
    assert fake.requests == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"provider": "cohere"}, "provider"),
        ({"provider": "openai", "model": ""}, "model"),
    ],
)
def test_invalid_parameters(fake: FakeLLM, kwargs: dict[str, object], field: str) -> None:
    args = {"provider": "ollama", "model": "m", **kwargs}
    with ModelsCore(fake.model_settings(chat_provider="ollama", chat_model="")) as core:
        with pytest.raises(errors.InvalidArgument) as info:
            core.chat([ChatMessage("user", "hi")], **args)
    assert field in [v.field for v in info.value.violations]
    if field == "provider":
        assert "ollama, openai, anthropic" in info.value.message
    assert fake.requests == []


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_unconfigured_chat_provider_is_failed_precondition(provider: str) -> None:
    with ModelsCore(ModelSettings(openai_url="", anthropic_url="")) as core:
        with pytest.raises(errors.FailedPrecondition) as info:
            core.chat([ChatMessage("user", "hi")], provider=provider, model="m")
    assert info.value.reason == "PROVIDER_NOT_CONFIGURED"


def test_message_too_long(fake: FakeLLM) -> None:
    with ModelsCore(fake.model_settings(max_text_chars=10)) as core:
        with pytest.raises(errors.InvalidArgument) as info:
            core.chat([ChatMessage("user", "x" * 11)], provider="ollama", model="m")
    assert info.value.violations[0].field == "messages[0].content"


def sse_response(body: bytes, content_type: str = "text/event-stream; charset=utf-8") -> httpx.Response:
    return httpx.Response(200, headers={"content-type": content_type}, content=body)


def test_sse_parser_follows_the_spec() -> None:
    body = ': comment\r\nevent: a\r\ndata: one\r\ndata:two\r\n\r\n\r\ndata: {"x": 1}\nid: 7\n\n\n\ndata: last'
    events = [(e.event, e.data) for e in sse_events(sse_response(body.encode()), "openai")]
    # No empty events for the blank lines after the id; an event cut off before its blank line is not dispatched.
    assert events == [("a", "one\ntwo"), ("message", '{"x": 1}')]


def test_sse_splits_lines_only_on_cr_and_lf() -> None:
    body = 'data: {"t": "a\u2028b\x85c"}\n\n'.encode()
    assert [e.data for e in sse_events(sse_response(body), "openai")] == ['{"t": "a\u2028b\x85c"}']


def test_sse_stream_with_another_content_type_is_bad_response() -> None:
    with pytest.raises(errors.Unavailable) as info:
        list(sse_events(sse_response(b'data: {"x": 1}\n\n', "application/json"), "openai"))
    assert info.value.reason == "CHAT_PROVIDER_BAD_RESPONSE" and "text/event-stream" in info.value.message


@pytest.fixture
def offline_client() -> Iterator[ProviderClient]:
    """A client for parsers fed hand-made bodies (never sends)."""
    client = ProviderClient("openai", "http://127.0.0.1:9", ModelSettings())
    yield client
    client.close()


def test_openai_parser_on_a_hand_made_stream(offline_client: ProviderClient) -> None:
    choice = {"delta": {"content": "line\u2028sep"}, "finish_reason": "length"}
    body = (
        f"data: {json.dumps({'choices': [choice]}, ensure_ascii=False)}\n\n"
        f"data: {json.dumps({'choices': [], 'usage': {'prompt_tokens': 3, 'completion_tokens': 2}})}\n\n"
        "data: [DONE]\n\n"
    )
    chunks = list(OpenAIChat(offline_client).parse(sse_response(body.encode())))
    assert [c.delta for c in chunks] == ["line\u2028sep", ""]
    final = chunks[-1]
    assert final.done and final.finish_reason == "length"
    assert final.usage == {"input_tokens": 3, "output_tokens": 2}


def test_openai_done_without_its_blank_line_is_truncated(offline_client: ProviderClient) -> None:
    body = b'data: {"choices": [{"delta": {"content": "hi"}}]}\n\ndata: [DONE]\n'
    received: list[ChatChunk] = []
    with pytest.raises(errors.Unavailable) as info:
        received.extend(OpenAIChat(offline_client).parse(sse_response(body)))
    assert info.value.reason == "CHAT_STREAM_TRUNCATED" and [c.delta for c in received] == ["hi"]


@pytest.mark.parametrize(
    ("error", "cls", "reason"),
    [
        ({"type": "overloaded_error", "message": "busy"}, errors.Unavailable, "CHAT_PROVIDER_ERROR"),
        ({"type": "rate_limit_error", "message": "slow down"}, errors.ResourceExhausted, "PROVIDER_RATE_LIMITED"),
        ({"type": "invalid_request_error", "message": "bad"}, errors.InvalidArgument, "PROVIDER_REJECTED"),
    ],
)
def test_anthropic_error_event_maps_to_the_domain_error(
    offline_client: ProviderClient, error: dict[str, str], cls: type[errors.LakehouseError], reason: str
) -> None:
    body = f"event: error\ndata: {json.dumps({'type': 'error', 'error': error})}\n\n".encode()
    with pytest.raises(cls) as info:
        list(AnthropicChat(offline_client).parse(sse_response(body)))
    assert info.value.reason == reason and error["message"] in info.value.message


def test_ollama_lines_split_only_on_newline(offline_client: ProviderClient) -> None:
    """Go's JSON encoder leaves U+0085 raw; a reader splitting on it would break the line."""
    lines = [
        {"message": {"content": "a\x85b\u2028c"}, "done": False},
        {"message": {"content": ""}, "done": True, "done_reason": "stop", "prompt_eval_count": 1, "eval_count": 2},
    ]
    body = "".join(json.dumps(line, ensure_ascii=False) + "\r\n" for line in lines).encode()
    chunks = list(OllamaChat(offline_client).parse(httpx.Response(200, content=body)))
    assert [c.delta for c in chunks] == ["a\x85b\u2028c", ""] and chunks[-1].done
