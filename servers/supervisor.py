"""`lakehouse up / down / status`: run the embedded system as detached processes.

`up` starts one server process hosting every service plus Envoy in front of it,
and records both in <home>/run/state.json so `down` can stop exactly what `up`
started, from any shell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from lakehouse.gateway.config import GatewayConfig
from lakehouse.gateway.process import pid_alive, start_envoy, stop_process_group, tail
from lakehouse.servers.services import HTTP_COMPONENTS, parse_components
from lakehouse.servers.settings import Settings

SERVER_READY_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.05


@dataclass
class State:
    server_pid: int
    envoy_pid: int
    grpc_upstream: str
    gateway: str
    admin_socket: str = ""  # Envoy's admin interface: a 0600 unix socket, no TCP port

    @property
    def rest_url(self) -> str:
        return f"http://{self.gateway}"


def state_path(settings: Settings) -> Path:
    return settings.run_dir / "state.json"


def read_state(settings: Settings) -> State | None:
    try:
        data = json.loads(state_path(settings).read_text())
        known = {f.name for f in fields(State)}
        # Unknown keys (e.g. an older admin_port) must not orphan a running system.
        return State(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def start_server_process(
    settings: Settings, services: str, name: str = "server", extra_env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Start `lakehouse serve` detached; return (pid, gRPC address) once it serves."""
    run_dir = settings.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    ready_file = run_dir / f"{name}.ready.json"
    ready_file.unlink(missing_ok=True)
    log_path = run_dir / f"{name}.log"
    env = {**os.environ, "LAKEHOUSE_HOME": str(settings.home_dir), **(extra_env or {})}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lakehouse.cli",
                "serve",
                "--services",
                services,
                "--ready-file",
                str(ready_file),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{tail(log_path)}")
        if ready_file.exists():
            try:
                info = json.loads(ready_file.read_text())
                return proc.pid, info["address"]
            except (ValueError, KeyError):
                pass  # partially written; retry
        time.sleep(POLL_INTERVAL_S)
    stop_process_group(proc.pid)
    raise RuntimeError(f"server not ready after {SERVER_READY_TIMEOUT_S}s:\n{tail(log_path)}")


def ready_info(settings: Settings, name: str = "server") -> dict:
    """What the server process ``name`` wrote once serving ({pid, address, http: {component: address}})."""
    try:
        return json.loads((settings.run_dir / f"{name}.ready.json").read_text())
    except (OSError, ValueError):
        return {}


def up(settings: Settings, services: str = "all") -> State:
    current = read_state(settings)
    if current and pid_alive(current.server_pid) and pid_alive(current.envoy_pid):
        return current
    if current:
        down(settings)
    components = parse_components(services)
    from lakehouse.servers.auth.exposure import check_exposure

    check_exposure(settings, settings.host)  # the gateway's listener: not open without auth
    server_pid, address = start_server_process(settings, services)
    upstreams = {c: address for c in components if c not in HTTP_COMPONENTS}
    http = ready_info(settings).get("http", {})  # the HTTP components' addresses (`ui`, `mcp`)
    gateway = GatewayConfig.from_settings(
        settings, upstreams, ui_upstream=http.get("ui", ""), mcp_upstream=http.get("mcp", "")
    )
    try:
        envoy = start_envoy(gateway, settings.run_dir)
    except Exception:
        stop_process_group(server_pid)
        raise
    state = State(server_pid, envoy.pid, address, f"{settings.host}:{settings.port}", str(envoy.admin_socket))
    state_path(settings).write_text(json.dumps(asdict(state)))
    return state


def down(settings: Settings) -> bool:
    state = read_state(settings)
    if state is None:
        return False
    stop_process_group(state.envoy_pid)
    stop_process_group(state.server_pid)
    state_path(settings).unlink(missing_ok=True)
    return True


def status(settings: Settings) -> dict:
    state = read_state(settings)
    if state is None:
        return {"running": False}
    return {
        "running": pid_alive(state.server_pid) and pid_alive(state.envoy_pid),
        "server_pid": state.server_pid,
        "server_alive": pid_alive(state.server_pid),
        "envoy_pid": state.envoy_pid,
        "envoy_alive": pid_alive(state.envoy_pid),
        "rest": state.rest_url,
        "grpc": state.gateway,
        "grpc_upstream": state.grpc_upstream,
        "admin_socket": state.admin_socket,
    }
