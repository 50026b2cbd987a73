"""HTTP transport to model providers: one pooled ``httpx.Client`` per provider, bounded
retries, and the one place provider failures become domain errors.

Retried by ``tenacity`` (up to ``http_retries`` more attempts, exponential backoff with
jitter, honouring ``Retry-After`` up to a cap; see ``BackoffOrRetryAfter``): connection
errors, timeouts, 408, 429 and 5xx. Never retried: other 4xx (the same request would
fail the same way), and a stream once its body has started (its chunks may already have
reached the caller).

After the last attempt:

* timeout, unreachable, 5xx → ``Unavailable`` (``<KIND>_PROVIDER_UNAVAILABLE``). A
  provider timeout is Unavailable, not DeadlineExceeded: a dependency was slow, the
  caller's own deadline did not pass (gRPC reports that one itself), and storage
  timeouts in this code base are Unavailable too. ``metadata["cause"]`` tells
  ``timeout`` / ``network`` / ``http_<status>`` apart;
* 429 → ``ResourceExhausted`` (``PROVIDER_RATE_LIMITED``);
* 401 / 403 → ``FailedPrecondition`` (``PROVIDER_AUTH_FAILED``): the server's
  credentials are wrong, not the caller's input;
* other 4xx (unknown model, bad input) → ``InvalidArgument`` (``PROVIDER_REJECTED``)
  with the provider's own message.

The worst-case time of a call is about ``(1 + http_retries) * http_timeout_s`` plus
the backoff sleeps (at most ``http_retries * http_retry_backoff_max_s``).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity

from lakehouse.api import errors
from lakehouse.api.models import (
    CHAT_PROVIDER_BAD_RESPONSE,
    CHAT_PROVIDER_UNAVAILABLE,
    EMBEDDING_PROVIDER_BAD_RESPONSE,
    EMBEDDING_PROVIDER_UNAVAILABLE,
    PROVIDER_AUTH_FAILED,
    PROVIDER_NOT_CONFIGURED,
    PROVIDER_RATE_LIMITED,
    PROVIDER_REJECTED,
)
from lakehouse.servers.settings import ModelSettings

RETRY_STATUSES = frozenset({408, 429})  # plus every 5xx
AUTH_STATUSES = frozenset({401, 403})
HTTP_TOO_MANY_REQUESTS = 429
MAX_ERROR_BODY_BYTES = 64 * 1024  # an error body is read this far for its message
MAX_PROVIDER_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class Kind:
    """What a request is for, which picks the error reasons."""

    name: str
    unavailable: str
    bad_response: str


EMBEDDING = Kind("embedding", EMBEDDING_PROVIDER_UNAVAILABLE, EMBEDDING_PROVIDER_BAD_RESPONSE)
CHAT = Kind("chat", CHAT_PROVIDER_UNAVAILABLE, CHAT_PROVIDER_BAD_RESPONSE)


def bad_response(provider: str, kind: Kind, what: str) -> errors.Unavailable:
    """A reply that is not what the provider's API promises (the provider is broken, not the caller)."""
    return errors.Unavailable(
        f"{provider} returned an invalid {kind.name} response: {what}",
        reason=kind.bad_response,
        metadata={"provider": provider},
    )


def provider_message(body: bytes) -> str:
    """The human message in a provider's error body (Ollama, OpenAI and Anthropic shapes), else its text."""
    text = body[:MAX_ERROR_BODY_BYTES].decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        err = parsed.get("error", parsed.get("message"))
        if isinstance(err, dict):
            err = err.get("message") or err.get("type") or json.dumps(err)
        if isinstance(err, str) and err:
            text = err
    return text[:MAX_PROVIDER_MESSAGE_CHARS] or "(empty body)"


@dataclass
class _Failure:
    cause: str
    detail: str
    status: int = 0
    retry_after_s: float | None = None


