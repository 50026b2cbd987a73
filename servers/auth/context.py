"""The caller of the current call, for cores that scope what they return (no gRPC here).

The auth interceptor sets it around each handler; a call inside a core (Ask retrieving
through the matrix core, a workflow mode running SQL) runs on the same thread and sees
the same caller. None: auth is off, or the work has no caller (start-up, background).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

from lakehouse.api import errors
from lakehouse.api.auth import Identity
from lakehouse.api.call_metadata import CALLER_AUTHORIZATION
from lakehouse.api.catalog import DATASET_NOT_FOUND
from lakehouse.api.storage import BUCKET_NOT_FOUND
from lakehouse.api.vector import CORPUS_NOT_FOUND

CALLER: ContextVar[Identity | None] = ContextVar("lakehouse_caller", default=None)


def caller() -> Identity | None:
    return CALLER.get()


@contextmanager
def acting_as(identity: Identity | None, authorization: str | None) -> Iterator[None]:
    """Run with ``identity`` as the caller cores see (``CALLER``) and ``authorization`` as what
    delegating channels pass on (``CALLER_AUTHORIZATION``; None: their own key)."""
    caller, credential = CALLER.set(identity), CALLER_AUTHORIZATION.set(authorization)
    try:
        yield
    finally:
        CALLER_AUTHORIZATION.reset(credential)
        CALLER.reset(caller)


def as_service() -> AbstractContextManager[None]:
    """Run a core's own bookkeeping (the playbook dataset behind the playbook API) with no
    caller: what it returns is then scoped by the API it serves, not by the dataset scope
    of whoever triggered it, and remote calls carry the internal key. Never around a
    caller's own SQL or datasets."""
    return acting_as(None, None)


def _scope(kind: str) -> frozenset[str] | None:
    who = CALLER.get()
    return None if who is None else getattr(who, kind)


def dataset_scope() -> frozenset[str] | None:
    """The datasets the caller may see; None: every one."""
    return _scope("datasets")


def corpus_scope() -> frozenset[str] | None:
    """The corpora the caller may see; None: every one."""
    return _scope("corpora")


def bucket_scope() -> frozenset[str] | None:
    """The buckets the caller may use through the object API and ingest; None: every one.
    The lake and rescue buckets are buckets like the others here: a profile that does not
    hold the lake cannot read dataset files around its dataset scope."""
    return _scope("buckets")


def hidden_dataset(name: str) -> errors.NotFound:
    """What a caller gets for a dataset outside its profiles: the same NOT_FOUND as for one
    that does not exist, so names do not leak."""
    return errors.NotFound(f"dataset not found: {name}", reason=DATASET_NOT_FOUND, metadata={"dataset": name})


def hidden_corpus(name: str) -> errors.NotFound:
    """A corpus outside the caller's profiles: the NOT_FOUND of one that does not exist."""
    return errors.NotFound(
        f"corpus {name!r} not found on any vector upstream", reason=CORPUS_NOT_FOUND, metadata={"corpus": name}
    )


def bucket_not_found(name: str) -> errors.NotFound:
    """A bucket that does not exist, or is outside the caller's profiles: the same answer."""
    return errors.NotFound(f"bucket {name!r} not found", reason=BUCKET_NOT_FOUND, metadata={"bucket": name})


def _check(name: str, sees: Callable[[Identity, str], bool], refusal: Callable[[str], errors.NotFound]) -> None:
    who = CALLER.get()
    if who is not None and not sees(who, name):
        raise refusal(name)


def check_dataset(name: str) -> None:
    """NotFound unless the caller may see ``name``."""
    _check(name, Identity.sees_dataset, hidden_dataset)


def check_corpus(name: str) -> None:
    """NotFound unless the caller may see (or create) corpus ``name``."""
    _check(name, Identity.sees_corpus, hidden_corpus)


def check_bucket(name: str) -> None:
    """NotFound unless the caller may use bucket ``name``."""
    _check(name, Identity.sees_bucket, bucket_not_found)
