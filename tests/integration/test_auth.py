"""Auth on, end to end (one server process + Envoy, LAKEHOUSE_AUTH__ENABLED=true): the
bootstrap admin key, 401 for a missing, unknown, revoked or expired key and 403 for the
wrong role through REST and gRPC, a reader scoped to its profile's datasets (listing, get,
SQL, joins: another profile's dataset is NOT_FOUND), the CLI, and brute force → 429 (last:
it blocks this test's source for the window)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import httpx
import pytest

from lakehouse.api import errors
from lakehouse.api.auth import Profile
from lakehouse.client import LakehouseClient
from tests.support.rest import bearer, error_reason
from tests.support.system import System, wait_until_built

MAX_FAILURES = 20
CLI_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def asystem(tmp_path_factory):
    system = System.start(
        tmp_path_factory.mktemp("auth-home"),
        {"LAKEHOUSE_AUTH__ENABLED": "true", "LAKEHOUSE_AUTH__MAX_FAILURES": str(MAX_FAILURES)},
    )
    yield system
    system.stop()


@pytest.fixture(scope="module")
def admin_key(asystem):
    path = asystem.settings.auth_bootstrap_key_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path.read_text().strip()


@pytest.fixture(scope="module")
def admin(asystem, admin_key):
    with asystem.client(api_key=admin_key) as lh:
        lh.ingest("sales", b"id,amount\n1,10\n2,20\n", format="csv")
        lh.ingest("payroll", b"id,salary\n1,1000\n", format="csv")
        lh.auth.create_principal("rita")
        lh.auth.create_profile(Profile("rita-sales", "rita", "reader", datasets=("sales",)))
        yield lh


@pytest.fixture(scope="module")
def reader_key(admin):
    return admin.auth.create_key("rita", description="tests").secret


@pytest.fixture(scope="module")
def rest(asystem):
    with httpx.Client(base_url=asystem.rest, timeout=30) as client:
        yield client


def _grpc_refusal(asystem, key: str) -> errors.LakehouseError:
    with asystem.client(api_key=key) as lh, pytest.raises(errors.LakehouseError) as err:
        lh.list_datasets()
    return err.value


def test_health_needs_no_key(rest):
    assert rest.get("/v1/health").status_code == 200


def test_a_missing_key_is_401(asystem, rest):
    r = rest.get("/v1/datasets")
    assert r.status_code == 401 and error_reason(r) == "KEY_MISSING"
    refused = _grpc_refusal(asystem, "")
    assert isinstance(refused, errors.Unauthenticated) and refused.reason == "KEY_MISSING"


def test_an_unknown_key_is_401(asystem, rest, reader_key):
    forged = reader_key[:-4] + "AAAA"
    r = rest.get("/v1/datasets", headers=bearer(forged))
    assert r.status_code == 401 and error_reason(r) == "KEY_UNKNOWN"
    refused = _grpc_refusal(asystem, "lh_0000000000000000.guess")
    assert isinstance(refused, errors.Unauthenticated) and refused.reason == "KEY_UNKNOWN"


def test_a_revoked_key_is_401(asystem, admin, rest):
    made = admin.auth.create_key("rita")
    assert rest.get("/v1/datasets", headers=bearer(made.secret)).status_code == 200
    admin.auth.revoke_key(made.key.key_id)
    r = rest.get("/v1/datasets", headers=bearer(made.secret))
    assert r.status_code == 401 and error_reason(r) == "KEY_REVOKED"
    assert _grpc_refusal(asystem, made.secret).reason == "KEY_REVOKED"


def test_an_expired_key_is_401(asystem, admin, rest):
    made = admin.auth.create_key("rita", ttl_s=1)
    while made.key.expires_at.timestamp() > time.time():
        time.sleep(0.1)
    r = rest.get("/v1/datasets", headers=bearer(made.secret))
    assert r.status_code == 401 and error_reason(r) == "KEY_EXPIRED"
    assert _grpc_refusal(asystem, made.secret).reason == "KEY_EXPIRED"


def test_the_wrong_role_is_403(asystem, rest, reader_key):
    r = rest.delete("/v1/datasets/sales", headers=bearer(reader_key))
    assert r.status_code == 403 and error_reason(r) == "ROLE_REQUIRED"
    r = rest.post("/v1/auth/principals", json={"name": "mallory"}, headers=bearer(reader_key))
    assert r.status_code == 403
    with asystem.client(api_key=reader_key) as lh:
        with pytest.raises(errors.PermissionDenied) as err:
            lh.ingest("sales", b"id,amount\n3,30\n", format="csv")
        assert err.value.reason == "ROLE_REQUIRED" and err.value.metadata["required_role"] == "writer"
        with pytest.raises(errors.PermissionDenied):
            lh.auth.create_key("rita")


def test_a_writer_writes_only_its_datasets(asystem, admin):
    admin.auth.create_principal("wes")
    admin.auth.create_profile(Profile("wes-sales", "wes", "writer", datasets=("sales",)))
    with asystem.client(api_key=admin.auth.create_key("wes").secret) as lh:
        lh.ingest("sales", b"id,amount\n3,0\n", format="csv", mode="append")
        with pytest.raises(errors.NotFound) as err:
            lh.ingest("payroll", b"id,salary\n2,1\n", format="csv", mode="append")
        assert err.value.reason == "DATASET_NOT_FOUND"
        with pytest.raises(errors.PermissionDenied):
            lh.auth.create_principal("eve")


def test_a_workflow_runs_with_its_callers_scope(asystem, admin):
    from tests.support.workflows import workflow

    text = workflow(
        "id: mine\nmode: sql.query\nwith: {sql: 'SELECT count(*) AS n FROM sales'}",
        "id: theirs\nmode: sql.query\nwith: {sql: 'SELECT count(*) AS n FROM payroll'}",
    )
    admin.auth.create_principal("wanda")
    admin.auth.create_profile(Profile("wanda-sales", "wanda", "writer", datasets=("sales",)))
    with asystem.client(api_key=admin.auth.create_key("wanda").secret) as lh:
        nodes = {n.node_id: n for n in lh.run_workflow(yaml=text).nodes}
    assert nodes["mine"].status == "succeeded"
    assert nodes["theirs"].status == "failed" and nodes["theirs"].reason == "DATASET_NOT_FOUND"
    assert {n.node_id: n.status for n in admin.run_workflow(yaml=text).nodes} == {
        "mine": "succeeded",
        "theirs": "succeeded",
    }


def test_whoami_names_the_caller_and_its_profiles(asystem, reader_key, rest):
    with asystem.client(api_key=reader_key) as lh:
        who = lh.auth.whoami()
    assert who.principal.name == "rita" and who.role == "reader" and who.datasets == frozenset({"sales"})
    body = rest.get("/v1/auth/whoami", headers=bearer(reader_key)).json()
    assert body["principal"]["name"] == "rita" and body["profiles"][0]["datasets"] == ["sales"]


def test_the_callers_principal_is_the_recorded_ops_profile(asystem, admin, reader_key, rest):
    with asystem.client(api_key=reader_key) as lh:
        lh.auth.whoami()
    assert rest.get("/v1/auth/whoami", headers=bearer(reader_key)).status_code == 200
    ops = admin.list_ops(method="WhoAmI", limit=50).ops
    assert {(op.source, op.profile) for op in ops} >= {("grpc", "rita"), ("rest", "rita")}
    # The admin's own calls are recorded under its principal.
    admin.list_datasets()
    listing = admin.list_ops(method="ListDatasets", limit=1).ops[0]
    assert listing.profile and listing.profile != "rita"


def test_a_reader_lists_and_gets_only_its_datasets(asystem, admin, rest, reader_key):
    assert {d.name for d in admin.list_datasets()} >= {"sales", "payroll"}
    with asystem.client(api_key=reader_key) as lh:
        assert [d.name for d in lh.list_datasets()] == ["sales"]
    listed = rest.get("/v1/datasets", headers=bearer(reader_key)).json()["datasets"]
    assert [d["name"] for d in listed] == ["sales"]
    assert rest.get("/v1/datasets/sales", headers=bearer(reader_key)).status_code == 200
    hidden = rest.get("/v1/datasets/payroll", headers=bearer(reader_key))
    missing = rest.get("/v1/datasets/nonesuch", headers=bearer(reader_key))
    assert hidden.status_code == missing.status_code == 404
    assert error_reason(hidden) == error_reason(missing) == "DATASET_NOT_FOUND"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM payroll",
        "SELECT * FROM sales JOIN payroll USING (id)",
        "SELECT table_name FROM information_schema.tables",
    ],
)
def test_a_readers_sql_sees_only_its_datasets(asystem, rest, reader_key, sql):
    with asystem.client(api_key=reader_key) as lh:
        assert lh.sql("SELECT sum(amount) AS total FROM sales").rows == [[30]]
        with pytest.raises(errors.NotFound) as err:
            lh.sql(sql)
        assert err.value.reason == "DATASET_NOT_FOUND"
    r = rest.post("/v1/sql", json={"sql": sql}, headers=bearer(reader_key))
    assert r.status_code == 404 and error_reason(r) == "DATASET_NOT_FOUND"


def test_a_reader_sees_only_its_datasets_error_records(asystem, admin, rest, reader_key):
    from lakehouse.servers.storage.journal import ErrorJournal
    from lakehouse.servers.storage.local import LocalObjectStore

    journal = ErrorJournal(
        LocalObjectStore("lake", asystem.settings.lake_root), LocalObjectStore("rescue", asystem.settings.rescue_root)
    )
    for dataset in ("sales", "payroll"):
        journal.record("ingest", errors.InvalidArgument(f"{dataset} upload was bad", reason="X"), {"dataset": dataset})
    journal.record("janitor", errors.Internal("system housekeeping"), {})
    seen = rest.get("/v1/errors", headers=bearer(reader_key)).json()["errors"]
    assert {e["context"].get("dataset") for e in seen} == {"sales"}
    everything = {r.context.get("dataset", "") for r in admin.list_errors()}
    assert {"sales", "payroll", ""} <= everything


def test_the_admin_sees_everything(admin):
    assert admin.sql("SELECT count(*) FROM sales JOIN payroll USING (id)").rows == [[1]]


def test_a_reader_lists_and_searches_only_its_corpora(asystem, admin, rest):
    for name in ("open_cvs", "secret_cvs"):
        admin.create_corpus(name, dimension=2, metric="cosine")
        admin.add_items(name, [{"id": f"{name}-1", "vector": [1.0, 0.0]}, {"id": f"{name}-2", "vector": [0.0, 1.0]}])
    admin.auth.create_principal("carl")
    admin.auth.create_profile(Profile("carl-cvs", "carl", "reader", corpora=("open_cvs",)))
    key = admin.auth.create_key("carl").secret
    listed = rest.get("/v1/matrix/corpora", headers=bearer(key)).json()["corpora"]
    assert [c["corpus"]["name"] for c in listed] == ["open_cvs"]
    with asystem.client(api_key=key) as lh:
        hits = lh.matrix_search(vector=[1.0, 0.0], k=5)
        assert {h.corpus for h in hits.results} == {"open_cvs"}
        with pytest.raises(errors.NotFound) as err:
            lh.matrix_search(vector=[1.0, 0.0], corpora=["secret_cvs"])
        assert err.value.reason == "CORPUS_NOT_FOUND"
    hidden = rest.post("/v1/corpora/secret_cvs:search", json={"vector": [1.0, 0.0]}, headers=bearer(key))
    assert hidden.status_code == 404 and error_reason(hidden) == "CORPUS_NOT_FOUND"
    for name in ("open_cvs", "secret_cvs"):  # index trials: only of the caller's corpora
        admin.rebuild_corpus(name)
        wait_until_built(admin, name)
    trials = rest.get("/v1/index-trials", headers=bearer(key)).json()["trials"]
    assert {t["corpus"] for t in trials} == {"open_cvs"}
    assert {t.corpus for t in admin.list_index_trials()} >= {"open_cvs", "secret_cvs"}
    hidden = rest.get("/v1/corpora/secret_cvs/trials", headers=bearer(key))
    assert hidden.status_code == 404 and error_reason(hidden) == "CORPUS_NOT_FOUND"


def test_playbook_entries_are_scoped_by_corpus(asystem, admin, rest):
    """A reader or writer bound to one corpus sees, gets and records only that corpus's
    entries (the playbook's own dataset is the service's storage, not the caller's)."""
    for name in ("open_pb", "secret_pb"):
        admin.create_corpus(name, dimension=2, metric="cosine")
        admin.add_items(name, [{"id": f"{name}-1", "vector": [1.0, 0.0]}])
        admin.record_playbook_entry({"query": "forklift", "corpus": name, "item_id": f"{name}-1", "outcome": "success"})
    secret = admin.list_playbook_entries(corpus="secret_pb")[0]
    admin.auth.create_principal("pablo")
    admin.auth.create_profile(Profile("pablo-pb", "pablo", "writer", corpora=("open_pb",)))
    key = admin.auth.create_key("pablo").secret
    listed = rest.get("/v1/matrix/playbooks", headers=bearer(key)).json()["entries"]
    assert {e["corpus"] for e in listed} == {"open_pb"}
    hidden = rest.get(f"/v1/matrix/playbooks/{secret.id}", headers=bearer(key))
    assert hidden.status_code == 404 and error_reason(hidden) == "PLAYBOOK_ENTRY_NOT_FOUND"
    stats = rest.get("/v1/matrix/playbooks:stats", headers=bearer(key)).json()
    assert {c["corpus"] for c in stats["counts"]} == {"open_pb"} and stats["entries"] == "1"
    with asystem.client(api_key=key) as lh:
        mine = lh.record_playbook_entry({"query": "welder", "corpus": "open_pb", "item_id": "open_pb-1"})
        assert mine.corpus == "open_pb"
        bulk = lh.record_playbook_entries([{"query": "welder", "corpus": "secret_pb", "item_id": "secret_pb-1"}])
        assert bulk.failed == 1 and bulk.results[0].error.reason == "CORPUS_NOT_FOUND"
        assert lh.delete_playbook_entries(secret.id) == 0
    assert admin.get_playbook_entry(secret.id).corpus == "secret_pb"  # untouched


def test_the_cli_manages_principals_keys_and_profiles(asystem, admin_key):
    env = {**os.environ, "LAKEHOUSE_API_KEY": admin_key}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "lakehouse.cli", "auth", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
        )

    assert cli("principal", "create", "cliff").returncode == 0
    assert cli("profile", "create", "cliff-p", "--principal", "cliff", "--dataset", "payroll").returncode == 0
    made = cli("key", "create", "cliff")
    assert made.returncode == 0
    secret = made.stdout.strip()
    env["LAKEHOUSE_API_KEY"] = secret
    who = cli("whoami")
    assert who.returncode == 0 and "cliff" in who.stdout and "payroll" in who.stdout
    denied = cli("principal", "list")
    assert denied.returncode == 1 and "PERMISSION_DENIED" in denied.stderr
    env["LAKEHOUSE_API_KEY"] = admin_key
    assert "cliff-p" in cli("profile", "list").stdout
    assert cli("profile", "delete", "cliff-p").returncode == 0


