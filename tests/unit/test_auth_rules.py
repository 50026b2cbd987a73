"""The roles matrix, the failure limiter, the key cache and the exposure check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lakehouse.api import errors
from lakehouse.api.auth import ADMIN, READER, WRITER, ApiKey, Identity, Principal, Profile, bearer
from lakehouse.servers.auth.exposure import check_exposure
from lakehouse.servers.auth.interceptor import Authenticator, source_of
from lakehouse.servers.auth.limiter import FailureLimiter
from lakehouse.servers.auth.rules import KEY_ONLY, OPEN, required_role
from lakehouse.servers.settings import Settings


@pytest.mark.parametrize(
    ("method", "role"),
    [
        ("/grpc.health.v1.Health/Check", OPEN),
        ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", OPEN),
        ("/lakehouse.v1.SystemService/GetHealth", OPEN),
        ("/lakehouse.v1.AuthService/WhoAmI", KEY_ONLY),
        ("/lakehouse.v1.CatalogService/ListDatasets", READER),
        ("/lakehouse.v1.QueryService/Sql", READER),
        ("/lakehouse.v1.MatrixService/Search", READER),
        ("/lakehouse.v1.AskService/AskStream", READER),
        ("/lakehouse.v1.IngestService/Ingest", WRITER),
        ("/lakehouse.v1.CatalogService/DeleteDataset", WRITER),
        ("/lakehouse.v1.VectorService/BuildCorpus", WRITER),
        ("/lakehouse.v1.MatrixService/RecordPlaybookEntry", WRITER),
        ("/lakehouse.v1.ObserverService/RunWorkflow", WRITER),
        ("/lakehouse.v1.NewService/Whatever", WRITER),
        ("/lakehouse.v1.AuthService/CreateKey", ADMIN),
        ("/lakehouse.v1.AuthService/Authenticate", ADMIN),
        ("/lakehouse.v1.StorageService/CreateBucket", ADMIN),
    ],
)
def test_each_method_needs_its_role(method, role):
    assert required_role(method) == role


def _identity(*roles: str) -> Identity:
    return Identity(Principal("p"), profiles=tuple(Profile(f"p{i}", "p", r) for i, r in enumerate(roles)))


@pytest.mark.parametrize(
    ("roles", "needed", "allowed"),
    [
        ((READER,), READER, True),
        ((READER,), WRITER, False),
        ((WRITER,), READER, True),
        ((WRITER,), ADMIN, False),
        ((READER, ADMIN), WRITER, True),
        ((), READER, False),
        ((), KEY_ONLY, True),
    ],
)
def test_the_best_profile_role_decides(roles, needed, allowed):
    assert _identity(*roles).allows(needed) is allowed


def test_a_star_scope_is_unscoped():
    who = Identity(
        Principal("p"),
        profiles=(Profile("a", "p", READER, datasets=("x",)), Profile("b", "p", READER, datasets=("*",))),
    )
    assert who.datasets is None and who.sees_dataset("anything")


class Tick:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_the_limiter_blocks_a_source_for_the_rest_of_its_window():
    tick = Tick()
    limiter = FailureLimiter(3, 60.0, 100, tick)
    for _ in range(3):
        assert limiter.retry_after("a") == 0
        limiter.failed("a")
        tick.t += 1
    assert limiter.retry_after("a") == pytest.approx(57.0)
    assert limiter.retry_after("b") == 0
    tick.t = 100.0 + 60.0
    assert limiter.retry_after("a") == 0  # the first failure left the window
    limiter.failed("a")
    assert limiter.retry_after("a") > 0  # two still in the window plus this one


def test_the_limiter_forgets_the_oldest_sources_past_its_bound():
    limiter = FailureLimiter(1, 60.0, 2, Tick())
    for source in "abc":
        limiter.failed(source)
    assert limiter.retry_after("a") == 0 and limiter.retry_after("c") > 0


def test_the_cache_serves_within_its_ttl_and_clears_on_demand():
    calls = []
    who = _identity(READER)
    tick = Tick()
    cache = Authenticator(lambda s: calls.append(s) or who, 5.0, tick)
    assert cache.identify("k") is who and cache.identify("k") is who and calls == ["k"]
    tick.t += 5
    cache.identify("k")
    assert calls == ["k", "k"]
    cache.clear()
    cache.identify("k")
    assert len(calls) == 3


def test_a_cached_key_that_expires_is_refused():
    past = datetime.now(UTC) - timedelta(seconds=1)
    who = Identity(Principal("p"), key=ApiKey("id", "p", expires_at=past))
    calls = []
    cache = Authenticator(lambda s: calls.append(s) or who, 60.0, Tick())
    cache.identify("k")  # the resolver said yes (an instant ago)
    with pytest.raises(errors.Unauthenticated):
        cache.identify("k")


def test_failures_are_not_cached():
    def resolve(secret):
        raise errors.Unauthenticated("no", reason="KEY_UNKNOWN")

    cache = Authenticator(resolve, 60.0)
    for _ in range(2):
        with pytest.raises(errors.Unauthenticated):
            cache.identify("k")


@pytest.mark.parametrize(
    ("value", "key"), [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", ""), ("abc", ""), ("", "")]
)
def test_bearer_values(value, key):
    assert bearer(value) == key


def test_the_source_is_the_forwarded_address_only_behind_a_loopback_peer():
    assert source_of("ipv4:127.0.0.1:5000", "10.0.0.9, 192.0.2.7") == "192.0.2.7"
    assert source_of("ipv6:[::1]:5000", "192.0.2.7") == "192.0.2.7"
    assert source_of("ipv4:192.0.2.1:5000", "10.9.9.9") == "192.0.2.1"
    assert source_of("ipv4:127.0.0.1:5000", "") == "127.0.0.1"
    # Loopback hops are this host's own (Envoy, the UI, the MCP server): the user is past them.
    assert source_of("ipv4:127.0.0.1:5000", "203.0.113.7, 127.0.0.1, 127.0.0.1") == "203.0.113.7"
    assert source_of("ipv4:127.0.0.1:5000", "127.0.0.1, ::1") == "::1"  # all local: the nearest
    from lakehouse.servers.auth.exposure import host_addresses, is_loopback

    own = next((a for a in sorted(host_addresses()) if not is_loopback(a)), "127.0.0.1")
    assert source_of("ipv4:127.0.0.1:5000", f"203.0.113.7, {own}, {own}") == "203.0.113.7"  # Envoy's rewrite


def test_a_front_end_passes_on_only_well_formed_addresses():
    from lakehouse.api.call_metadata import MAX_FORWARDED_HOPS, end_user_chain

    assert end_user_chain("203.0.113.7", "127.0.0.1") == "203.0.113.7, 127.0.0.1"
    assert end_user_chain("evil\r\nx: y, 198.51.100.2, [2001:db8::1]", "") == "198.51.100.2, 2001:db8::1"
    assert end_user_chain("", "127.0.0.1") == "127.0.0.1"
    many = ", ".join(f"198.51.100.{i}" for i in range(20))
    assert len(end_user_chain(many, "127.0.0.1").split(", ")) == MAX_FORWARDED_HOPS


def test_calls_made_for_an_end_user_carry_their_address():
    from lakehouse.api.call_metadata import END_USER_ADDRESS, MetadataInterceptor

    interceptor = MetadataInterceptor([("x-lakehouse-source", "ui")])
    assert ("x-forwarded-for", "203.0.113.7") not in interceptor._fixed()
    token = END_USER_ADDRESS.set("203.0.113.7")
    try:
        assert ("x-forwarded-for", "203.0.113.7") in interceptor._fixed()
    finally:
        END_USER_ADDRESS.reset(token)


@pytest.mark.parametrize(
    ("host", "enabled", "insecure", "refused"),
    [
        ("127.0.0.1", False, False, False),
        ("localhost", False, False, False),
        ("::1", False, False, False),
        ("0.0.0.0", False, False, True),
        ("10.1.2.3", False, False, True),
        ("example.com", False, False, True),
        ("0.0.0.0", True, False, False),
        ("0.0.0.0", False, True, False),
    ],
)
def test_a_non_loopback_listener_needs_auth_or_insecure(host, enabled, insecure, refused):
    settings = Settings(auth={"enabled": enabled, "insecure": insecure})
    if refused:
        with pytest.raises(RuntimeError, match="--insecure"):
            check_exposure(settings, host)
    else:
        check_exposure(settings, host)
