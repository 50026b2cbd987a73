"""Vacuum: expire old dataset versions, then delete the files no kept version names.

Like Delta Lake's VACUUM and Iceberg's expire_snapshots. A version is kept when it
is the current one, one of the ``retain_versions`` newest older ones, or it stopped
being current (the next version was committed) less than ``retain_duration_s`` ago,
because a query that started on it may still be reading its files. Everything else
expires.

Order (DESIGN §4 commit rule, reversed for removal): the versions leave the catalog
in one transaction first, then their files are deleted. A crash in between leaves
files no manifest names, which start-up collection removes; never a version whose
files are gone. Only files under the dataset's own ``datasets/<name>/`` prefix are
ever deleted, and only those no remaining version of any dataset names (the
catalog computes that inside the transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lakehouse.api import errors
from lakehouse.api.catalog import INVALID_RETENTION, DataFile, DatasetVersion, validate_dataset_name
from lakehouse.api.paging import drain_pages
from lakehouse.servers.catalog import integrity
from lakehouse.servers.catalog.core import CatalogCore
from lakehouse.servers.clock import utc_now
from lakehouse.servers.settings import RetentionSettings
from lakehouse.servers.storage.cleanup import delete_keys, delete_quietly
from lakehouse.servers.storage.model import ObjectStore

log = logging.getLogger(__name__)

JOURNAL_OPERATION = "catalog.vacuum"
# Reason of the journal record of files a vacuum could not delete (no RPC returns it).
ORPHANS_LEFT = "ORPHANS_LEFT"


class Journal(Protocol):
    def record(self, operation: str, error: BaseException, context: dict[str, str] | None = None) -> str: ...


@dataclass(frozen=True)
class RetentionPolicy:
    retain_versions: int
    retain_duration_s: float


@dataclass(frozen=True)
class VacuumResult:
    """What vacuum did (or, in a dry run, would do) to one dataset."""

    dataset: str
    expired_versions: tuple[int, ...]
    files_deleted: int
    bytes_deleted: int
    files_left: tuple[str, ...] = ()  # could not be deleted now: orphans, journaled


def expired_versions(versions: list[DatasetVersion], current: int, policy: RetentionPolicy, now: datetime) -> list[int]:
    """The version numbers ``policy`` lets go, given every kept version of one dataset."""
    ordered = sorted(versions, key=lambda v: v.version, reverse=True)
    expired: list[int] = []
    older = 0
    newer: DatasetVersion | None = None  # the next newer kept version: when this one stopped being current
    for v in ordered:
        superseded_by, newer = newer, v
        if v.version >= current:
            continue
        older += 1
        if older <= policy.retain_versions:
            continue
        if superseded_by is None or (now - superseded_by.created_at).total_seconds() < policy.retain_duration_s:
            continue
        expired.append(v.version)
    return sorted(expired)


def _unreferenced(versions: list[DatasetVersion], expired: set[int]) -> list[DataFile]:
    """Files only the expired versions name (a dry run's estimate of what the catalog returns)."""
    kept = {f.path for v in versions if v.version not in expired for f in (*v.files, *v.deltas)}
    out: dict[str, DataFile] = {}
    for v in versions:
        if v.version in expired:
            for f in (*v.files, *v.deltas):
                if f.path not in kept:
                    out.setdefault(f.path, f)
    return [out[p] for p in sorted(out)]


class Retention:
    """VacuumDatasets' core, handed the catalog core and the lake store."""

    def __init__(
        self,
        catalog: CatalogCore,
        store: ObjectStore,
        journal: Journal | None,
        settings: RetentionSettings,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._journal = journal
        self._settings = settings
        self._clock = clock

    def delete_dataset(self, name: str) -> list[str]:
        """Remove the dataset from the catalog, then its files (catalog first: a crash in
        between leaves orphans, never a listed dataset with missing data). Returns the keys
        that could not be deleted now (orphans, journaled)."""
        files = self._catalog.delete_dataset(name)
        if self._journal is None:
            return delete_keys(self._store, [f.path for f in files])
        return delete_quietly(
            self._store, self._journal, "catalog.delete_dataset", [f.path for f in files], {"dataset": name}
        )

    def verify(self, dataset: str = "", all_versions: bool = False) -> integrity.VerifyReport:
        """Re-hash committed files against their manifests (integrity.verify_datasets)."""
        if dataset:
            validate_dataset_name(dataset)
        return integrity.verify_datasets(self._catalog, self._store, dataset, all_versions)

    def policy(self, retain_versions: int | None = None, retain_duration_s: float | None = None) -> RetentionPolicy:
        """The settings' policy with the request's fields (when given) in their place."""
        versions = self._settings.retain_versions if retain_versions is None else retain_versions
        duration = self._settings.retain_duration_s if retain_duration_s is None else retain_duration_s
        if versions < 0:
            raise errors.invalid_field("retain_versions", "must not be negative", reason=INVALID_RETENTION)
        if duration < 0:
            raise errors.invalid_field("retain_duration", "must not be negative", reason=INVALID_RETENTION)
        return RetentionPolicy(int(versions), float(duration))

    def vacuum(
        self,
        dataset: str = "",
        *,
        retain_versions: int | None = None,
        retain_duration_s: float | None = None,
        dry_run: bool = False,
    ) -> list[VacuumResult]:
        """Vacuum one dataset (NotFound if it does not exist) or, with ``dataset=""``, all."""
        policy = self.policy(retain_versions, retain_duration_s)
        if dataset:
            validate_dataset_name(dataset)
            names = [self._catalog.get_dataset(dataset).name]
        else:
            names = self._dataset_names()
        results = []
        for name in names:
            try:
                results.append(self._vacuum_one(name, policy, dry_run))
            except errors.NotFound:
                if dataset:
                    raise
                # Deleted meanwhile: nothing left to vacuum.
        return results

    # Steps ---------------------------------------------------------------

    def _dataset_names(self) -> list[str]:
        return [d.name for d in drain_pages(lambda token: self._catalog.list_datasets(page_token=token))]

    def _versions(self, name: str) -> list[DatasetVersion]:
        return list(drain_pages(lambda token: self._catalog.list_versions(name, page_token=token)))

    def _vacuum_one(self, name: str, policy: RetentionPolicy, dry_run: bool) -> VacuumResult:
        current = self._catalog.get_dataset(name).current_version
        versions = self._versions(name)
        expire = expired_versions(versions, current, policy, self._clock())
        if not expire:
            return VacuumResult(name, (), 0, 0)
        if dry_run:
            files = self._own(name, _unreferenced(versions, set(expire)))
            return VacuumResult(name, tuple(expire), len(files), sum(f.bytes for f in files))
        removed, unreferenced = self._catalog.expire_versions(name, expire)
        files = self._own(name, list(unreferenced))
        left = delete_keys(self._store, [f.path for f in files])
        if left:
            self._journal_left(name, removed, left)
        gone = [f for f in files if f.path not in set(left)]
        log.info("vacuum %s: expired versions %s, deleted %d files", name, list(removed), len(gone))
        return VacuumResult(name, removed, len(gone), sum(f.bytes for f in gone), tuple(left))

    @staticmethod
    def _own(name: str, files: list[DataFile]) -> list[DataFile]:
        """Only files under the dataset's own prefix are ever deleted."""
        return [f for f in files if integrity.owns(name, f.path)]

    def _journal_left(self, name: str, removed: tuple[int, ...], left: list[str]) -> None:
        if self._journal is None:
            return
        self._journal.record(
            JOURNAL_OPERATION,
            errors.Unavailable(f"could not delete {len(left)} expired file(s)", reason=ORPHANS_LEFT),
            {
                "dataset": name,
                "expired_versions": ",".join(map(str, removed)),
                "files_left": ",".join(left),
                "note": "versions expired; files left as orphans, collected at the next start",
            },
        )
