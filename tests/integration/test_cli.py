"""The `lakehouse` CLI as an operator uses it: up, status, ingest, sql, datasets, down."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx

from lakehouse.gateway.process import free_port, pid_alive

CLI_TIMEOUT_S = 120


def _cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=check,
    )


def test_up_use_down(tmp_path):
    port = free_port()
    env = {**os.environ, "LAKEHOUSE_HOME": str(tmp_path / "home"), "LAKEHOUSE_PORT": str(port)}
    up = _cli(env, "up")
    try:
        assert f"127.0.0.1:{port}" in up.stdout
        # `up` returned, so the system must already answer.
        assert httpx.get(f"http://127.0.0.1:{port}/v1/health").json()["status"] == "SERVING"
        status = json.loads(_cli(env, "status").stdout)
        assert status["running"] and status["health"]["status"] == "SERVING"
        # Everything lives under LAKEHOUSE_HOME.
        assert (tmp_path / "home" / "run" / "state.json").exists()

        csv = tmp_path / "people.csv"
        csv.write_text("id,name,state\n1,ann,IL\n2,bo,WI\n3,cy,IL\n")
        ingested = json.loads(_cli(env, "ingest", "people", str(csv), "--format", "csv").stdout)
        assert ingested["rows"] == "3" and ingested["version"] == "1"
        out = _cli(
            env,
            "sql",
            "SELECT state, count(*) AS n FROM people GROUP BY state ORDER BY state",
            "--output",
            "json",
        ).stdout
        assert json.loads(out)["rows"] == [["IL", 2], ["WI", 1]]
        assert "people" in _cli(env, "datasets").stdout

        # Read options: a title line, no header, NA nulls, names given.
        shifts = tmp_path / "shifts.csv"
        shifts.write_text("Shift export\n1,ann,7.5\n2,NA,8.0\n3,cy,6.5\n")
        args = ["--skip", "1", "--header", "false", "--null", "NA", "--column", "id", "--column", "who"]
        ingested = json.loads(_cli(env, "ingest", "shifts", str(shifts), *args, "--column", "hours").stdout)
        assert ingested["rows"] == "3" and ingested["header"] == "given" and ingested["skipped_lines"] == "1"
        assert [f["name"] for f in ingested["schema"]["fields"]] == ["id", "who", "hours"]
        assert ingested["read_options"]["null"] == ["NA"] and ingested["read_options"]["skip"] == "1"
        out = _cli(env, "sql", "SELECT count(who) AS named FROM shifts", "--output", "json").stdout
        assert json.loads(out)["rows"] == [[2]]
        refused = _cli(env, "ingest", "shifts2", str(shifts), "--format", "csv", check=False)
        assert refused.returncode == 1 and "CSV_DIALECT_NOT_FOUND" in refused.stderr and "skip=1" in refused.stderr
        bad = _cli(env, "sql", "SELECT * FROM missing_table", check=False)
        assert bad.returncode == 1 and "NOT_FOUND" in bad.stderr
    finally:
        state = json.loads((tmp_path / "home" / "run" / "state.json").read_text())
        assert "stopped" in _cli(env, "down").stdout
    assert not pid_alive(state["server_pid"]) and not pid_alive(state["envoy_pid"])
    assert _cli(env, "status", check=False).returncode == 1
