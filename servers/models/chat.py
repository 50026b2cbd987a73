"""Chat: validate a request, pick the provider, stream its reply (see ``chat_streams``)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence

from lakehouse.api import errors
from lakehouse.api.models import INVALID_MESSAGE, INVALID_PARAMETER, MODEL_REQUIRED, UNKNOWN_PROVIDER
from lakehouse.servers.models.chat_streams import AnthropicChat, ChatRequest, OllamaChat, OpenAIChat
from lakehouse.servers.models.model import (
    ANTHROPIC,
    CHAT_PROVIDERS,
    OLLAMA,
    OPENAI,
    ROLE_SYSTEM,
    ROLES,
    ChatChunk,
    ChatMessage,
)
from lakehouse.servers.models.transport import ProviderClient
from lakehouse.servers.settings import ModelSettings

MIN_TEMPERATURE = 0.0
MAX_TEMPERATURE = 2.0  # the widest range among the providers (OpenAI's); a provider may reject less
MAX_VIOLATIONS = 10  # field violations reported per request; the rest are counted in the message

_STREAMERS = {OLLAMA: OllamaChat, OPENAI: OpenAIChat, ANTHROPIC: AnthropicChat}


def validate(
    messages: Sequence[ChatMessage], model: str, temperature: float | None, max_tokens: int | None, max_chars: int
) -> ChatRequest:
    """A ``ChatRequest``, or InvalidArgument naming every bad field (``messages[i].role`` …)."""
    if not isinstance(messages, Sequence) or isinstance(messages, str) or not messages:
        raise errors.invalid_field("messages", "at least one message is required", reason=INVALID_MESSAGE)
    violations: list[errors.FieldViolation] = []
    for i, message in enumerate(messages):
        if not isinstance(message, ChatMessage):
            violations.append(errors.FieldViolation(f"messages[{i}]", "must be a ChatMessage(role, content)"))
            continue
        if message.role not in ROLES:
            violations.append(errors.FieldViolation(f"messages[{i}].role", f"must be one of {', '.join(ROLES)}"))
        if not isinstance(message.content, str) or not message.content.strip():
            violations.append(errors.FieldViolation(f"messages[{i}].content", "must be non-empty text"))
        elif len(message.content) > max_chars:
            violations.append(
                errors.FieldViolation(f"messages[{i}].content", f"{len(message.content)} characters; limit {max_chars}")
            )
    if not violations and all(m.role == ROLE_SYSTEM for m in messages):
        violations.append(errors.FieldViolation("messages", "needs a user message, not only system messages"))
    if violations:
        shown = violations[:MAX_VIOLATIONS]
        raise errors.InvalidArgument(
            f"invalid chat messages ({len(violations)} problem(s)): "
            + "; ".join(f"{v.field}: {v.description}" for v in shown),
            reason=INVALID_MESSAGE,
            violations=shown,
        )
    if temperature is not None and not (
        isinstance(temperature, int | float)
        and math.isfinite(temperature)
        and MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE
    ):
        raise errors.invalid_field(
            "temperature", f"must be in {MIN_TEMPERATURE}..{MAX_TEMPERATURE}", reason=INVALID_PARAMETER
        )
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise errors.invalid_field("max_tokens", "must be a positive integer", reason=INVALID_PARAMETER)
    return ChatRequest(list(messages), model, temperature, max_tokens)


class ChatRouter:
    """Routes chat requests to providers; one streamer per provider, created on first use."""

    def __init__(self, settings: ModelSettings, client_for: Callable[[str], ProviderClient]) -> None:
        self._settings = settings
        self._client_for = client_for
        self._streamers: dict[str, OllamaChat | OpenAIChat | AnthropicChat] = {}
        self._lock = threading.Lock()

    def resolve(self, provider: str, model: str) -> tuple[str, str]:
        """The provider and model a request means, defaults applied."""
        provider = provider or self._settings.chat_provider
        if provider not in CHAT_PROVIDERS:
            raise errors.InvalidArgument(
                f"unknown chat provider {provider!r}; known: {', '.join(CHAT_PROVIDERS)}",
                reason=UNKNOWN_PROVIDER,
                violations=[errors.FieldViolation("provider", f"must be one of {', '.join(CHAT_PROVIDERS)}")],
            )
        if not model and provider == self._settings.chat_provider:
            model = self._settings.chat_model
        if not model:
            raise errors.invalid_field(
                "model", f"no chat model given and none configured for {provider}", reason=MODEL_REQUIRED
            )
        return provider, model

    def chat(
        self,
        messages: Sequence[ChatMessage],
        provider: str = "",
        model: str = "",
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[ChatChunk]:
        """Validates now (errors raise here); the provider is contacted when iteration starts."""
        provider, model = self.resolve(provider, model)
        request = validate(messages, model, temperature, max_tokens, self._settings.max_text_chars)
        return self._streamer(provider).stream(request)

    def _streamer(self, provider: str) -> OllamaChat | OpenAIChat | AnthropicChat:
        with self._lock:
            streamer = self._streamers.get(provider)
            if streamer is None:
                streamer = self._streamers[provider] = _STREAMERS[provider](self._client_for(provider))
            return streamer
