"""The contamination firewall catches planted near-duplicates of eval items (reworded,
re-cased, embedded in a longer text) and lets unrelated records through; the SFT export is
byte-deterministic."""

from __future__ import annotations

import json

from lakehouse.api.distillation import EvalItem, Evidence, Score
from lakehouse.servers.distillation.export import jsonl
from lakehouse.servers.distillation.firewall import Firewall, shingles
from lakehouse.servers.settings import DistillationSettings

S = DistillationSettings()
EVAL = [
    EvalItem("e1", "Which forklift operators in Joliet hold an OSHA-30 card and can start on the night shift?"),
    EvalItem("e2", "List certified welders with MIG and TIG experience willing to travel to Houston Texas."),
    EvalItem("e3", "Find a registered nurse with ICU experience and a valid Illinois license."),
]


def firewall() -> Firewall:
    return Firewall(EVAL, S.firewall_ngram, S.firewall_containment, S.firewall_jaccard)


def test_shingles_are_normalised_words():
    assert shingles("Forklift, OSHA-30!", 3) == shingles("forklift osha 30", 3)
    assert len(shingles("one two three four", 3)) == 2
    assert len(shingles("one two", 3)) == 1  # shorter than n: one shingle of every word
    assert shingles("  ...  ", 3) == frozenset()


def test_planted_near_duplicates_are_caught():
    planted = {
        "verbatim": Evidence(id="p1", query=EVAL[0].text, answer="x"),
        "reworded": Evidence(
            id="p2",
            query="Which forklift operators in Joliet hold an OSHA 30 card and could start on the night shift",
            answer="x",
        ),
        "recased": Evidence(id="p3", query=EVAL[1].text.upper(), answer="x"),
        "inside a longer prompt": Evidence(
            id="p4", query=f"Please help me. {EVAL[2].text} Thanks, the staffing desk in Peoria.", answer="x"
        ),
        "in the answer": Evidence(id="p5", query="an unrelated question", answer=f"Sure: {EVAL[1].text}"),
    }
    fw = firewall()
    caught = {name: fw.check(e) for name, e in planted.items()}
    assert all(caught.values()), caught
    assert caught["verbatim"].eval_id == "e1" and caught["verbatim"].containment == 1.0
    assert caught["reworded"].eval_id == "e1" and 0.5 <= caught["reworded"].containment < 1.0
    assert caught["recased"].eval_id == "e2" and caught["recased"].jaccard == 1.0
    assert caught["inside a longer prompt"].eval_id == "e3" and caught["inside a longer prompt"].field == "query"
    assert caught["in the answer"].field == "answer" and caught["in the answer"].eval_id == "e2"


def test_unrelated_records_pass():
    fw = firewall()
    unrelated = [
        Evidence(id="u1", query="Forklift operator with OSHA-10 in TX", answer="Luis Ortega [1]"),
        Evidence(id="u2", query="welders in TX", answer="John Smith is a welder in Houston [2]"),
        Evidence(id="u3", query="Who can drive a reach truck on weekends?", answer="Ana [1]"),
    ]
    assert [fw.check(e) for e in unrelated] == [None, None, None]


def test_an_empty_eval_set_excludes_nothing():
    fw = Firewall([], 3, 0.5, 0.5)
    assert fw.items == 0 and fw.check(Evidence(id="a", query=EVAL[0].text)) is None


def pair(i: str, category: str = "gold") -> tuple[Evidence, Score]:
    e = Evidence(
        id=i,
        source="ask",
        query=f"question {i} — café",
        context=("passage one", "passage two"),
        answer=f"answer {i} [1]",
        citations=("c/1",),
        metadata={"b": "2", "a": "1"},
    )
    return e, Score(i, category, 0.9, ("r",), "v1")


def test_the_export_is_chat_messages_with_provenance():
    body = jsonl([pair("b"), pair("a")], "be brief", True)
    lines = body.decode().splitlines()
    first = json.loads(lines[0])
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert (
        first["messages"][1]["content"] == "Context:\n[1] passage one\n[2] passage two\n\nQuestion: question a — café"
    )
    assert first["metadata"] == {
        "record_id": "a",
        "source": "ask",
        "category": "gold",
        "score": 0.9,
        "scorer_version": "v1",
        "citations": ["c/1"],
    }
    assert "café" in body.decode() and body.endswith(b"\n")
    bare = json.loads(jsonl([pair("a")], "", False).decode())
    assert bare["messages"][0] == {"role": "user", "content": "question a — café"}


def test_the_same_records_give_the_same_bytes():
    records = [pair(str(i)) for i in range(50)]
    once = jsonl(records, "", True)
    assert once == jsonl(list(reversed(records)), "", True) == jsonl(records, "", True)
    assert jsonl([], "", True) == b""