def test_a_process_without_the_catalog_checks_keys_and_calls_it_with_the_internal_key(tmp_path):
    """Two server processes' worth in this one (build_server twice, one home): the query
    process resolves the caller's key through the catalog's AuthService and reads the
    catalog with the internal service key; the reader is scoped there too."""
    from lakehouse.servers.app import build_server
    from lakehouse.servers.settings import Settings

    auth = {"enabled": True}
    catalog = build_server(Settings(home=tmp_path, auth=auth), services="storage,catalog,ingest")
    try:
        query = build_server(
            Settings(home=tmp_path, auth=auth, upstreams={"catalog": catalog.address}), services="query"
        )
        try:
            admin_key = (tmp_path / "auth" / "admin.key").read_text().strip()
            with LakehouseClient(catalog.address, api_key=admin_key) as lh:
                lh.ingest("alpha", b"id\n1\n", format="csv")
                lh.ingest("beta", b"id\n2\n", format="csv")
                lh.auth.create_principal("quinn")
                lh.auth.create_profile(Profile("quinn-a", "quinn", "reader", datasets=("alpha",)))
                reader = lh.auth.create_key("quinn").secret
            with LakehouseClient(query.address, api_key=admin_key) as lh:
                assert lh.sql("SELECT count(*) FROM alpha JOIN beta ON true").rows == [[1]]
            with LakehouseClient(query.address, api_key=reader) as lh:
                assert lh.sql("SELECT id FROM alpha").rows == [[1]]
                with pytest.raises(errors.NotFound):
                    lh.sql("SELECT id FROM beta")
            with LakehouseClient(query.address, api_key="lh_0000000000000000.nope") as lh:
                with pytest.raises(errors.Unauthenticated):
                    lh.sql("SELECT 1")
            _the_matrix_sql_gate_runs_as_its_caller(tmp_path, auth, catalog.address, query.address, admin_key, reader)
        finally:
            query.stop(0)
    finally:
        catalog.stop(0)


