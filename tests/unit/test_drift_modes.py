"""The drift workflow modes: registered, their inputs checked by schema, and each a thin
call of the drift core returning plain JSON values."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.servers.drift.core import DriftCore
from lakehouse.servers.drift.modes import DRIFT_NOT_HOSTED
from lakehouse.servers.settings import DriftSettings, Settings
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.workflows.modes import ModeContext, default_catalog, schema_errors
from tests.support.drift import FakeIngest, FakeMatrix
from tests.support.workflows import services
from tests.unit.test_drift_playbook import ENTRIES, RANKING

MODES = ("drift.playbook", "drift.embedding", "drift.audit")


@pytest.fixture
def ctx(tmp_path: Path) -> ModeContext:
    settings = Settings(home=tmp_path)
    drift = DriftCore(
        LocalObjectStore("lake", tmp_path / "lake"),
        lambda: FakeMatrix(ENTRIES, RANKING, gone={"gone"}),
        FakeIngest,
        DriftSettings(playbook_k=3, playbook_depth=10, playbook_batch=2, embedding_projections=4),
    )
    svc = dataclasses.replace(services(settings), drift=lambda: drift)
    return ModeContext(svc, workflow="w", run_id="r", node_id="n")


def test_registered():
    catalog = default_catalog()
    for name in MODES:
        assert catalog.get(name) is not None, name


@pytest.mark.parametrize(
    ("mode", "value", "ok"),
    [
        ("drift.embedding", {"baseline": {"corpus": "c"}, "current": {"corpus": "c", "generation": 3}}, True),
        (
            "drift.embedding",
            {"baseline": {"corpus": "c", "start": "2026-01-01T00:00:00Z"}, "current": {"corpus": "c"}},
            True,
        ),
        ("drift.embedding", {"baseline": {"vectors": [[1, 2]]}, "current": {"vectors": [[1, 2]]}}, True),
        ("drift.embedding", {"baseline": {"corpus": "c", "generations": 3}, "current": {"corpus": "c"}}, False),
        ("drift.embedding", {"baseline": {"corpus": "c"}}, False),
        ("drift.embedding", {"baseline": {"corpus": "c"}, "current": {"corpus": "c"}, "alpha": 2}, False),
        ("drift.audit", {"subject": "s", "metrics": {"x": 1.5}}, True),
        ("drift.audit", {"subject": "s", "metrics": {"x": "fast"}}, False),
        ("drift.playbook", {"k": 5, "corpora": ["a"]}, True),
        ("drift.playbook", {"k": 0}, False),
    ],
)
def test_schemas(mode, value, ok):
    assert (schema_errors(default_catalog().get(mode).validator, value) == []) is ok


def test_modes_call_the_core(ctx):
    catalog = default_catalog()
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((300, 4)), rng.standard_normal((300, 4)) + 1.0
    out = catalog.get("drift.embedding").fn(
        ctx, {"baseline": {"vectors": a.tolist()}, "current": {"vectors": b.tolist()}}
    )
    assert out["drifted"] is True and out["correction"] == "benjamini-hochberg"
    audit = catalog.get("drift.audit").fn(ctx, {"subject": "s", "metrics": {"x": 1.0}, "record": True})
    assert audit["recorded"] is True and audit["metrics"][0]["status"] == "new"
    before = ctx.last_progress
    played = catalog.get("drift.playbook").fn(ctx, {"include_entries": True})
    assert played["drifted"] == 4 and ctx.last_progress >= before
    json.dumps([out, audit, played])  # plain JSON values


def test_bad_input_is_a_clean_error(ctx):
    with pytest.raises(errors.InvalidArgument):
        default_catalog().get("drift.embedding").fn(
            ctx, {"baseline": {"corpus": "c", "start": "yesterday"}, "current": {"corpus": "c"}}
        )


def test_not_hosted(tmp_path):
    ctx = ModeContext(services(Settings(home=tmp_path)), workflow="w", run_id="r", node_id="n")
    with pytest.raises(errors.Unavailable) as exc:
        default_catalog().get("drift.audit").fn(ctx, {"subject": "s"})
    assert exc.value.reason == DRIFT_NOT_HOSTED
