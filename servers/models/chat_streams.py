"""Streamed chat over each provider's own wire format.

* Ollama ``POST /api/chat``: NDJSON lines ``{"message": {"content"}, "done": false}``,
  ending with ``{"done": true, "done_reason", "prompt_eval_count", "eval_count"}``;
* OpenAI-compatible ``POST {openai_url}/chat/completions``: SSE ``data: {chunk}`` lines
  ending with ``data: [DONE]``;
* Anthropic ``POST {anthropic_url}/v1/messages``: SSE events ``message_start`` …
  ``content_block_delta`` … ``message_delta`` (stop reason, usage) … ``message_stop``.

SSE framing is ``httpx-sse``'s (the WHATWG event-stream rules); Ollama's NDJSON is read
line by line.

Each parser yields ``ChatChunk``s and exactly one final ``done`` chunk when the
provider's terminal event arrives. A stream that ends (or breaks) before it is
``Unavailable(CHAT_STREAM_TRUNCATED)``; an error event in the stream becomes the
matching domain error with the provider's message; an undecodable line, or an SSE
stream whose Content-Type is not ``text/event-stream``, is
``Unavailable(CHAT_PROVIDER_BAD_RESPONSE)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError

from lakehouse.api import errors
from lakehouse.api.models import (
    CHAT_PROVIDER_ERROR,
    CHAT_STREAM_TRUNCATED,
    PROVIDER_AUTH_FAILED,
    PROVIDER_RATE_LIMITED,
    PROVIDER_REJECTED,
)
from lakehouse.servers.models.model import (
    FINISH_LENGTH,
    FINISH_STOP,
    ROLE_SYSTEM,
    USAGE_INPUT,
    USAGE_OUTPUT,
    ChatChunk,
    ChatMessage,
)
from lakehouse.servers.models.transport import CHAT, MAX_PROVIDER_MESSAGE_CHARS, ProviderClient, bad_response

# Anthropic requires max_tokens; this is used when the caller does not give one.
ANTHROPIC_DEFAULT_MAX_TOKENS = 1024
OPENAI_DONE = "[DONE]"
SYSTEM_JOINER = "\n\n"  # Anthropic takes one system prompt; several system messages are joined

# Providers' words for why generation stopped → the two common ones (others pass through).
FINISH_REASONS = {
    "stop": FINISH_STOP,
    "end_turn": FINISH_STOP,
    "stop_sequence": FINISH_STOP,
    "length": FINISH_LENGTH,
    "max_tokens": FINISH_LENGTH,
}

# Error types (OpenAI "type", Anthropic error.type) → domain error class and reason.
_ERROR_TYPES: dict[str, tuple[type[errors.LakehouseError], str]] = {
    "invalid_request_error": (errors.InvalidArgument, PROVIDER_REJECTED),
    "not_found_error": (errors.InvalidArgument, PROVIDER_REJECTED),
    "authentication_error": (errors.FailedPrecondition, PROVIDER_AUTH_FAILED),
    "permission_error": (errors.FailedPrecondition, PROVIDER_AUTH_FAILED),
    "rate_limit_error": (errors.ResourceExhausted, PROVIDER_RATE_LIMITED),
}

Params = dict[str, Any]


@dataclass(frozen=True)
class ChatRequest:
    """A validated request (see ``chat.validate``)."""

    messages: list[ChatMessage]
    model: str
    temperature: float | None
    max_tokens: int | None


def finish_reason(raw: Any) -> str:
    return FINISH_REASONS.get(raw, raw) if isinstance(raw, str) else ""


def _truncated(provider: str, cause: str) -> errors.Unavailable:
    return errors.Unavailable(
        f"the {provider} chat stream ended before its final event ({cause}); the reply is incomplete",
        reason=CHAT_STREAM_TRUNCATED,
        metadata={"provider": provider, "cause": cause},
    )


def stream_error(provider: str, error: Any) -> errors.LakehouseError:
    """An error reported inside a stream (Ollama: a string; OpenAI/Anthropic: ``{"type", "message"}``)."""
    kind = ""
    message = error
    if isinstance(error, dict):
        kind = str(error.get("type") or "")
        message = error.get("message") or kind or json.dumps(error)
    text = f"{provider} reported an error mid-stream: {str(message)[:MAX_PROVIDER_MESSAGE_CHARS]}"
    cls, reason = _ERROR_TYPES.get(kind, (errors.Unavailable, CHAT_PROVIDER_ERROR))
    return cls(text, reason=reason, metadata={"provider": provider, "error_type": kind})


def _lines(response: httpx.Response, provider: str) -> Iterator[str]:
    """The body's lines (Ollama's NDJSON, split on "\\n" only: httpx's ``iter_lines`` also
    splits on U+2028, U+0085... which JSON strings may hold raw); a read that fails
    mid-stream is a truncated stream."""
    try:
        pending = b""
        for data in response.iter_bytes():
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                yield line.decode("utf-8", errors="replace").rstrip("\r")
        if pending:
            yield pending.decode("utf-8", errors="replace").rstrip("\r")
    except httpx.TimeoutException:
        raise _truncated(provider, "timeout") from None
    except (httpx.RequestError, httpx.StreamError) as exc:
        raise _truncated(provider, type(exc).__name__) from None


def sse_events(response: httpx.Response, provider: str) -> Iterator[ServerSentEvent]:
    """The body's server-sent events that carry data (httpx-sse does the framing).

    A body that is not ``text/event-stream`` is a bad response; a read that fails
    mid-stream is a truncated stream. Events without data are skipped: none of the
    providers' events means anything without its JSON, and httpx-sse dispatches an empty
    one on every blank line once an ``id:`` has been seen.
    """
    try:
        for event in EventSource(response).iter_sse():
            if event.data:
                yield event
    except SSEError as exc:  # before RequestError: SSEError is an httpx.TransportError
        raise bad_response(provider, CHAT, str(exc)) from None
    except httpx.TimeoutException:
        raise _truncated(provider, "timeout") from None
    except (httpx.RequestError, httpx.StreamError) as exc:
        raise _truncated(provider, type(exc).__name__) from None


def _json(data: str, provider: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise bad_response(provider, CHAT, f"undecodable stream data {data[:80]!r}") from None


def _text(value: Any, provider: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_response(provider, CHAT, "a content delta is not text")
    return value


def _obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else empty (a missing or malformed optional part)."""
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _usage(prompt: Any, completion: Any) -> dict[str, int] | None:
    """Usage under the contract's names (``ChatUsage``), whatever the provider calls them."""
    if _count(prompt) and _count(completion):
        return {USAGE_INPUT: prompt, USAGE_OUTPUT: completion}
    return None


