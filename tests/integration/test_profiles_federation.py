"""The G2 acceptance test: two profiles bound to two buckets (a local directory and an S3
bucket on SeaweedFS, auth on). Each team lands a raw file in its own bucket, ingests it
into the lake and queries it, scoped: the other team's bucket, dataset and corpus do not
exist for it, through gRPC and REST. A vector index is rebuilt and hot-swapped while both
teams search without one failed call, and a rollback returns the previous generation.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest

from lakehouse.api import errors
from lakehouse.api.auth import Profile
from lakehouse.api.storage import S3Location
from lakehouse.client import LakehouseClient, ObjectRef
from tests.support.fixtures import seaweed  # noqa: F401 - pytest fixture
from tests.support.rest import bearer, error_reason
from tests.support.system import System

ROWS = 40
RAW_KEY = "raw/people.csv"
SEARCHES_PER_PHASE = 3
PHASE_TIMEOUT_S = 60
ROLES = ("forklift operator", "welder", "nurse", "truck driver", "electrician")


def _people(team: str) -> bytes:
    lines = ["id,name,bio"]
    for i in range(ROWS):
        lines.append(f"{team}-{i},{team} person {i},{ROLES[i % len(ROLES)]} with {i % 9 + 1} years in {team}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def fed(tmp_path_factory, seaweed):  # noqa: F811
    system = System.start(
        tmp_path_factory.mktemp("g2-home"),
        {
            "LAKEHOUSE_AUTH__ENABLED": "true",
            "LAKEHOUSE_STORAGE__S3_BUCKET_ENDPOINTS": json.dumps([seaweed.endpoint]),
        },
    )
    yield system
    system.stop()


@dataclass
class Team:
    name: str
    bucket: str
    key: str
    client: LakehouseClient = field(repr=False)

    @property
    def dataset(self) -> str:
        return f"{self.name}_people"


@pytest.fixture(scope="module")
def teams(fed, seaweed):  # noqa: F811
    admin_key = fed.settings.auth_bootstrap_key_file.read_text().strip()
    s3_bucket = f"team-{uuid.uuid4().hex[:12]}"
    with fed.client(api_key=admin_key) as admin:
        local = admin.buckets.create_bucket("team-local", str(fed.settings.local_bucket_roots[0] / "team-local"))
        remote = admin.buckets.create_bucket(
            "team-s3",
            S3Location(
                endpoint=seaweed.endpoint,
                bucket=s3_bucket,
                access_key=seaweed.access_key,
                secret_key=seaweed.secret_key,
            ),
        )
        assert (local.backend, remote.backend) == ("local", "s3")
        made = {}
        for name, bucket in (("alpha", "team-local"), ("beta", "team-s3")):
            admin.auth.create_principal(name)
            owned = (f"{name}_people",)
            admin.auth.create_profile(
                Profile(f"{name}-team", name, "writer", buckets=(bucket,), datasets=owned, corpora=owned)
            )
            made[name] = (bucket, admin.auth.create_key(name, description="g2").secret)
    out = {name: Team(name, bucket, key, fed.client(api_key=key)) for name, (bucket, key) in made.items()}
    yield out
    for team in out.values():
        team.client.close()


@pytest.fixture(scope="module")
def landed(teams):
    """Each team puts its raw file in its own bucket and ingests it from there."""
    for team in teams.values():
        team.client.put_object(team.bucket, RAW_KEY, _people(team.name), content_type="text/csv")
        result = team.client.ingest(team.dataset, ObjectRef(team.bucket, RAW_KEY), format="csv")
        assert (result.rows, result.version) == (ROWS, 1)
    return teams


@pytest.fixture(scope="module")
def rest(fed):
    with httpx.Client(base_url=fed.rest, timeout=60) as client:
        yield client


def test_each_team_ingests_from_its_own_bucket_and_queries_only_its_data(landed, fed, seaweed):  # noqa: F811
    alpha, beta = landed["alpha"], landed["beta"]
    for team in (alpha, beta):
        assert [d.name for d in team.client.list_datasets()] == [team.dataset]
        rows = team.client.sql(f"SELECT count(*) AS n, min(id) AS first FROM {team.dataset}").rows
        assert rows == [[ROWS, f"{team.name}-0"]]
        assert [b.name for b in team.client.buckets.list_buckets()] == [team.bucket]
    # The raw files really live where the buckets say: a directory, and SeaweedFS.
    assert (fed.settings.local_bucket_roots[0] / "team-local" / RAW_KEY).read_bytes() == _people("alpha")
    assert b"".join(beta.client.get_object("team-s3", RAW_KEY)) == _people("beta")


@pytest.mark.parametrize("who", ["alpha", "beta"])
def test_the_other_teams_bucket_dataset_and_corpus_do_not_exist(landed, who):
    me = landed[who]
    other = landed["beta" if who == "alpha" else "alpha"]
    refusals = {
        "ingest from its bucket": lambda: me.client.ingest(me.dataset, ObjectRef(other.bucket, RAW_KEY), mode="append"),
        "read its raw file": lambda: b"".join(me.client.get_object(other.bucket, RAW_KEY)),
        "write into its bucket": lambda: me.client.put_object(other.bucket, "raw/planted.csv", b"id\n1\n"),
        "read the lake's files": lambda: me.client.list_objects("lake", "datasets/"),
        "query its dataset": lambda: me.client.sql(f"SELECT * FROM {other.dataset}"),
        "join its dataset": lambda: me.client.sql(
            f"SELECT * FROM {me.dataset} m JOIN {other.dataset} o ON m.id = o.id"
        ),
        "write its dataset": lambda: me.client.ingest(other.dataset, _people(me.name), format="csv"),
        "create a corpus outside the profile": lambda: me.client.create_corpus(f"{me.name}_extra"),
    }
    for what, call in refusals.items():
        with pytest.raises(errors.NotFound, match="not found"):
            call()
        assert what  # names the refusal in a failure's traceback
    assert [o.key for o in other.client.list_objects(other.bucket, "raw/").objects] == [RAW_KEY]


def test_scoping_through_rest(landed, rest):
    alpha, beta = landed["alpha"], landed["beta"]
    listed = rest.get("/v1/buckets", headers=bearer(alpha.key))
    assert [b["name"] for b in listed.json()["buckets"]] == ["team-local"]
    assert [d["name"] for d in rest.get("/v1/datasets", headers=bearer(beta.key)).json()["datasets"]] == ["beta_people"]
    stolen = rest.get("/v1/buckets/team-s3/objects:get", params={"key": RAW_KEY}, headers=bearer(alpha.key))
    assert (stolen.status_code, error_reason(stolen)) == (404, "BUCKET_NOT_FOUND")
    lake = rest.get("/v1/buckets/lake/objects", params={"prefix": "datasets/"}, headers=bearer(beta.key))
    assert (lake.status_code, error_reason(lake)) == (404, "BUCKET_NOT_FOUND")
    # An ingest from a bucket object over REST: no body, the object named in the query.
    own = rest.post(
        "/v1/datasets/beta_people:ingest",
        params={"source_bucket": "team-s3", "source_key": RAW_KEY, "format": "csv"},
        headers=bearer(beta.key),
    )
    assert own.status_code == 200, own.text
    assert int(own.json()["version"]) == 1  # the same bytes again: no second version
    crossed = rest.post(
        "/v1/datasets/alpha_people:ingest",
        params={"source_bucket": "team-s3", "source_key": RAW_KEY, "format": "csv"},
        headers=bearer(alpha.key),
    )
    assert (crossed.status_code, error_reason(crossed)) == (404, "BUCKET_NOT_FOUND")
    half = rest.post(
        "/v1/datasets/alpha_people:ingest", params={"source_bucket": "team-local"}, headers=bearer(alpha.key)
    )
    assert (half.status_code, error_reason(half)) == (400, "INVALID_SOURCE_OBJECT")


class Searcher(threading.Thread):
    """Searches one corpus until stopped, keeping every generation that answered and every error."""

    def __init__(self, team: Team) -> None:
        super().__init__(daemon=True, name=f"search-{team.name}")
        self.team = team
        self.stop = threading.Event()
        self.generations: list[int] = []
        self.failures: list[BaseException] = []
        self.progress = threading.Condition()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                reply = self.team.client.search(self.team.dataset, text="forklift operator", k=3)
                assert len(reply.results) == 3
                generation = reply.generation
            except BaseException as exc:  # noqa: BLE001 - any failure is the test's finding
                self.failures.append(exc)
                generation = -1
            with self.progress:
                self.generations.append(generation)
                self.progress.notify_all()

    def wait_for(self, more: int) -> None:
        """Until ``more`` searches beyond the ones done so far have answered."""
        with self.progress:
            target = len(self.generations) + more
            assert self.progress.wait_for(lambda: len(self.generations) >= target, PHASE_TIMEOUT_S)


def _wait_built(team: Team) -> None:
    """Until the background rebuild (RebuildCorpus returns at once) has finished."""
    deadline = time.monotonic() + PHASE_TIMEOUT_S
    while team.client.get_corpus(team.dataset).building:
        assert time.monotonic() < deadline, "the rebuild did not finish"
        time.sleep(0.05)


def test_hot_swap_while_the_other_team_searches_then_rollback(landed):
    alpha, beta = landed["alpha"], landed["beta"]
    for team in (alpha, beta):
        built = team.client.build_corpus(team.dataset, team.dataset, "id", ["bio"])
        assert built.corpus.count == ROWS
    with pytest.raises(errors.NotFound):  # a corpus of the other team cannot be touched
        beta.client.rebuild_corpus(alpha.dataset)
    first = alpha.client.get_corpus(alpha.dataset).generation
    searchers = [Searcher(alpha), Searcher(beta)]
    for s in searchers:
        s.start()
    try:
        for s in searchers:
            s.wait_for(SEARCHES_PER_PHASE)
        assert alpha.client.rebuild_corpus(alpha.dataset, hnsw_m=24).building
        _wait_built(alpha)
        swapped = alpha.client.swap_generation(alpha.dataset)
        assert swapped.generation > first and swapped.previous_generation == first
        for s in searchers:
            s.wait_for(SEARCHES_PER_PHASE)
        rolled = alpha.client.rollback_generation(alpha.dataset)
        assert rolled.generation == first
        for s in searchers:
            s.wait_for(SEARCHES_PER_PHASE)
    finally:
        for s in searchers:
            s.stop.set()
        for s in searchers:
            s.join(PHASE_TIMEOUT_S)
    for s in searchers:
        assert s.failures == [], f"{s.team.name}'s searches failed during the swap: {s.failures[:3]}"
    seen = searchers[0].generations
    # alpha's searches were answered by the first generation, then the new one, then the first again.
    assert seen[0] == first and seen[-1] == first and swapped.generation in seen
    assert set(seen) == {first, swapped.generation}
    assert set(searchers[1].generations) == {beta.client.get_corpus(beta.dataset).generation}
    assert alpha.client.search(alpha.dataset, text="welder", k=1).generation == first