class _Retryable(Exception):
    """One attempt failed in a way another attempt may not (what tenacity retries on)."""

    def __init__(self, failure: _Failure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


class BackoffOrRetryAfter(tenacity.wait.wait_base):
    """Exponential backoff, or the provider's ``Retry-After`` when longer, scaled by a
    random ``1 +- jitter`` and capped: tenacity's own waits jitter additively or fully
    and know nothing of a ``Retry-After`` carried by the failed attempt."""

    def __init__(self, settings: ModelSettings) -> None:
        self._exponential = tenacity.wait_exponential(multiplier=settings.http_retry_backoff_s)
        self._jitter = settings.http_retry_jitter
        self._cap_s = settings.http_retry_backoff_max_s

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        delay = self._exponential(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _Retryable) and error.failure.retry_after_s is not None:
            delay = max(delay, error.failure.retry_after_s)
        delay *= 1 + random.uniform(-self._jitter, self._jitter)
        return min(delay, self._cap_s)


class ProviderClient:
    """A provider's base URL with one connection pool, shared by all its calls (thread-safe)."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        settings: ModelSettings,
        headers: dict[str, str] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        url = _parse_url(base_url)
        if url is None:
            setting = f"LAKEHOUSE_MODELS__{provider.upper()}_URL"
            raise errors.FailedPrecondition(
                f"the {provider} provider has no usable URL ({base_url!r}); set {setting}",
                reason=PROVIDER_NOT_CONFIGURED,
                metadata={"provider": provider},
            )
        self.base_url = str(url).rstrip("/")
        self._settings = settings
        self._sleep = sleep
        self._wait = BackoffOrRetryAfter(settings)
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers or {},
            timeout=httpx.Timeout(settings.http_timeout_s, connect=settings.http_connect_timeout_s),
            limits=httpx.Limits(
                max_connections=settings.http_max_connections,
                max_keepalive_connections=settings.http_max_connections,
            ),
        )

    def post_json(self, path: str, body: dict[str, Any], kind: Kind) -> Any:
        """POST JSON, read the whole reply (retrying as above), return it parsed."""
        response = self._request(path, body, kind, read_body=True)
        try:
            return json.loads(response.content)
        except ValueError:
            raise bad_response(self.provider, kind, "the body is not JSON") from None

    def open_stream(self, path: str, body: dict[str, Any], kind: Kind) -> httpx.Response:
        """POST JSON and return the 2xx reply with its body unread; the caller must ``close()`` it."""
        return self._request(path, body, kind, read_body=False)

    def close(self) -> None:
        self._client.close()

    def _request(self, path: str, body: dict[str, Any], kind: Kind, *, read_body: bool) -> httpx.Response:
        attempts = 1 + max(0, self._settings.http_retries)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, path, body, kind, read_body)
        except _Retryable as exc:
            raise self._exhausted(exc.failure, attempts, kind) from None

    def _attempt(self, path: str, body: dict[str, Any], kind: Kind, read_body: bool) -> httpx.Response:
        """One POST: the 2xx reply, or ``_Retryable``, or the domain error for a final rejection."""
        response = None
        try:
            response = self._client.send(self._client.build_request("POST", path, json=body), stream=True)
            if response.is_success:
                if read_body:
                    response.read()
                return response
            status = response.status_code
            message = provider_message(self._read_capped(response))
        except httpx.TimeoutException as exc:
            raise _Retryable(_Failure("timeout", f"no answer within the timeout ({type(exc).__name__})")) from None
        except httpx.RequestError as exc:  # connection refused/reset, protocol errors, bad encodings
            raise _Retryable(_Failure("network", f"{type(exc).__name__}: {exc}")) from None
        finally:
            if response is not None and (read_body or not response.is_success):
                response.close()
        if status in RETRY_STATUSES or status >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise _Retryable(_Failure(f"http_{status}", message, status, _retry_after(response)))
        raise self._rejected(status, message, kind)

    @staticmethod
    def _read_capped(response: httpx.Response) -> bytes:
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= MAX_ERROR_BODY_BYTES:
                break
        return bytes(data)

    def _rejected(self, status: int, message: str, kind: Kind) -> errors.LakehouseError:
        metadata = {"provider": self.provider, "http_status": str(status)}
        text = f"{self.provider} rejected the {kind.name} request (HTTP {status}): {message}"
        if status in AUTH_STATUSES:
            return errors.FailedPrecondition(text, reason=PROVIDER_AUTH_FAILED, metadata=metadata)
        return errors.InvalidArgument(text, reason=PROVIDER_REJECTED, metadata=metadata)

    def _exhausted(self, failure: _Failure, attempts: int, kind: Kind) -> errors.LakehouseError:
        metadata = {"provider": self.provider, "cause": failure.cause, "attempts": str(attempts)}
        text = f"{self.provider} {kind.name} provider at {self.base_url} failed after {attempts} attempt(s)"
        if failure.status == HTTP_TOO_MANY_REQUESTS:
            return errors.ResourceExhausted(
                f"{text}: rate limited: {failure.detail}", reason=PROVIDER_RATE_LIMITED, metadata=metadata
            )
        if failure.status:
            text = f"{text}: HTTP {failure.status}"
        return errors.Unavailable(f"{text}: {failure.detail}", reason=kind.unavailable, metadata=metadata)


def _parse_url(base_url: str) -> httpx.URL | None:
    """An absolute http(s) URL, or None."""
    try:
        url = httpx.URL(base_url.strip())
    except httpx.InvalidURL:
        return None
    return url if url.scheme in ("http", "https") and url.host else None


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (the delta form; HTTP dates are ignored)."""
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
