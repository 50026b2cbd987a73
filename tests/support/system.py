"""A real Lakehouse system for tests: server process(es) + Envoy on free ports."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.client import LakehouseClient
from lakehouse.gateway.process import free_port, stop_process_group
from lakehouse.servers import supervisor
from lakehouse.servers.settings import Settings


@dataclass
class System:
    settings: Settings
    env: dict[str, str]
    state: supervisor.State | None = None
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def start(cls, home: Path, env: dict[str, str] | None = None) -> System:
        """``env``: extra LAKEHOUSE_* settings, seen by this process and the servers alike."""
        full = {"LAKEHOUSE_HOME": str(home), "LAKEHOUSE_PORT": str(free_port()), **(env or {})}
        system = cls(Settings(), full)
        system._apply_env()
        system.settings = Settings()
        system.state = supervisor.up(system.settings)
        return system

    def _apply_env(self) -> None:
        # supervisor starts `lakehouse serve` with os.environ: make it see these settings.
        for key, value in self.env.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.settings.port}"

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def client(self, **kw) -> LakehouseClient:
        return LakehouseClient(self.grpc_address, **kw)

    def kill_server(self) -> None:
        """SIGKILL the server process (not Envoy): a crash, not a shutdown."""
        assert self.state is not None
        import signal

        os.killpg(self.state.server_pid, signal.SIGKILL)
        stop_process_group(self.state.server_pid)

    def restart(self) -> None:
        supervisor.down(self.settings)
        self._apply_env()
        self.state = supervisor.up(self.settings)

    def stop(self) -> None:
        supervisor.down(self.settings)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait_until_built(lh: LakehouseClient, corpus: str, timeout_s: float = 60) -> None:
    """Block until the corpus's background rebuild is over (RebuildCorpus returns at once)."""
    import time

    deadline = time.monotonic() + timeout_s
    while lh.get_corpus(corpus).building:
        if time.monotonic() > deadline:
            raise TimeoutError(f"corpus {corpus!r} still building after {timeout_s}s")
        time.sleep(0.05)
