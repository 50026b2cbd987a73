"""ModelService core (no gRPC): embeddings from a provider chosen per request, streamed chat.

Providers: ``local`` (all-MiniLM-L6-v2 in-process, the default), ``hash`` (tests),
``ollama`` and ``openai`` (HTTP) for embeddings; ``ollama``, ``openai`` and
``anthropic`` for chat. One HTTP client (connection pool) per provider, shared by
embedding and chat; created on first use, closed by ``close()``.

Defaults: an empty provider means the configured one; an empty model means the
configured model when the provider is the configured one, else the provider's own
default (local: all-MiniLM-L6-v2, hash: hash-256; HTTP providers have none). A model
that is a provider's bare name ("local") with no provider means that provider's default.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator, Sequence

from lakehouse.api import errors
from lakehouse.api.errors import EMPTY_INPUT
from lakehouse.api.models import (
    INVALID_TEXT,
    MODEL_REQUIRED,
    MODELS_CLOSED,
    TEXT_TOO_LONG,
    TOO_MANY_TEXTS,
    UNKNOWN_PROVIDER,
)
from lakehouse.servers.models import embed_hash, embed_local
from lakehouse.servers.models.chat import ChatRouter
from lakehouse.servers.models.embed_hash import HashEmbedder
from lakehouse.servers.models.embed_http import OllamaEmbedder, OpenAIEmbedder
from lakehouse.servers.models.embed_local import LocalEmbedder
from lakehouse.servers.models.model import (
    ALL_PROVIDERS,
    ANTHROPIC,
    CHAT_PROVIDERS,
    EMBED_PROVIDERS,
    HASH,
    LOCAL,
    OLLAMA,
    OPENAI,
    ChatChunk,
    ChatMessage,
    Embedder,
    EmbedResult,
    ModelsListing,
    ProviderInfo,
)
from lakehouse.servers.models.transport import ProviderClient
from lakehouse.servers.settings import ModelSettings

__all__ = ["ChatChunk", "ChatMessage", "EmbedResult", "ModelsCore", "ModelsListing", "ProviderInfo"]

HTTP_EMBED_PROVIDERS = (OLLAMA, OPENAI)
DEFAULT_EMBED_MODELS = {LOCAL: embed_local.MODEL_NAME, HASH: embed_hash.DEFAULT_MODEL}
# Embedded once per HTTP (provider, model) to learn its dimension when asked before any use.
DIMENSION_PROBE_TEXT = "dimension probe"
MAX_VIOLATIONS = 10  # field violations listed per request; the message counts all of them


def validate_texts(texts: Sequence[str], settings: ModelSettings) -> list[str]:
    """The texts as a list, or InvalidArgument with a violation per bad ``texts[i]``."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise errors.invalid_field("texts", "must be a list of strings", reason=INVALID_TEXT)
    if not texts:
        raise errors.invalid_field("texts", "at least one text is required", reason=EMPTY_INPUT)
    limit = settings.max_texts_per_request
    if len(texts) > limit:
        raise errors.invalid_field("texts", f"{len(texts)} texts; at most {limit} per request", reason=TOO_MANY_TEXTS)
    violations: list[errors.FieldViolation] = []
    reason = TEXT_TOO_LONG
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            violations.append(errors.FieldViolation(f"texts[{i}]", "must be a string"))
            reason = INVALID_TEXT
        elif len(text) > settings.max_text_chars:
            violations.append(
                errors.FieldViolation(f"texts[{i}]", f"{len(text)} characters; the limit is {settings.max_text_chars}")
            )
    if violations:
        shown = violations[:MAX_VIOLATIONS]
        raise errors.InvalidArgument(
            f"{len(violations)} invalid text(s): " + "; ".join(f"{v.field}: {v.description}" for v in shown),
            reason=reason,
            violations=shown,
        )
    return list(texts)


