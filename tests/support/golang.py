"""Build the Go client (clients/go) in GOPATH mode against gen/go and Debian's Go packages."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_GOPATH = "/usr/share/gocode"
BUILD_TIMEOUT_S = 300


def build_go_client(workdir: Path, command: str = "lakehouse-cli") -> Path:
    """Build ``clients/go/<command>`` (the CLI, or e.g. pathway-hash) into ``workdir``."""
    go = shutil.which("go")
    assert go, "Go comes from Debian's golang-go (scripts/setup-dev installs it)"
    gopath = workdir / "gopath"
    (gopath / "src").mkdir(parents=True)
    # The generated code's import path is lakehouse/gen/go/...: map the repo there.
    (gopath / "src" / "lakehouse").symlink_to(ROOT)
    out = workdir / command
    env = {
        **os.environ,
        "GOPATH": f"{gopath}:{DEBIAN_GOPATH}",
        "GO111MODULE": "off",
        "GOPROXY": "off",
        "GOFLAGS": "",
        "GOCACHE": str(workdir / "gocache"),
    }
    subprocess.run(
        [go, "build", "-o", str(out), "."],
        cwd=gopath / "src" / "lakehouse" / "clients" / "go" / command,
        env=env,
        check=True,
        timeout=BUILD_TIMEOUT_S,
        capture_output=True,
    )
    return out