class _StreamingChat:
    """Opens the stream, runs the provider's parser over its body, always closes it."""

    PATH = ""

    def __init__(self, client: ProviderClient) -> None:
        self._client = client

    @property
    def provider(self) -> str:
        return self._client.provider

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        response = self._client.open_stream(self.PATH, self.body(request), CHAT)
        try:
            yield from self.parse(response)
        finally:
            response.close()

    def body(self, request: ChatRequest) -> Params:
        raise NotImplementedError

    def parse(self, response: httpx.Response) -> Iterator[ChatChunk]:
        raise NotImplementedError


class OllamaChat(_StreamingChat):
    PATH = "/api/chat"

    def body(self, request: ChatRequest) -> Params:
        options: Params = {}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        body: Params = {"model": request.model, "messages": messages, "stream": True}
        if options:
            body["options"] = options
        return body

    def parse(self, response: httpx.Response) -> Iterator[ChatChunk]:
        for line in _lines(response, self.provider):
            if not line.strip():
                continue
            item = _json(line, self.provider)
            if not isinstance(item, dict):
                raise bad_response(self.provider, CHAT, "a stream line is not an object")
            if "error" in item:
                raise stream_error(self.provider, item["error"])
            delta = _text(_obj(item.get("message")).get("content"), self.provider)
            if item.get("done") is True:
                if delta:
                    yield ChatChunk(delta)
                usage = _usage(item.get("prompt_eval_count"), item.get("eval_count"))
                yield ChatChunk("", done=True, finish_reason=finish_reason(item.get("done_reason")), usage=usage)
                return
            if delta:
                yield ChatChunk(delta)
        raise _truncated(self.provider, "no line with done=true")


class OpenAIChat(_StreamingChat):
    PATH = "/chat/completions"

    def body(self, request: ChatRequest) -> Params:
        body: Params = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        return body

    def parse(self, response: httpx.Response) -> Iterator[ChatChunk]:
        finish, usage = "", None
        for sse in sse_events(response, self.provider):
            if sse.data.strip() == OPENAI_DONE:
                yield ChatChunk("", done=True, finish_reason=finish, usage=usage)
                return
            item = _json(sse.data, self.provider)
            if not isinstance(item, dict):
                raise bad_response(self.provider, CHAT, "an event is not an object")
            if "error" in item:
                raise stream_error(self.provider, item["error"])
            if isinstance(item.get("usage"), dict):
                usage = _usage(item["usage"].get("prompt_tokens"), item["usage"].get("completion_tokens")) or usage
            choices = item.get("choices") or []
            if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
                raise bad_response(self.provider, CHAT, "'choices' is not a list of objects")
            for choice in choices[:1]:
                delta = _obj(choice.get("delta"))
                text = _text(delta.get("content"), self.provider)
                if text:
                    yield ChatChunk(text)
                finish = finish_reason(choice.get("finish_reason")) or finish
        raise _truncated(self.provider, "no [DONE]")


class AnthropicChat(_StreamingChat):
    PATH = "/v1/messages"

    def body(self, request: ChatRequest) -> Params:
        system = SYSTEM_JOINER.join(m.content for m in request.messages if m.role == ROLE_SYSTEM)
        body: Params = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages if m.role != ROLE_SYSTEM],
            "max_tokens": request.max_tokens or ANTHROPIC_DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        if system:
            body["system"] = system
        if request.temperature is not None:
            body["temperature"] = request.temperature
        return body

    def parse(self, response: httpx.Response) -> Iterator[ChatChunk]:
        finish, prompt_tokens, completion_tokens = "", None, None
        for sse in sse_events(response, self.provider):
            item = _json(sse.data, self.provider)
            if not isinstance(item, dict):
                raise bad_response(self.provider, CHAT, "an event is not an object")
            kind = item.get("type", sse.event)
            if kind == "error" or sse.event == "error":
                raise stream_error(self.provider, item.get("error", item))
            if kind == "message_start":
                usage = _obj(_obj(item.get("message")).get("usage"))
                prompt_tokens = usage.get("input_tokens")
                completion_tokens = usage.get("output_tokens", completion_tokens)
            elif kind == "content_block_delta":
                delta = _obj(item.get("delta"))
                if delta.get("type") == "text_delta":
                    text = _text(delta.get("text"), self.provider)
                    if text:
                        yield ChatChunk(text)
            elif kind == "message_delta":
                finish = finish_reason(_obj(item.get("delta")).get("stop_reason")) or finish
                completion_tokens = _obj(item.get("usage")).get("output_tokens", completion_tokens)
            elif kind == "message_stop":
                usage = _usage(prompt_tokens, completion_tokens)
                yield ChatChunk("", done=True, finish_reason=finish, usage=usage)
                return
            # ping, content_block_start/stop and future event types carry no text.
        raise _truncated(self.provider, "no message_stop")
