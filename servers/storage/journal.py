"""The error journal: failed operations are written down, never dropped.

Each record is one small JSON object at ``_errors/<YYYY-MM-DD>/<id>.json`` in the
lake bucket. When the lake itself is the thing failing, the record goes to the
local rescue bucket instead (marked ``"rescued": true``), and ``list`` shows
both, newest first.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from lakehouse.api import errors
from lakehouse.api.paging import LARGEST_PAGE, PagingSettings, bad_page_token, drain_pages
from lakehouse.api.storage import ErrorRecord
from lakehouse.servers.clock import utc_now
from lakehouse.servers.storage.model import ObjectStore

log = logging.getLogger(__name__)

ERRORS_PREFIX = "_errors/"
CONTENT_TYPE = "application/json"
# Ids sort by time: UTC timestamp to the microsecond, then random hex for uniqueness.
ID_TIME_FORMAT = "%Y%m%dT%H%M%S%f"
ID_RANDOM_HEX = 12
ID_PATTERN = re.compile(rf"\d{{8}}T\d{{12}}-[0-9a-f]{{{ID_RANDOM_HEX}}}")
DATE_FORMAT = "%Y-%m-%d"


def _safe_str(value: object) -> str:
    """str() that cannot fail: the journal must record even pathological errors."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001
        return f"<unprintable {type(value).__name__}>"


def error_record(entry: dict[str, Any]) -> ErrorRecord:
    """The domain form of one stored entry (older entries may lack fields)."""
    return ErrorRecord(
        id=entry.get("id", ""),
        time=datetime.fromisoformat(entry["time"]) if entry.get("time") else None,
        operation=entry.get("operation", ""),
        code=entry.get("code", ""),
        reason=entry.get("reason", ""),
        message=entry.get("message", ""),
        context={str(k): str(v) for k, v in (entry.get("context") or {}).items()},
        rescued=bool(entry.get("rescued")),
    )


class ErrorJournal:
    """Writes error records to ``primary``, falling back to ``rescue``; ``record`` never raises."""

    def __init__(
        self,
        primary: ObjectStore,
        rescue: ObjectStore,
        clock: Callable[[], datetime] = utc_now,
        paging: PagingSettings | None = None,
    ) -> None:
        self._primary = primary
        self._rescue = rescue
        self._clock = clock
        self._paging = paging or PagingSettings()

    def new_id(self, now: datetime) -> str:
        return f"{now.strftime(ID_TIME_FORMAT)}-{uuid.uuid4().hex[:ID_RANDOM_HEX]}"

    @staticmethod
    def key_for(record_id: str, now: datetime) -> str:
        return f"{ERRORS_PREFIX}{now.strftime(DATE_FORMAT)}/{record_id}.json"

    def record(self, operation: str, error: BaseException, context: Mapping[str, str] | None = None) -> str:
        """Persist one record and return its id. Never raises: if even the rescue
        bucket fails, the record is logged and the id still returned."""
        try:
            now = self._clock().astimezone(UTC)
        except Exception:  # noqa: BLE001
            now = utc_now()
        record_id = self.new_id(now)
        entry = self._entry(record_id, now, operation, error, context)
        key = self.key_for(record_id, now)
        try:
            self._primary.put(key, [self._encode(entry)], CONTENT_TYPE)
            return record_id
        except Exception as primary_exc:  # noqa: BLE001 - any failure means: rescue
            entry["rescued"] = True
            entry["rescue_cause"] = f"{type(primary_exc).__name__}: {_safe_str(primary_exc)}"
        try:
            self._rescue.put(key, [self._encode(entry)], CONTENT_TYPE)
        except Exception:
            log.exception("error journal: primary and rescue both failed; record follows: %s", entry)
        return record_id

    @staticmethod
    def _entry(
        record_id: str, now: datetime, operation: str, error: BaseException, context: Mapping[str, str] | None
    ) -> dict[str, Any]:
        lakehouse = error if isinstance(error, errors.LakehouseError) else None
        try:
            ctx = {_safe_str(k): _safe_str(v) for k, v in (context or {}).items()}
        except Exception:  # noqa: BLE001 - a broken mapping must not lose the record
            ctx = {"context": "<unreadable>"}
        return {
            "id": record_id,
            "time": now.isoformat(),
            "operation": _safe_str(operation),
            "error_type": type(error).__name__,
            "code": lakehouse.code if lakehouse else "",
            "reason": lakehouse.reason if lakehouse else "",
            "message": _safe_str(error),
            "context": ctx,
            "rescued": False,
        }

    @staticmethod
    def _encode(entry: dict[str, Any]) -> bytes:
        return json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8")

    # Reading -------------------------------------------------------------

    def list(
        self, limit: int = 0, page_token: str = "", visible: Callable[[dict[str, Any]], bool] | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """Records from both buckets, newest first, only those ``visible`` admits (all when
        None). ``page_token`` is the last id of the previous page. A bucket that cannot be
        read is skipped (logged), so rescued records stay visible while the lake is down;
        if neither can be read, the primary's error is raised."""
        limit = self._paging.size(limit)
        if page_token and not ID_PATTERN.fullmatch(page_token):
            raise bad_page_token()
        located: dict[str, tuple[ObjectStore, str]] = {}
        failures: list[errors.LakehouseError] = []
        # A write that timed out may still have landed in the primary after being
        # rescued; the rescued copy (it says what went wrong) is the one shown.
        for store in (self._primary, self._rescue):
            try:
                for key in self._keys(store):
                    record_id = key.rsplit("/", 1)[-1].removesuffix(".json")
                    if ID_PATTERN.fullmatch(record_id) and (not page_token or record_id < page_token):
                        located[record_id] = (store, key)
            except errors.LakehouseError as exc:
                log.warning("error journal: cannot list %s: %s", store.info.name, exc)
                failures.append(exc)
        if len(failures) == 2:
            raise failures[0]
        newest = sorted(located, reverse=True)
        page: list[dict[str, Any]] = []
        last_id = ""
        for record_id in newest:
            if len(page) == limit:
                return page, last_id  # more remain: resume after the last one shown
            entry = self._read(*located[record_id])
            if entry is not None and (visible is None or visible(entry)):
                page.append(entry)
                last_id = record_id
        return page, ""

    @staticmethod
    def _keys(store: ObjectStore) -> list[str]:
        return [info.key for info in drain_pages(lambda token: store.list(ERRORS_PREFIX, LARGEST_PAGE, token))]

    @staticmethod
    def _read(store: ObjectStore, key: str) -> dict[str, Any] | None:
        try:
            entry = json.loads(b"".join(store.get(key)))
        except (errors.LakehouseError, ValueError) as exc:
            log.warning("error journal: skipping unreadable record %s in %s: %s", key, store.info.name, exc)
            return None
        return entry if isinstance(entry, dict) else None
