"""A file of more than 1 GB streams through gRPC into Parquet without being held
in memory: the server's peak RSS stays far below the file size."""

from __future__ import annotations

from pathlib import Path

from tests.support.system import System

GIB = 1024**3
BLOCK_ROWS = 10_000
# The server may use memory for buffers and DuckDB's read-ahead, but never the whole file.
MAX_PEAK_RSS_BYTES = 700 * 1024**2


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_gigabyte_csv_streams_with_bounded_memory(tmp_path):
    block = "".join(
        f"{i},candidate {i},forklift operator with OSHA-10 certification,IL,{i % 90 + 10}.5,2024-01-{i % 28 + 1:02d}\n"
        for i in range(BLOCK_ROWS)
    ).encode()
    blocks = GIB // len(block) + 2

    def body():
        yield b"id,name,title,state,rate,available\n"
        for _ in range(blocks):
            yield block

    system = System.start(tmp_path / "home")
    try:
        with system.client() as lh:
            result = lh.ingest("big", body(), format="csv", mode="create")
            assert result.bytes_in > GIB
            assert result.rows == blocks * BLOCK_ROWS
            assert lh.sql("SELECT count(*) FROM big").rows == [[blocks * BLOCK_ROWS]]
        peak = _peak_rss(system.state.server_pid)
        print(f"peak RSS {peak / 1024**2:.0f} MiB")
        assert peak < MAX_PEAK_RSS_BYTES, (
            f"server peak RSS {peak / 1024**2:.0f} MiB for a {result.bytes_in / GIB:.2f} GiB file"
        )
        # The spool is gone once the ingest is done.
        leftovers = (
            [p for p in system.settings.spool_dir.rglob("*") if p.is_file()]
            if system.settings.spool_dir.exists()
            else []
        )
        assert leftovers == []
    finally:
        system.stop()
