"""A catalog and a local lake to write datasets into, for the query tests."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.api import errors
from lakehouse.api.catalog import (
    DELTA_OP_COLUMN,
    DELTA_SEQ_COLUMN,
    DataFile,
    NewVersion,
    WriteMode,
)
from lakehouse.servers.catalog.core import CatalogCore
from lakehouse.servers.storage.local import LocalObjectStore


class Lake:
    """A local lake plus its catalog, with helpers to write files and commit versions."""

    def __init__(self, root: Path) -> None:
        self.store = LocalObjectStore("lake", root / "lake")
        self.catalog = CatalogCore(root / "catalog.sqlite")
        fs, base = self.store.filesystem()
        self.fs = fs
        self.base = base
        self._counter = 0

    def write(self, key: str, table: pa.Table) -> DataFile:
        path = f"{self.base}/{key}"
        self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        pq.write_table(table, path)
        size = self.fs.get_file_info(path).size
        return DataFile(path=key, rows=table.num_rows, bytes=size, content_hash="sha256:" + "0" * 64)

    def part(self, name: str, table: pa.Table) -> DataFile:
        self._counter += 1
        return self.write(f"datasets/{name}/v{self._counter}/part-0.parquet", table)

    def delta(self, name: str, table: pa.Table, ops: list[str], seqs: list[int]) -> DataFile:
        self._counter += 1
        full = table.append_column(DELTA_OP_COLUMN, pa.array(ops, pa.string())).append_column(
            DELTA_SEQ_COLUMN, pa.array(seqs, pa.int64())
        )
        return self.write(f"datasets/{name}/deltas/{self._counter}.parquet", full)

    def commit(
        self,
        name: str,
        files: list[DataFile],
        schema: pa.Schema,
        deltas: list[DataFile] | None = None,
        key: tuple[str, ...] = (),
        mode: WriteMode = WriteMode.CREATE,
    ) -> int:
        current = self.current_version(name)
        version = self.catalog.commit_version(
            NewVersion(
                dataset=name,
                expected_version=current,
                files=tuple(files),
                deltas=tuple(deltas or ()),
                schema=schema,
                mode=mode,
                primary_key=key,
            )
        )
        return version.version

    def current_version(self, name: str) -> int:
        try:
            return self.catalog.get_dataset(name).current_version
        except errors.NotFound:
            return 0


PEOPLE = pa.schema([("id", pa.int64()), ("name", pa.string()), ("score", pa.float64())])


def people(ids: list[int], names: list[str], scores: list[float] | None = None) -> pa.Table:
    return pa.table(
        {"id": pa.array(ids, pa.int64()), "name": names, "score": scores or [float(i) for i in ids]},
        schema=PEOPLE,
    )
