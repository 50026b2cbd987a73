"""A real Lakehouse system for tests: server process(es) + Envoy on free ports."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.client import LakehouseClient
from lakehouse.gateway.process import free_port, stop_process_group
from lakehouse.servers import supervisor
from lakehouse.servers.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that makes a child process load the same settings."""
    env = {"LAKEHOUSE_HOME": str(settings.home_dir), "LAKEHOUSE_PORT": str(settings.port)}
    st = settings.storage
    if st.backend == "s3":
        env.update(
            {
                "LAKEHOUSE_STORAGE__BACKEND": "s3",
                "LAKEHOUSE_STORAGE__S3_ENDPOINT": st.s3_endpoint,
                "LAKEHOUSE_STORAGE__S3_ACCESS_KEY": st.s3_access_key,
                "LAKEHOUSE_STORAGE__S3_SECRET_KEY": st.s3_secret_key.get_secret_value(),
                "LAKEHOUSE_STORAGE__S3_BUCKET": st.s3_bucket,
                "LAKEHOUSE_STORAGE__S3_TIMEOUT_S": str(st.s3_timeout_s),
                "LAKEHOUSE_STORAGE__S3_RETRIES": str(st.s3_retries),
            }
        )
    return env


@dataclass
class System:
    settings: Settings
    state: supervisor.State | None = None
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def start(cls, home: Path, **overrides) -> System:
        settings = Settings(home=home, port=free_port(), **overrides)
        system = cls(settings)
        system._apply_env()
        system.state = supervisor.up(settings)
        return system

    def _apply_env(self) -> None:
        # supervisor starts `lakehouse serve` with os.environ: make it see these settings.
        for key, value in settings_env(self.settings).items():
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
