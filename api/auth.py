"""AuthService's API: principals, API keys, profiles, the caller's identity, and roles.

A principal (a user or a service) holds API keys; a profile binds a principal to
buckets, datasets and corpora with a role (reader < writer < admin). A key's secret is
``<prefix><key_id>.<secret part>``: the key id names its row, so a check is one primary-key
lookup plus one hash comparison. ``Identity`` is what the server interceptor resolves a
key to: the principal, the key, every profile, and from those the role and the scopes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from lakehouse.api.protoconv import timestamp
from lakehouse.api.remote import Remote
from lakehouse.v1 import auth_pb2, auth_pb2_grpc

READER = "reader"
WRITER = "writer"
ADMIN = "admin"
ROLES = (READER, WRITER, ADMIN)  # each includes the ones before it
USER = "user"
SERVICE = "service"
KINDS = (USER, SERVICE)
# A scope entry covering every bucket, dataset or corpus.
ANY = "*"
# Request metadata carrying the key (the HTTP ``Authorization`` header through the gateway).
AUTHORIZATION_HEADER = "authorization"
BEARER = "bearer "
# The environment variable the Python client and the CLI take a key from.
API_KEY_ENV = "LAKEHOUSE_API_KEY"

# Stable error reasons (ErrorInfo.reason).
KEY_MISSING = "KEY_MISSING"  # UNAUTHENTICATED: no authorization metadata
KEY_UNKNOWN = "KEY_UNKNOWN"  # UNAUTHENTICATED: malformed, or no such key, or a wrong secret
KEY_REVOKED = "KEY_REVOKED"  # UNAUTHENTICATED
KEY_EXPIRED = "KEY_EXPIRED"  # UNAUTHENTICATED
ROLE_REQUIRED = "ROLE_REQUIRED"  # PERMISSION_DENIED: the caller's role is below the method's
TOO_MANY_AUTH_FAILURES = "TOO_MANY_AUTH_FAILURES"  # RESOURCE_EXHAUSTED: brute-force guard
PRINCIPAL_EXISTS = "PRINCIPAL_EXISTS"
PRINCIPAL_NOT_FOUND = "PRINCIPAL_NOT_FOUND"
PROFILE_EXISTS = "PROFILE_EXISTS"
PROFILE_NOT_FOUND = "PROFILE_NOT_FOUND"
KEY_NOT_FOUND = "KEY_NOT_FOUND"
INVALID_NAME = "INVALID_NAME"
INVALID_ROLE = "INVALID_ROLE"
INVALID_KIND = "INVALID_KIND"
INVALID_TTL = "INVALID_TTL"
# The process cannot check keys (the catalog holding them is unreachable).
AUTH_UNAVAILABLE = "AUTH_UNAVAILABLE"


def role_rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


@dataclass(frozen=True)
class Principal:
    name: str
    kind: str = USER
    created_at: datetime | None = None


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    principal: str
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    description: str = ""


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once


@dataclass(frozen=True)
class Profile:
    name: str
    principal: str
    role: str = READER
    buckets: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    corpora: tuple[str, ...] = ()
    created_at: datetime | None = None


def _union(profiles: Iterable[Profile], attr: str) -> frozenset[str] | None:
    """Every name the profiles cover; None when one covers all (``*``)."""
    names: set[str] = set()
    for p in profiles:
        values = getattr(p, attr)
        if ANY in values:
            return None
        names.update(values)
    return frozenset(names)


@dataclass(frozen=True)
class Identity:
    """The caller of one call. ``datasets``/``corpora``/``buckets``: None is unscoped."""

    principal: Principal
    key: ApiKey | None = None
    profiles: tuple[Profile, ...] = ()
    auth_enabled: bool = True
    role: str = field(init=False)
    datasets: frozenset[str] | None = field(init=False)
    corpora: frozenset[str] | None = field(init=False)
    buckets: frozenset[str] | None = field(init=False)

    def __post_init__(self) -> None:
        best = max((role_rank(p.role) for p in self.profiles), default=-1)
        object.__setattr__(self, "role", ROLES[best] if best >= 0 else "")
        for attr in ("datasets", "corpora", "buckets"):
            object.__setattr__(self, attr, _union(self.profiles, attr))

    def allows(self, role: str) -> bool:
        return role_rank(self.role) >= role_rank(role)

    def sees_dataset(self, name: str) -> bool:
        return self.datasets is None or name in self.datasets

    def sees_corpus(self, name: str) -> bool:
        return self.corpora is None or name in self.corpora

    def sees_bucket(self, name: str) -> bool:
        return self.buckets is None or name in self.buckets


class AuthApi(Protocol):
    """Principals, keys and profiles: the core (servers/auth/core.py) and RemoteAuth."""

    def create_principal(self, name: str, kind: str = USER) -> Principal: ...

    def list_principals(self) -> list[Principal]: ...

    def create_key(self, principal: str, ttl_s: int = 0, description: str = "") -> CreatedKey: ...

    def revoke_key(self, key_id: str) -> ApiKey: ...

    def create_profile(self, profile: Profile) -> Profile: ...

    def list_profiles(self, principal: str = "") -> list[Profile]: ...

    def delete_profile(self, name: str) -> None: ...

    def authenticate(self, secret: str) -> Identity:
        """The identity a key secret stands for; Unauthenticated when none."""
        ...


# Conversions ----------------------------------------------------------------


def _ts(dt: datetime | None):
    return timestamp(dt) if dt is not None else None


def _dt(message, name: str) -> datetime | None:
    return getattr(message, name).ToDatetime(tzinfo=UTC) if message.HasField(name) else None


def principal_to_pb(p: Principal) -> auth_pb2.Principal:
    return auth_pb2.Principal(name=p.name, kind=p.kind, created_at=_ts(p.created_at))


def principal_from_pb(m: auth_pb2.Principal) -> Principal:
    return Principal(name=m.name, kind=m.kind, created_at=_dt(m, "created_at"))


def key_to_pb(k: ApiKey) -> auth_pb2.ApiKey:
    return auth_pb2.ApiKey(
        key_id=k.key_id,
        principal=k.principal,
        created_at=_ts(k.created_at),
        expires_at=_ts(k.expires_at),
        revoked_at=_ts(k.revoked_at),
        description=k.description,
    )


def key_from_pb(m: auth_pb2.ApiKey) -> ApiKey:
    return ApiKey(
        key_id=m.key_id,
        principal=m.principal,
        created_at=_dt(m, "created_at"),
        expires_at=_dt(m, "expires_at"),
        revoked_at=_dt(m, "revoked_at"),
        description=m.description,
    )


def profile_to_pb(p: Profile) -> auth_pb2.Profile:
    return auth_pb2.Profile(
        name=p.name,
        principal=p.principal,
        role=p.role,
        buckets=list(p.buckets),
        datasets=list(p.datasets),
        corpora=list(p.corpora),
        created_at=_ts(p.created_at),
    )


def profile_from_pb(m: auth_pb2.Profile) -> Profile:
    return Profile(
        name=m.name,
        principal=m.principal,
        role=m.role,
        buckets=tuple(m.buckets),
        datasets=tuple(m.datasets),
        corpora=tuple(m.corpora),
        created_at=_dt(m, "created_at"),
    )


def identity_to_pb(i: Identity) -> auth_pb2.WhoAmIResponse:
    return auth_pb2.WhoAmIResponse(
        principal=principal_to_pb(i.principal),
        key=key_to_pb(i.key) if i.key is not None else None,
        profiles=[profile_to_pb(p) for p in i.profiles],
        auth_enabled=i.auth_enabled,
    )


def identity_from_pb(m: auth_pb2.WhoAmIResponse) -> Identity:
    return Identity(
        principal=principal_from_pb(m.principal),
        key=key_from_pb(m.key) if m.HasField("key") else None,
        profiles=tuple(profile_from_pb(p) for p in m.profiles),
        auth_enabled=m.auth_enabled,
    )


class RemoteAuth(Remote):
    """AuthService over the generated stub (the client's ``lh.auth``; RemoteAuth is also how
    a process that does not host the catalog checks keys)."""

    stub_type = auth_pb2_grpc.AuthServiceStub

    def create_principal(self, name: str, kind: str = USER) -> Principal:
        return principal_from_pb(self._call("CreatePrincipal", auth_pb2.CreatePrincipalRequest(name=name, kind=kind)))

    def list_principals(self) -> list[Principal]:
        reply = self._call("ListPrincipals", auth_pb2.ListPrincipalsRequest())
        return [principal_from_pb(p) for p in reply.principals]

    def create_key(self, principal: str, ttl_s: int = 0, description: str = "") -> CreatedKey:
        request = auth_pb2.CreateKeyRequest(principal=principal, ttl_s=ttl_s, description=description)
        reply = self._call("CreateKey", request)
        return CreatedKey(key=key_from_pb(reply.key), secret=reply.secret)

    def revoke_key(self, key_id: str) -> ApiKey:
        return key_from_pb(self._call("RevokeKey", auth_pb2.RevokeKeyRequest(key_id=key_id)))

    def create_profile(self, profile: Profile) -> Profile:
        request = auth_pb2.CreateProfileRequest(profile=profile_to_pb(profile))
        return profile_from_pb(self._call("CreateProfile", request))

    def list_profiles(self, principal: str = "") -> list[Profile]:
        reply = self._call("ListProfiles", auth_pb2.ListProfilesRequest(principal=principal))
        return [profile_from_pb(p) for p in reply.profiles]

    def delete_profile(self, name: str) -> None:
        self._call("DeleteProfile", auth_pb2.DeleteProfileRequest(name=name))

    def whoami(self) -> Identity:
        return identity_from_pb(self._call("WhoAmI", auth_pb2.WhoAmIRequest()))

    def authenticate(self, secret: str) -> Identity:
        return identity_from_pb(self._call("Authenticate", auth_pb2.AuthenticateRequest(secret=secret)))


def bearer(value: str) -> str:
    """The key of an ``authorization`` value (``Bearer <key>``, any case); "" when none."""
    if value[: len(BEARER)].lower() == BEARER:
        return value[len(BEARER) :].strip()
    return ""
