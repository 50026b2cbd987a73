"""Fuzz every REST method through Envoy: no request, however malformed, gets a 5xx or a hang.

Requests are drawn from the proto descriptors (``tests/support/rest_fuzz.py``).
CI runs a fixed, derandomized sample of about a minute; ``bench/fuzz_rest.py`` (or
``LAKEHOUSE_FUZZ_EXAMPLES`` / ``LAKEHOUSE_FUZZ_RANDOM=1``) runs larger, random ones.
"""

from __future__ import annotations

import os

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.support.fake_llm import FakeLLM
from tests.support.rest_fuzz import FuzzRequest, RestMethod, rest_methods
from tests.support.rest_fuzz import requests as fuzz_requests
from tests.support.system import System

pytestmark = pytest.mark.integration

# Examples per REST method (42 methods: about a minute in all on 2 cores).
EXAMPLES = int(os.environ.get("LAKEHOUSE_FUZZ_EXAMPLES", "120"))
RANDOM = os.environ.get("LAKEHOUSE_FUZZ_RANDOM", "") == "1"
# A request the server does not answer within this long counts as a hang.
REQUEST_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def fuzz_system(tmp_path_factory: pytest.TempPathFactory):
    """A system of its own (the fuzzer creates and deletes things), with chat pointed at a
    fake provider so ModelService.Chat answers instead of reporting a missing dependency."""
    with FakeLLM() as fake:
        system = System.start(
            tmp_path_factory.mktemp("fuzz-home"),
            env={"LAKEHOUSE_MODELS__CHAT_PROVIDER": "ollama", "LAKEHOUSE_MODELS__OLLAMA_URL": fake.url},
        )
        try:
            yield system
        finally:
            system.stop()


def send(http: httpx.Client, request: FuzzRequest) -> httpx.Response:
    headers = {"content-type": request.content_type} if request.content_type else {}
    try:
        return http.request(request.verb, request.path, content=request.content, headers=headers)
    except httpx.TimeoutException:
        raise AssertionError(f"no answer within {REQUEST_TIMEOUT_S}s: {request.describe()}") from None


def test_the_descriptors_yield_every_rest_method():
    methods = {f"{m.service}.{m.name}" for m in rest_methods()}
    # Spot checks that the walk finds bodies, variables and raw uploads alike.
    assert {"QueryService.Sql", "IngestService.Ingest", "StorageService.PutObject", "VectorService.Search"} <= methods
    assert len(methods) >= 40


@pytest.fixture(scope="module")
def http(fuzz_system: System):
    with httpx.Client(base_url=fuzz_system.rest, timeout=REQUEST_TIMEOUT_S) as client:
        yield client


@pytest.mark.parametrize("method", rest_methods(), ids=str)
def test_no_rest_request_gets_a_5xx(http: httpx.Client, method: RestMethod):
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(fuzz_requests([method]))
    def check(request: FuzzRequest) -> None:
        response = send(http, request)
        assert response.status_code < 500, (
            f"{response.status_code} for {request.method}: {request.describe()}\n{response.text[:800]}"
        )

    check()
    # Still serving after the method's whole sample.
    assert http.get("/v1/health").status_code == 200
