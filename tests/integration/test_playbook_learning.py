"""The playbook learns (SPEC §3.7): on the labelled staffing fixture (tests/support/staffing.py),
held-out wordings of queries with recorded history rank the workers coordinators place
better with ``use_playbook`` than plain vector search and than a recommend-style baseline
given the same examples, and queries without any history are left as they were. Real
embedding model, real system; nDCG@10 and precision@5 from ranx. bench/playbooks.py reports
the same figures."""

from __future__ import annotations

from tests.support import learning


def test_use_playbook_beats_plain_search_and_the_recommend_baseline(system):
    with system.client(timeout_s=600) as lh:
        learning.load(lh)
        scores = learning.evaluate(lh)
    assert scores.playbook["ndcg@10"] >= scores.plain["ndcg@10"] + 0.10, scores
    assert scores.playbook["precision@5"] > scores.plain["precision@5"], scores
    assert scores.playbook["ndcg@10"] >= scores.recommend["ndcg@10"], scores
    assert abs(scores.unseen_playbook["ndcg@10"] - scores.unseen_plain["ndcg@10"]) <= 0.01, scores
