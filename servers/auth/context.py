"""The caller of the current call, for cores that scope what they return (no gRPC here).

The auth interceptor sets it around each handler; a call inside a core (Ask retrieving
through the matrix core, a workflow mode running SQL) runs on the same thread and sees
the same caller. None: auth is off, or the work has no caller (start-up, background).
"""

from __future__ import annotations

from contextvars import ContextVar

from lakehouse.api import errors
from lakehouse.api.auth import Identity
from lakehouse.api.catalog import DATASET_NOT_FOUND

CALLER: ContextVar[Identity | None] = ContextVar("lakehouse_caller", default=None)


def caller() -> Identity | None:
    return CALLER.get()


def dataset_scope() -> frozenset[str] | None:
    """The datasets the caller may see; None: every one."""
    who = CALLER.get()
    return None if who is None else who.datasets


def corpus_scope() -> frozenset[str] | None:
    """The corpora the caller may see; None: every one."""
    who = CALLER.get()
    return None if who is None else who.corpora


def hidden_dataset(name: str) -> errors.NotFound:
    """What a caller gets for a dataset outside its profiles: the same NOT_FOUND as for one
    that does not exist, so names do not leak."""
    return errors.NotFound(f"dataset not found: {name}", reason=DATASET_NOT_FOUND, metadata={"dataset": name})


def check_dataset(name: str) -> None:
    """NotFound unless the caller may see ``name``."""
    scope = dataset_scope()
    if scope is not None and name not in scope:
        raise hidden_dataset(name)
