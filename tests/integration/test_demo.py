"""`lakehouse demo` on a slice of the staffing world, and the spec's reality test (§3.6)
on it: for "Forklift operator with OSHA-30 in IL", plain vector search mixes in people
without the certification or from elsewhere, while Ask's derived filter returns only
those with all three (precision@10 = 1.0); over the labelled questions, Ask ranks
better than plain search, and the playbook (placements) no worse. Fixed data: the
world's seed, the real embedding model."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lakehouse.demo.world import World
from tests.support import demo_eval
from tests.support.system import System

WORKERS = 3000
RESUMES = 1200  # enough for more than ten right answers to the reality question
REALITY = "Forklift operator with OSHA-30 in IL"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    system = System.start(tmp_path_factory.mktemp("demo-home"))
    done = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "demo", "--workers", str(WORKERS), "--resumes", str(RESUMES)],
        env={**os.environ, **system.env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    yield system, done
    system.stop()


@pytest.fixture(scope="module")
def world():
    w = World(workers=WORKERS, resumes=RESUMES)
    return w, w.questions(list(w.resumes()))


def test_the_demo_loads_every_part_and_says_what_to_try(loaded):
    system, done = loaded
    assert done.returncode == 0, done.stderr
    assert f"{WORKERS} workers pulled from PostgreSQL" in done.stderr
    assert "refused (locked)" in done.stderr and "without a text layer" in done.stderr
    assert "4701 recorded in the playbook" in done.stderr
    assert done.stdout.startswith("demo loaded in") and f'lakehouse ask "{REALITY}"' in done.stdout
    with system.client() as lh:
        counts = dict(
            lh.sql(
                "SELECT 'workers', count(*) FROM workers UNION ALL SELECT 'questions', count(*) FROM demo_questions"
            ).rows
        )
        assert counts == {"workers": WORKERS, "questions": 10}
        assert lh.get_corpus("resumes").count > RESUMES * 0.9
        # G3.1.A from a real source: one row of the pulled table, with the world's schema.
        first = lh.sql("SELECT * FROM workers ORDER BY worker_id LIMIT 1")
        expected = World(workers=1, resumes=0).workers_table(0, 1)
        assert [name for name, _ in first.columns] == expected.schema.names
        row = dict(zip(expected.schema.names, first.rows[0], strict=True))
        assert row["worker_id"] == 0 and row["name"] == expected.column("name")[0].as_py()
        assert row["certifications"] == expected.column("certifications")[0].as_py()
        assert lh.playbook_stats().entries == 4701


def test_reality_question_precision_plain_vs_ask(loaded, world):
    system, _ = loaded
    _, questions = world
    (reality,) = [q for q in questions if q.text == REALITY]
    relevant = set(reality.relevant)
    assert len(relevant) > demo_eval.TOP
    with system.client() as lh:
        plain = demo_eval.precision(demo_eval.plain_ranking(lh, REALITY), relevant)
        ask = demo_eval.precision(demo_eval.ask_ranking(lh, REALITY), relevant)
    assert ask == 1.0
    assert plain < 0.8


def test_ask_ranks_the_labelled_questions_better_and_the_playbook_no_worse(loaded, world):
    system, _ = loaded
    _, questions = world
    with system.client() as lh:
        scores = demo_eval.score_questions(lh, questions)
    ndcg = f"ndcg@{demo_eval.TOP}"
    assert scores.ask[ndcg] >= scores.plain[ndcg] + 0.2
    assert scores.ask_playbook[ndcg] >= scores.ask[ndcg]
