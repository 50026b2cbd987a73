"""G3.4.B, the porting gate: the Go implementation of the pathway hash (clients/go/pathway,
built offline with Debian's Go) gives byte-identical bucket vectors, and the same tokens,
as the Python one, on the golden set (ASCII, accents, combining marks, CJK, emoji, the
Turkish dotted I, German ß, empty, whitespace only, 1 MB inputs) and on every boundary of
the tokenizer's tables; both match the committed golden file."""

from __future__ import annotations

import json
import random
import subprocess

import pytest

from lakehouse.servers.pathway import buckets, tokens
from tests.support import pathway_golden
from tests.support.golang import build_go_client

pytestmark = pytest.mark.integration
RUN_TIMEOUT_S = 120
SEED = 20261202


@pytest.fixture(scope="module")
def go_hash(tmp_path_factory):
    binary = build_go_client(tmp_path_factory.mktemp("go-pathway"), "pathway-hash")

    def run(texts: list[str]) -> list[dict]:
        done = subprocess.run(
            [str(binary), "-tokens"],
            input=json.dumps(texts).encode("ascii"),
            capture_output=True,
            timeout=RUN_TIMEOUT_S,
            check=True,
        )
        return json.loads(done.stdout)

    return run


def test_golden_set_is_byte_identical(go_hash) -> None:
    golden = pathway_golden.load()
    assert golden["algorithm"] == buckets.ALGORITHM
    cases = golden["cases"]
    names = {c["name"] for c in cases}
    assert {"empty", "whitespace_only", "long_1mb_mixed", "turkish_dotted_i", "german_sharp_s", "emoji"} <= names
    texts = [pathway_golden.case_text(c) for c in cases]
    assert max(len(t.encode("utf-8")) for t in texts) >= pathway_golden.MB
    from_go = go_hash(texts)
    for case, text, go in zip(cases, texts, from_go, strict=True):
        python_hex = buckets.vector_bytes(text).hex()
        assert go["hex"] == python_hex == case["hex"], case["name"]
        assert go["tokens"] == tokens.tokens(text), case["name"]


def _boundary_texts() -> list[str]:
    """Every code point at and around each range edge and lowercase mapping, alone, inside
    a word and between words, plus seeded random mixes of them."""
    points: set[int] = set()
    for first, last in (*tokens.SEPARATORS, *tokens.SINGLES):
        points |= {first - 1, first, first + 1, last - 1, last, last + 1}
    for upper, lower in tokens.LOWER.items():
        points |= {upper - 1, upper, upper + 1, lower}
    chars = [chr(c) for c in sorted(points) if 0 <= c <= 0x10FFFF and not 0xD800 <= c <= 0xDFFF]
    texts = [f"{c}" for c in chars] + [f"ab{c}cd" for c in chars] + [f"x {c} y" for c in chars]
    rng = random.Random(SEED)
    pool = chars + list("abcXYZ019 -_.,")
    texts += ["".join(rng.choice(pool) for _ in range(rng.randint(1, 40))) for _ in range(2000)]
    return texts


def test_every_table_boundary_is_byte_identical(go_hash) -> None:
    texts = _boundary_texts()
    from_go = go_hash(texts)
    mismatched = [
        (t, g)
        for t, g in zip(texts, from_go, strict=True)
        if g["hex"] != buckets.vector_bytes(t).hex() or g["tokens"] != tokens.tokens(t)
    ]
    assert mismatched == []
