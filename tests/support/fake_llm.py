"""A fake LLM provider over real HTTP, speaking each provider's own wire format.

Endpoints (one server, one port):

* Ollama: ``POST /api/embed`` (JSON), ``POST /api/chat`` (NDJSON stream);
* OpenAI-compatible: ``POST /v1/embeddings`` (JSON), ``POST /v1/chat/completions`` (SSE);
* Anthropic: ``POST /v1/messages`` (SSE event stream).

Usage::

    with FakeLLM(dimension=8, api_key="k") as fake:          # or FakeLLM().start() / .stop()
        settings = fake.model_settings(http_retries=1)        # ModelSettings pointing here
        fake.mode = "nan"                                     # every later reply is broken that way
        fake.fail_next(2, status=500)                         # the next 2 requests get HTTP 500
        fake.requests[-1].body                                # what the client sent

Modes (``FakeLLM.MODES``): ``ok``; ``slow`` (wait ``slow_s`` before answering);
``garbage`` (a body that is not JSON / a stream line that is not JSON);
``wrong_count`` (one vector too few); ``nan`` (a NaN in the vectors); ``bad_dims``
(vectors of different lengths); ``truncated`` (a stream that ends cleanly without its
final event, or JSON cut in half); ``cut`` (the connection dropped mid-body);
``stall`` (a stream that stops for ``slow_s`` after the first tokens);
``error_event`` (the provider's in-stream error); ``unauthorized`` (HTTP 401 in the
provider's error format). A wrong ``api_key`` also gives 401, and a model outside
``models`` (when given) gives the provider's 404.

Embeddings are deterministic per text (``FakeLLM.vector_for``), unit length.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from lakehouse.servers.settings import ModelSettings

HOST = "127.0.0.1"
DEFAULT_REPLY = "Forklift operators with OSHA-10 are available in Joliet."
# Retry and timeout settings for tests: fast enough to keep failure tests short.
TEST_TIMEOUT_S = 1.0
TEST_CONNECT_TIMEOUT_S = 1.0
TEST_RETRIES = 1
STREAM_HEAD_TOKENS = 2  # tokens sent before a stream breaks (truncated, cut, stall, error_event)
PROVIDER_ERROR_MESSAGE = "the fake provider is overloaded"


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it was not JSON


class FakeLLM:
    MODES = (
        "ok",
        "slow",
        "garbage",
        "wrong_count",
        "nan",
        "bad_dims",
        "truncated",
        "cut",
        "stall",
        "error_event",
        "unauthorized",
    )

    def __init__(
        self,
        *,
        dimension: int = 8,
        reply: str = DEFAULT_REPLY,
        api_key: str = "",
        models: set[str] | None = None,
        slow_s: float = 3.0,
    ) -> None:
        self.dimension = dimension
        self.reply = reply
        self.api_key = api_key
        self.models = models
        self.slow_s = slow_s
        self.mode = "ok"
        self.requests: list[RecordedRequest] = []
        self._failures: list[tuple[int, float | None]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle ---------------------------------------------------------

    def start(self) -> FakeLLM:
        server = _Server((HOST, 0), _Handler)
        server.fake = self
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(target=server.serve_forever, name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases handlers sleeping in slow/stall modes
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # Addresses and settings ---------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for Ollama and Anthropic (they add /api/… and /v1/…)."""
        assert self._server is not None, "start() first"
        return f"http://{HOST}:{self._server.server_address[1]}"

    @property
    def openai_url(self) -> str:
        """OpenAI-compatible base URL (ends in /v1, like api.openai.com/v1)."""
        return f"{self.url}/v1"

    def model_settings(self, **overrides: Any) -> ModelSettings:
        """``ModelSettings`` with every HTTP provider pointed here and short test timeouts."""
        values: dict[str, Any] = {
            "ollama_url": self.url,
            "openai_url": self.openai_url,
            "openai_api_key": self.api_key,
            "anthropic_url": self.url,
            "anthropic_api_key": self.api_key,
            "http_timeout_s": TEST_TIMEOUT_S,
            "http_connect_timeout_s": TEST_CONNECT_TIMEOUT_S,
            "http_retries": TEST_RETRIES,
        }
        values.update(overrides)
        return ModelSettings(**values)

    # Behaviour ---------------------------------------------------------

    def fail_next(self, count: int, status: int = 500, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (then behave per ``mode``)."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def reset(self) -> None:
        with self._lock:
            self.mode = "ok"
            self._failures.clear()
            self.requests.clear()

    def vector_for(self, text: str) -> list[float]:
        """The deterministic unit vector this fake returns for ``text``."""
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        vec = np.random.default_rng(seed).standard_normal(self.dimension)
        return (vec / np.linalg.norm(vec)).tolist()

    def reply_tokens(self) -> list[str]:
        """The streamed pieces of ``reply``; joined they give the reply back."""
        return re.findall(r"\S+\s*", self.reply)

    def _take_failure(self) -> tuple[int, float | None] | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeLLM

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet for the broken connections failure modes cause on purpose."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, as real providers
    disable_nagle_algorithm = True  # each stream chunk leaves at once (no delayed-ACK stalls)
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: tests read ``FakeLLM.requests`` instead."""

    @property
    def fake(self) -> FakeLLM:
        return self.server.fake

    # Dispatch ----------------------------------------------------------

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        fake = self.fake
        with fake._lock:
            fake.requests.append(RecordedRequest("POST", self.path, dict(self.headers.items()), body))
        flavour = _flavour(self.path)
        if flavour is None:
            return self._error(404, "ollama", f"no route {self.path}")
        failure = fake._take_failure()
        if failure is not None:
            status, retry_after = failure
            headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
            return self._error(status, flavour, f"injected HTTP {status}", headers)
        if fake.mode == "slow":
            fake._sleep(fake.slow_s)
        if fake.mode == "unauthorized" or not self._authorized(flavour):
            return self._error(401, flavour, "invalid api key", error_type="authentication_error")
        if not isinstance(body, dict):
            return self._error(400, flavour, "the body is not a JSON object", error_type="invalid_request_error")
        model = body.get("model")
        if fake.models is not None and model not in fake.models:
            return self._error(404, flavour, f"model {model!r} not found", error_type="not_found_error")
        route = {
            "/api/embed": self._ollama_embed,
            "/v1/embeddings": self._openai_embed,
            "/api/chat": self._ollama_chat,
            "/v1/chat/completions": self._openai_chat,
            "/v1/messages": self._anthropic_chat,
        }[self.path]
        route(body)

    def _authorized(self, flavour: str) -> bool:
        key = self.fake.api_key
        if not key or flavour == "ollama":
            return True
        if flavour == "openai":
            return self.headers.get("authorization") == f"Bearer {key}"
        return self.headers.get("x-api-key") == key

    # Embeddings --------------------------------------------------------

    def _vectors(self, texts: Any) -> list[list[float]] | None:
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list):
            return None
        vectors = [self.fake.vector_for(str(t)) for t in texts]
        mode = self.fake.mode
        if mode == "wrong_count":
            vectors = vectors[:-1]
        elif mode == "nan":
            vectors[-1][0] = float("nan")
        elif mode == "bad_dims" and vectors:
            vectors[0] = vectors[0][:-1]
        return vectors

    def _send_embeddings(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()  # NaN is written as NaN, as a buggy server would
        mode = self.fake.mode
        if mode == "garbage":
            data = b"<html><body>502 Bad Gateway</body></html>"
        elif mode == "truncated":
            data = data[: len(data) // 2]
        if mode == "cut":
            self._head(200, "application/json", {"content-length": str(len(data))})
            self.wfile.write(data[: len(data) // 2])
            return self._drop()
        self._head(200, "application/json", {"content-length": str(len(data))})
        self.wfile.write(data)

    def _ollama_embed(self, body: dict[str, Any]) -> None:
        vectors = self._vectors(body.get("input"))
        if vectors is None:
            return self._error(400, "ollama", "input must be a string or a list of strings")
        self._send_embeddings({"model": body.get("model"), "embeddings": vectors})

    def _openai_embed(self, body: dict[str, Any]) -> None:
        vectors = self._vectors(body.get("input"))
        if vectors is None:
            return self._error(400, "openai", "'input' is invalid", error_type="invalid_request_error")
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        usage = {"prompt_tokens": len(vectors), "total_tokens": len(vectors)}
        self._send_embeddings({"object": "list", "data": data, "model": body.get("model"), "usage": usage})

    # Chat --------------------------------------------------------------

    def _stream(
        self, content_type: str, preamble: list[bytes], pieces: list[bytes], error: bytes, terminal: list[bytes]
    ) -> None:
        """Stream ``preamble``, one piece per reply token, then ``terminal`` as chunked HTTP,
        broken the way ``mode`` says (after ``STREAM_HEAD_TOKENS`` tokens)."""
        fake = self.fake
        mode = fake.mode
        self._head(200, content_type, {"transfer-encoding": "chunked", "cache-control": "no-cache"})
        head = pieces[:STREAM_HEAD_TOKENS] if mode in ("truncated", "cut", "stall", "error_event") else pieces
        if mode == "garbage":
            head = pieces[:1] + [b"data: {not json\n\n" if content_type == "text/event-stream" else b"{not json\n"]
        for piece in preamble + head:
            self._chunk(piece)
        if mode == "cut":
            return self._drop()
        if mode == "error_event":
            self._chunk(error)
        elif mode == "stall":
            fake._sleep(fake.slow_s)
            for piece in pieces[STREAM_HEAD_TOKENS:] + terminal:
                self._chunk(piece)
        elif mode not in ("truncated", "garbage"):
            for piece in terminal:
                self._chunk(piece)
        self._chunk(b"")  # end of the chunked body: a clean end, whatever came before

    def _usage(self, body: dict[str, Any]) -> tuple[int, int]:
        messages = body.get("messages") or []
        prompt = sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))
        return prompt, len(self.fake.reply_tokens())

    def _ollama_chat(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        prompt, completion = self._usage(body)

        def line(obj: dict[str, Any]) -> bytes:
            return (json.dumps(obj) + "\n").encode()

        pieces = [
            line({"model": model, "message": {"role": "assistant", "content": t}, "done": False})
            for t in self.fake.reply_tokens()
        ]
        final = {
            "model": model,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": prompt,
            "eval_count": completion,
        }
        self._stream("application/x-ndjson", [], pieces, line({"error": PROVIDER_ERROR_MESSAGE}), [line(final)])

    def _openai_chat(self, body: dict[str, Any]) -> None:
        prompt, completion = self._usage(body)

        def event(obj: Any) -> bytes:
            return f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n".encode()

        def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return event({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [choice]})

        preamble = [chunk({"role": "assistant", "content": ""}, None)]
        pieces = [chunk({"content": t}, None) for t in self.fake.reply_tokens()]
        terminal = [chunk({}, "stop")]
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
            terminal.append(event({"id": "chatcmpl-fake", "choices": [], "usage": usage}))
        terminal.append(event("[DONE]"))
        error = event({"error": {"message": PROVIDER_ERROR_MESSAGE, "type": "server_error"}})
        self._stream("text/event-stream", preamble, pieces, error, terminal)

    def _anthropic_chat(self, body: dict[str, Any]) -> None:
        prompt, completion = self._usage(body)

        def event(name: str, obj: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps({'type': name, **obj})}\n\n".encode()

        start = {
            "message": {"id": "msg_fake", "role": "assistant", "usage": {"input_tokens": prompt, "output_tokens": 1}}
        }
        preamble = [
            event("message_start", start),
            event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
            b": keep-alive comment\n\n",
            event("ping", {}),
        ]
        pieces = [
            event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": t}})
            for t in self.fake.reply_tokens()
        ]
        terminal = [
            event("content_block_stop", {"index": 0}),
            event("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": completion}}),
            event("message_stop", {}),
        ]
        error = event("error", {"error": {"type": "overloaded_error", "message": PROVIDER_ERROR_MESSAGE}})
        self._stream("text/event-stream", preamble, pieces, error, terminal)

    # Wire helpers ------------------------------------------------------

    def _head(self, status: int, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Close the connection mid-body, as a crashed provider would."""
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _error(
        self,
        status: int,
        flavour: str,
        message: str,
        headers: dict[str, str] | None = None,
        error_type: str = "api_error",
    ) -> None:
        if flavour == "ollama":
            payload: dict[str, Any] = {"error": message}
        elif flavour == "openai":
            payload = {"error": {"message": message, "type": error_type, "code": None}}
        else:
            payload = {"type": "error", "error": {"type": error_type, "message": message}}
        data = json.dumps(payload).encode()
        self._head(status, "application/json", {"content-length": str(len(data)), **(headers or {})})
        self.wfile.write(data)


def _flavour(path: str) -> str | None:
    if path in ("/api/embed", "/api/chat"):
        return "ollama"
    if path in ("/v1/embeddings", "/v1/chat/completions"):
        return "openai"
    if path == "/v1/messages":
        return "anthropic"
    return None
