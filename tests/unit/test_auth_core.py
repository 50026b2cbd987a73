"""AuthCore on a real SQLite file: keys stored as digests only, shown once, revoked,
expired; profiles and the identity they make; bootstrap writes 0600 files once."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta

import pytest

from lakehouse.api import errors
from lakehouse.api.auth import (
    ADMIN,
    INVALID_NAME,
    INVALID_ROLE,
    KEY_EXPIRED,
    KEY_REVOKED,
    KEY_UNKNOWN,
    PRINCIPAL_EXISTS,
    PRINCIPAL_NOT_FOUND,
    PROFILE_NOT_FOUND,
    READER,
    WRITER,
    Profile,
)
from lakehouse.servers.auth.core import AuthCore, digest
from lakehouse.servers.settings import AuthSettings


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def core(tmp_path, clock):
    c = AuthCore(tmp_path / "catalog.sqlite", AuthSettings(), clock)
    yield c
    c.close()


def test_a_key_is_stored_only_as_its_digest(core, tmp_path):
    core.create_principal("ana")
    made = core.create_key("ana")
    assert made.secret.startswith(f"lh_{made.key.key_id}.")
    rows = sqlite3.connect(tmp_path / "catalog.sqlite").execute("SELECT * FROM auth_keys").fetchall()
    flat = " ".join(str(v) for row in rows for v in row)
    assert made.secret not in flat and made.secret.split(".", 1)[1] not in flat
    assert digest(made.secret) in flat


def test_the_secret_authenticates_its_principal_with_its_profiles(core):
    core.create_principal("ana")
    core.create_profile(Profile("ana-sales", "ana", READER, datasets=("sales",), corpora=("cvs",)))
    core.create_profile(Profile("ana-hr", "ana", WRITER, datasets=("staff",)))
    who = core.authenticate(core.create_key("ana").secret)
    assert who.principal.name == "ana" and who.role == WRITER
    assert who.datasets == frozenset({"sales", "staff"}) and who.corpora == frozenset({"cvs"})
    assert who.sees_dataset("sales") and not who.sees_dataset("payroll")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),
        lambda s: "lh_nokey.x",
        lambda s: "",
        lambda s: "Bearer",
        lambda s: s.replace("lh_", "xx_"),
        lambda s: s.split(".")[0],
    ],
)
def test_a_wrong_or_malformed_secret_is_unknown(core, mangle):
    core.create_principal("ana")
    secret = core.create_key("ana").secret
    with pytest.raises(errors.Unauthenticated) as err:
        core.authenticate(mangle(secret))
    assert err.value.reason == KEY_UNKNOWN


def test_a_revoked_key_stops_working_and_notifies(core):
    core.create_principal("ana")
    made = core.create_key("ana")
    seen = []
    core.on_change.append(lambda: seen.append(1))
    revoked = core.revoke_key(made.key.key_id)
    assert revoked.revoked_at is not None and seen == [1]
    with pytest.raises(errors.Unauthenticated) as err:
        core.authenticate(made.secret)
    assert err.value.reason == KEY_REVOKED
    with pytest.raises(errors.NotFound):
        core.revoke_key("nope")


def test_a_key_expires_after_its_ttl(core, clock):
    core.create_principal("ana")
    made = core.create_key("ana", ttl_s=60)
    assert made.key.expires_at == clock.now + timedelta(seconds=60)
    core.authenticate(made.secret)
    clock.now += timedelta(seconds=60)
    with pytest.raises(errors.Unauthenticated) as err:
        core.authenticate(made.secret)
    assert err.value.reason == KEY_EXPIRED


def test_bad_input_is_refused_with_a_reason(core):
    with pytest.raises(errors.InvalidArgument) as err:
        core.create_principal("bad name")
    assert err.value.reason == INVALID_NAME
    core.create_principal("ana")
    with pytest.raises(errors.AlreadyExists) as exists:
        core.create_principal("ana")
    assert exists.value.reason == PRINCIPAL_EXISTS
    with pytest.raises(errors.NotFound) as missing:
        core.create_key("bob")
    assert missing.value.reason == PRINCIPAL_NOT_FOUND
    with pytest.raises(errors.InvalidArgument) as role:
        core.create_profile(Profile("p", "ana", "owner"))
    assert role.value.reason == INVALID_ROLE
    with pytest.raises(errors.InvalidArgument):
        core.create_profile(Profile("p", "ana", READER, datasets=("a/b",)))
    with pytest.raises(errors.InvalidArgument):
        core.create_key("ana", ttl_s=-1)
    with pytest.raises(errors.NotFound) as gone:
        core.delete_profile("p")
    assert gone.value.reason == PROFILE_NOT_FOUND


def test_profiles_are_listed_and_deleted(core):
    core.create_principal("ana")
    core.create_principal("bob")
    core.create_profile(Profile("a1", "ana", READER, datasets=("x",)))
    core.create_profile(Profile("b1", "bob", READER, datasets=("y",)))
    assert [p.name for p in core.list_profiles()] == ["a1", "b1"]
    assert [p.name for p in core.list_profiles("bob")] == ["b1"]
    core.delete_profile("a1")
    assert [p.name for p in core.list_profiles()] == ["b1"]
    assert [p.name for p in core.list_principals()] == ["ana", "bob"]


def test_bootstrap_writes_owner_only_keys_once(core, tmp_path):
    admin, internal = tmp_path / "auth" / "admin.key", tmp_path / "auth" / "internal.key"
    assert core.bootstrap(admin, internal)
    for path in (admin, internal):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    who = core.authenticate(admin.read_text().strip())
    assert who.role == ADMIN and who.datasets is None and who.corpora is None
    assert core.authenticate(internal.read_text().strip()).principal.kind == "service"
    first = admin.read_text()
    assert not core.bootstrap(admin, internal)
    assert admin.read_text() == first
