"""DistillationService against both implementations (D23): the core in-process and
RemoteDistillation over gRPC to the same server give the same results and the same errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lakehouse.api.distillation import (
    INVALID_EVIDENCE,
    UNKNOWN_CATEGORY,
    Check,
    DistillationApi,
    DriftRequest,
    EvalItem,
    Evidence,
    ExportRequest,
    RemoteDistillation,
    RunRequest,
    ScoredPair,
)
from lakehouse.api.errors import InvalidArgument
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import ModelSettings, Settings
from tests.support.contract import IMPLEMENTATIONS, implementation

RECORD = Evidence(
    id="c1",
    query="Forklift operator with OSHA-30 in IL",
    context=("Maria Lopez, forklift operator",),
    answer="Maria Lopez is a forklift operator [1].",
    citations=("resumes/maria#0",),
    checks=(Check("grounded", True),),
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    settings = Settings(
        home=tmp_path_factory.mktemp("distill") / "home",
        models=ModelSettings(embed_provider="hash", embed_model="hash-64"),
    )
    lh = build_server(settings, "all")
    yield lh
    lh.stop(0)


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest, server) -> Iterator[DistillationApi]:
    yield from implementation(request.param, server.address, lambda: server.runtime.distillation, RemoteDistillation)


def test_score(api):
    batch = api.score([RECORD, Evidence(query="q", answer="an answer long enough", outcome="failure")], "v1")
    assert [(s.record_id, s.category) for s in batch.scores[:1]] == [("c1", "gold")]
    assert batch.scores[1].category == "reject" and batch.scores[1].record_id.startswith("rec-")
    assert all(s.scorer_version == "v1" for s in batch.scores) and batch.scores[0].reasons[-1].startswith("gold:")


def test_run_over_an_empty_lake_says_why_each_source_is_empty(api):
    run = api.run(RunRequest())
    assert run.scored == 0 and run.version == 0 and [s.source for s in run.sources] == ["ask", "workflow", "playbook"]
    assert all(s.watermark_before is None for s in run.sources)


def test_export_of_nothing_is_an_empty_file(api):
    out = api.export(ExportRequest(min_category="gold", eval_items=(EvalItem("e", "anything at all"),)))
    assert (out.jsonl, out.exported, out.eval_items, out.min_category) == (b"", 0, 1, "gold")


def test_drift_over_inline_pairs(api):
    report = api.drift(DriftRequest((ScoredPair(RECORD, "gold", "v1"),), "v2", include_entries=True))
    assert (report.total, report.drifted, report.scorer_version) == (1, 1, "v2")
    assert [(s.from_category, s.to_category, s.count) for s in report.shifts] == [("gold", "silver", 1)]
    assert report.entries[0].record_id == "c1" and report.persisted_versions == ("v1",)


@pytest.mark.parametrize(
    ("call", "reason", "field"),
    [
        (lambda a: a.score([RECORD, Evidence(query="")]), INVALID_EVIDENCE, "records[1].query"),
        (lambda a: a.export(ExportRequest(min_category="bronze")), UNKNOWN_CATEGORY, "min_category"),
        (lambda a: a.drift(DriftRequest((ScoredPair(RECORD, "tin"),))), UNKNOWN_CATEGORY, "pairs[0].category"),
    ],
)
def test_the_same_errors(api, call, reason, field):
    with pytest.raises(InvalidArgument) as err:
        call(api)
    assert err.value.reason == reason and [v.field for v in err.value.violations] == [field]
