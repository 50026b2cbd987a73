"""SourcesCore: the source registry, and pulls from a source into a dataset version.

A pull reads through one ``postgres.Session`` (one connection, one read-only
repeatable-read transaction: the watermark, the key check and the rows all see the same
snapshot) and writes through ``IngestCore.ingest_table`` in this process, so it has every
guarantee of an upload: the dataset's lock, its write plan and schema rules, files first
and the catalog commit last, no version unless every row was written, the attempt's
files removed after a failure (a connection dropped mid-stream, a cancel).

Watermarks. A pull with ``incremental_column`` commits its watermark, the largest value
of the column among the rows it read (as PostgreSQL's text), inside the version's source
identity: ``postgres:<hash of source, table or query, column>;watermark=<value>``. The
watermark is therefore atomic with the commit (a pull that fails stores none) and needs
no file of its own. The next pull of the same source, table (or query) and column into
the same dataset finds the newest such version (looking back ``sources.
watermark_scan_versions`` versions) and reads only ``col > watermark``. What that does not
see: rows whose column is NULL (read only by a pull without a watermark: the first, or
``reset_watermark``), and rows committed on the source later with a smaller value than
one already pulled (a long transaction holding an early serial id); a column set at
commit time avoids the latter. A version expired by retention takes its watermark with
it: the next pull reads everything again (an upsert absorbs that; an append duplicates).

Concurrency: pulls into one dataset are serialized in this process, so two cannot
both start from the same watermark; pulls into one dataset from several processes are
not (the second commit then builds on the first and may read the same rows).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import ipaddress
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from urllib.parse import quote, unquote

from lakehouse.api import errors
from lakehouse.api.catalog import CatalogApi, DatasetVersion, WriteMode, validate_dataset_name
from lakehouse.api.errors import UNKNOWN_COLUMN
from lakehouse.api.ingest import PRIMARY_KEY_REQUIRED, IngestProgress, IngestSpec
from lakehouse.api.paging import bad_page_token
from lakehouse.api.sources import (
    PULL_MODES,
    PullResult,
    PullSpec,
    Source,
    SourceSpec,
    validate_source_name,
)
from lakehouse.servers.ingest.core import IngestCore, TableOrigin
from lakehouse.servers.settings import Settings
from lakehouse.servers.sources import postgres
from lakehouse.servers.sources.secrets import Entry, SourceRegistry

SOURCE_KIND = "postgres"
WATERMARK_MARK = ";watermark="
_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.\-_]{0,252})$")
MAX_PORT = 65535
IDENTITY_HEX_CHARS = 32


class SourcesCore:
    """Implements ``lakehouse.api.sources.SourcesApi``."""

    def __init__(self, settings: Settings, ingest: IngestCore, catalog: CatalogApi) -> None:
        self._settings = settings
        self._sources = settings.sources
        self._ingest = ingest
        self._catalog = catalog
        self._registry = SourceRegistry(
            settings.sources.dir or settings.home_dir / "sources",
            settings.sources.registry_file,
            settings.sources.secrets_file,
        )
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # Registry -----------------------------------------------------------

    def create_source(self, spec: SourceSpec, *, replace: bool = False, check_connection: bool = False) -> Source:
        spec = _validated_source(spec)
        if check_connection:
            with self._session(spec, spec.password) as session:
                session.rows("SELECT 1", f"cannot sign in to {spec.user}@{spec.host}:{spec.port}/{spec.database}")
        return self._registry.put(spec, replace).source()

    def list_sources(self, page_size: int = 0, page_token: str = "") -> tuple[list[Source], str]:
        size = self._settings.paging.size(page_size)
        after = _decode_token(page_token)
        entries = self._registry.entries()
        names = sorted(n for n in entries if n > after)
        page = [entries[n].source() for n in names[:size]]
        return page, _encode_token(page[-1].name) if len(names) > size else ""

    def get_source(self, name: str) -> Source:
        return self._registry.get(validate_source_name(name)).source()

    def delete_source(self, name: str) -> None:
        self._registry.delete(validate_source_name(name))

    # Pulls --------------------------------------------------------------

    def pull(
        self,
        spec: PullSpec,
        cancelled: Callable[[], bool] | None = None,
        on_progress: Callable[[IngestProgress], None] | None = None,
    ) -> PullResult:
        started = time.monotonic()
        spec, mode = _validated_pull(spec)
        if spec.table:
            base, label = postgres.table_sql(spec.table), f"table {spec.table!r}"
        else:
            base, label = postgres.check_query(spec.query), "the query"
        entry = self._registry.get(spec.source)
        password = self._registry.password(spec.source)
        identity = pull_identity(spec)
        column = spec.incremental_column
        with self._dataset_lock(spec.dataset):
            before = self._watermark(spec.dataset, identity) if column and not spec.reset_watermark else ""
            with self._session(entry, password) as session:
                relation = postgres.Relation(base, label, tuple(session.describe(base, f"cannot read {label}")))
                _check_columns(relation, spec)
                after = ""
                if column:
                    if before:
                        relation = replace(relation, where=postgres.incremental_where(column, before))
                    after = postgres.high_watermark(session, relation, column) or ""
                    if before and not after:
                        return self._unchanged(spec, mode, identity, before, started)
                table = postgres.PgTable(session, relation)
                origin = TableOrigin(source_key=source_key(identity, after if column else None))
                result = self._ingest.ingest_table(
                    IngestSpec(dataset=spec.dataset, mode=mode, primary_key=spec.key),
                    lambda: table,
                    origin,
                    on_progress,
                    cancelled,
                )
        return PullResult(
            dataset=result.dataset,
            version=result.version,
            mode=result.mode,
            rows=result.rows,
            bytes_read=table.bytes_read,
            bytes_written=result.bytes_written,
            files=result.files,
            schema=result.schema,
            elapsed_s=time.monotonic() - started,
            source_hash=result.source_hash,
            incremental_column=column,
            watermark_before=before,
            watermark_after=after,
        )

    def _session(self, where: SourceSpec | Entry, password: str) -> postgres.Session:
        endpoint = postgres.Endpoint(host=where.host, port=where.port, database=where.database, user=where.user)
        return postgres.Session(endpoint, password, self._sources)

    def _unchanged(self, spec: PullSpec, mode: WriteMode, identity: str, before: str, started: float) -> PullResult:
        """Nothing past the watermark: the dataset stays as it is."""
        current = self._catalog.get_dataset(spec.dataset).current
        return PullResult(
            dataset=spec.dataset,
            version=current.version,
            mode=mode,
            rows=0,
            bytes_read=0,
            bytes_written=0,
            files=0,
            schema=current.schema,
            elapsed_s=time.monotonic() - started,
            source_hash=source_key(identity, before),
            incremental_column=spec.incremental_column,
            watermark_before=before,
            watermark_after=before,
            unchanged=True,
        )

    def _watermark(self, dataset: str, identity: str) -> str:
        """The watermark of the newest kept version this pull identity committed ("" if none)."""
        try:
            current = self._catalog.get_dataset(dataset).current
        except errors.NotFound:
            return ""
        for version in self._history(current):
            found = watermark_of(version.source_hash, identity)
            if found is not None:
                return found
        return ""

    def _history(self, current: DatasetVersion) -> Iterator[DatasetVersion]:
        yield current
        oldest = max(1, current.version - self._sources.watermark_scan_versions + 1)
        for n in range(current.version - 1, oldest - 1, -1):
            try:
                yield self._catalog.get_version(current.dataset, n)
            except errors.NotFound:
                continue  # expired by retention

    @contextlib.contextmanager
    def _dataset_lock(self, name: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            yield


# Identities and watermarks ---------------------------------------------------


def pull_identity(spec: PullSpec) -> str:
    """``postgres:<hex>``: which source, table or query and incremental column a pull reads."""
    what = {"source": spec.source, "table": spec.table, "query": spec.query, "column": spec.incremental_column}
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode("utf-8")).hexdigest()
    return f"{SOURCE_KIND}:{digest[:IDENTITY_HEX_CHARS]}"


def source_key(identity: str, watermark: str | None) -> str:
    """The version's source identity; with the watermark of an incremental pull."""
    return identity if watermark is None else f"{identity}{WATERMARK_MARK}{quote(watermark, safe='')}"