class ModelsCore:
    """Embeddings and chat over the configured providers. Thread-safe."""

    def __init__(self, settings: ModelSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._clients: dict[str, ProviderClient] = {}
        self._embedders: dict[str, Embedder] = {}
        self._dimensions: dict[tuple[str, str], int] = {}
        self._local = LocalEmbedder(settings)
        self._chat = ChatRouter(settings, self._client)
        self._closed = False

    # Embeddings --------------------------------------------------------

    @property
    def settings(self) -> ModelSettings:
        return self._settings

    def embed(self, texts: Sequence[str], provider: str = "", model: str = "") -> EmbedResult:
        """Vectors for ``texts`` in order (float32 ``[n, d]``)."""
        self._check_open()
        provider, model = self.resolve_embed(provider, model)
        texts = validate_texts(texts, self._settings)
        vectors = self._embedder(provider).embed(texts, model)
        dimension = int(vectors.shape[1])
        if provider in HTTP_EMBED_PROVIDERS:
            with self._lock:
                self._dimensions[(provider, model)] = dimension
        return EmbedResult(vectors=vectors, provider=provider, model=model, dimension=dimension)

    def dimension(self, provider: str = "", model: str = "") -> int:
        """Vector size of a model: local and hash without running anything; an HTTP model is
        probed once (one short text) and remembered."""
        self._check_open()
        provider, model = self.resolve_embed(provider, model)
        if provider == LOCAL:
            return embed_local.DIMENSION
        if provider == HASH:
            return embed_hash.dimension_of(model)
        with self._lock:
            known = self._dimensions.get((provider, model))
        if known is None:
            known = self.embed([DIMENSION_PROBE_TEXT], provider, model).dimension
        return known

    def resolve_embed(self, provider: str, model: str) -> tuple[str, str]:
        """The provider and (canonical) model a request means, defaults applied and checked."""
        settings = self._settings
        if not provider and model in EMBED_PROVIDERS:  # a bare provider name ("local"): its default model
            provider, model = model, ""
        provider = provider or settings.embed_provider
        if provider not in EMBED_PROVIDERS:
            raise errors.InvalidArgument(
                f"unknown embedding provider {provider!r}; known: {', '.join(EMBED_PROVIDERS)}",
                reason=UNKNOWN_PROVIDER,
                violations=[errors.FieldViolation("provider", f"must be one of {', '.join(EMBED_PROVIDERS)}")],
            )
        if not model:
            model = (
                settings.embed_model if provider == settings.embed_provider else DEFAULT_EMBED_MODELS.get(provider, "")
            )
        if not model:
            raise errors.invalid_field(
                "model", f"no embedding model given and none configured for {provider}", reason=MODEL_REQUIRED
            )
        if provider == LOCAL:
            model = embed_local.canonical_name(model)
        elif provider == HASH:
            embed_hash.dimension_of(model)
        return provider, model

    # Chat --------------------------------------------------------------

    def chat(
        self,
        messages: Sequence[ChatMessage],
        provider: str = "",
        model: str = "",
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[ChatChunk]:
        """Streamed reply; validation errors raise here, provider errors while iterating."""
        self._check_open()
        return self._chat.chat(messages, provider, model, temperature, max_tokens)

    # Introspection and lifecycle --------------------------------------

    def list_models(self) -> ModelsListing:
        """Every provider, what it serves, its default model and whether it is usable as
        configured. Nothing is loaded or contacted."""
        s = self._settings
        configured = {
            LOCAL: importlib.util.find_spec(embed_local.PACKAGE) is not None,
            HASH: True,
            OLLAMA: bool(s.ollama_url),
            OPENAI: bool(s.openai_url),
            ANTHROPIC: bool(s.anthropic_url),
        }
        providers: list[ProviderInfo] = []
        for name in ALL_PROVIDERS:
            # One default per provider: the embedding default if it is the embedding provider,
            # else the chat default if it is the chat provider, else its built-in default.
            if name == s.embed_provider:
                default_model = s.embed_model
            elif name == s.chat_provider:
                default_model = s.chat_model
            else:
                default_model = DEFAULT_EMBED_MODELS.get(name, "")
            providers.append(
                ProviderInfo(
                    name=name,
                    embeddings=name in EMBED_PROVIDERS,
                    chat=name in CHAT_PROVIDERS,
                    default_model=default_model,
                    configured=configured[name],
                )
            )
        return ModelsListing(
            providers=providers, default_embed_provider=s.embed_provider, default_chat_provider=s.chat_provider
        )

    def close(self) -> None:
        """Close every provider connection pool; later calls fail with Unavailable."""
        with self._lock:
            self._closed = True
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> ModelsCore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # Internals ---------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise errors.Unavailable("the model service is shut down", reason=MODELS_CLOSED)

    def _embedder(self, provider: str) -> Embedder:
        if provider == LOCAL:
            return self._local
        with self._lock:
            embedder = self._embedders.get(provider)
        if embedder is None:
            if provider == HASH:
                embedder = HashEmbedder()
            elif provider == OLLAMA:
                embedder = OllamaEmbedder(self._client(OLLAMA))
            else:
                embedder = OpenAIEmbedder(self._client(OPENAI))
            with self._lock:
                embedder = self._embedders.setdefault(provider, embedder)
        return embedder

    def _client(self, provider: str) -> ProviderClient:
        """The provider's one HTTP client (pool), created on first use."""
        with self._lock:
            if self._closed:
                raise errors.Unavailable("the model service is shut down", reason=MODELS_CLOSED)
            client = self._clients.get(provider)
            if client is None:
                url, headers = self._endpoint(provider)
                client = self._clients[provider] = ProviderClient(provider, url, self._settings, headers)
            return client

    def _endpoint(self, provider: str) -> tuple[str, dict[str, str]]:
        s = self._settings
        if provider == OLLAMA:
            return s.ollama_url, {}
        if provider == OPENAI:
            key = s.openai_api_key.get_secret_value()
            return s.openai_url, ({"authorization": f"Bearer {key}"} if key else {})
        if provider == ANTHROPIC:
            headers = {"anthropic-version": s.anthropic_version}
            key = s.anthropic_api_key.get_secret_value()
            if key:
                headers["x-api-key"] = key
            return s.anthropic_url, headers
        raise AssertionError(f"no endpoint for provider {provider!r}")