def _the_matrix_sql_gate_runs_as_its_caller(tmp_path, auth, catalog, query, admin_key, reader) -> None:
    """A third process hosts the matrix: the SQL gate of a search runs in the query process
    with the searching caller's key (not the internal one), so it is scoped there."""
    from lakehouse.servers.app import build_server
    from lakehouse.servers.settings import Settings

    upstreams = {"catalog": catalog, "storage": catalog, "ingest": catalog, "query": query}
    matrix = build_server(Settings(home=tmp_path, auth=auth, upstreams=upstreams), services="vector,matrix")
    try:
        with LakehouseClient(catalog, api_key=admin_key) as lh:
            lh.auth.create_profile(Profile("quinn-cv", "quinn", "reader", corpora=("alpha_cv",)))
        with LakehouseClient(matrix.address, api_key=admin_key) as lh:
            lh.create_corpus("alpha_cv", dimension=2, metric="cosine")
            lh.add_items("alpha_cv", [{"id": "1", "vector": [1.0, 0.0]}, {"id": "2", "vector": [0.0, 1.0]}])
            everything = lh.matrix_search(vector=[1.0, 0.0], corpora=["alpha_cv"], sql="SELECT id FROM beta")
            assert [h.id for h in everything.results] == ["2"]  # the admin's gate sees beta
        with LakehouseClient(matrix.address, api_key=reader) as lh:
            gate = "SELECT CAST(id AS VARCHAR) AS id FROM alpha"
            assert [h.id for h in lh.matrix_search(vector=[1.0, 0.0], corpora=["alpha_cv"], sql=gate).results] == ["1"]
            with pytest.raises(errors.NotFound) as err:
                lh.matrix_search(vector=[1.0, 0.0], corpora=["alpha_cv"], sql="SELECT id FROM beta")
            assert err.value.reason == "DATASET_NOT_FOUND"
    finally:
        matrix.stop(0)


def test_brute_force_guessing_is_429(asystem, rest, reader_key):
    """Last in the module: it blocks this machine's address for the failure window."""
    codes = [
        rest.get("/v1/datasets", headers=bearer(f"lh_{i:016x}.guess")).status_code for i in range(MAX_FAILURES + 1)
    ]
    assert codes[-1] == 429 and set(codes[: codes.index(429)]) == {401}
    r = rest.get("/v1/datasets", headers=bearer(reader_key))  # even a good key, from this source
    assert r.status_code == 429 and error_reason(r) == "TOO_MANY_AUTH_FAILURES"
    assert _grpc_refusal(asystem, reader_key).reason == "TOO_MANY_AUTH_FAILURES"