def watermark_of(source_hash: str, identity: str) -> str | None:
    """The watermark a version of this identity committed (None: not such a version)."""
    prefix = identity + WATERMARK_MARK
    return unquote(source_hash[len(prefix) :]) if source_hash.startswith(prefix) else None


# Validation ------------------------------------------------------------------


def _validated_source(spec: SourceSpec) -> SourceSpec:
    validate_source_name(spec.name)
    host = spec.host.strip()
    if not _valid_host(host):
        raise errors.invalid_field("host", f"{spec.host!r} is not a host name or IP address")
    if not 1 <= spec.port <= MAX_PORT:
        raise errors.invalid_field("port", f"must be 1-{MAX_PORT}, got {spec.port}")
    for name, value in (("database", spec.database), ("user", spec.user)):
        if not value or "\x00" in value:
            raise errors.invalid_field(name, "required (and without NUL)")
    if "\x00" in spec.password:
        raise errors.invalid_field("password", "cannot contain NUL")
    return replace(spec, host=host)


def _valid_host(host: str) -> bool:
    """A DNS name or an IP address (never a socket path, a URI or a list of hosts)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOST_RE.fullmatch(host)) and ".." not in host


def _validated_pull(spec: PullSpec) -> tuple[PullSpec, WriteMode]:
    validate_dataset_name(spec.dataset)
    validate_source_name(spec.source, "source")
    if bool(spec.table) == bool(spec.query):
        raise errors.invalid_field("table", "give a table or a query (exactly one)")
    column = spec.incremental_column
    if spec.mode in (None, ""):
        mode = WriteMode.APPEND if column else WriteMode.REPLACE
    else:
        try:
            mode = WriteMode(spec.mode)
        except ValueError:
            mode = None  # type: ignore[assignment]
        if mode not in PULL_MODES:
            raise errors.invalid_field(
                "mode", f"a pull writes with one of {[m.value for m in PULL_MODES]}, not {spec.mode!r}"
            )
    key = tuple(spec.key)
    if any(not k for k in key) or len(set(key)) != len(key):
        raise errors.invalid_field("key", "key columns must be non-empty and distinct")
    if mode == WriteMode.UPSERT and not key:
        raise errors.invalid_field("key", "an upsert pull needs its key columns", reason=PRIMARY_KEY_REQUIRED)
    if column and mode == WriteMode.REPLACE:
        raise errors.invalid_field(
            "mode", "an incremental pull appends or upserts (a replace would keep only the newest rows)"
        )
    return replace(spec, mode=mode, key=key), mode


def _check_columns(relation: postgres.Relation, spec: PullSpec) -> None:
    names = [c.name for c in relation.columns]
    for field_name, wanted in (("key", list(spec.key)), ("incremental_column", [spec.incremental_column])):
        missing = [c for c in wanted if c and c not in names]
        if missing:
            raise errors.InvalidArgument(
                f"{field_name}: {relation.label} has no column(s) {missing}; it has {names}",
                reason=UNKNOWN_COLUMN,
                metadata={"columns": ",".join(missing)},
                violations=[errors.FieldViolation(field_name, f"unknown column(s) {missing}")],
            )


def _encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def _decode_token(token: str) -> str:
    if not token:
        return ""
    try:
        return base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_page_token() from None
