"""The golden set of the pathway bucket hash (tests/data/pathway_golden.json).

Each case is a text, given literally (``text``) or, for the long ones, as a piece repeated
(``repeat`` x ``times``), with the tokens (short cases) and the vector's hex the contract
requires. The file is the regression anchor of both implementations: the Python tests and
the Go test (clients/go/pathway) read it. Regenerate it only when the algorithm's version
changes, on purpose::

    python -m tests.support.pathway_golden
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "pathway_golden.json"
MB = 1 << 20
TOKENS_SHOWN_BELOW = 4096  # texts shorter than this (characters) list their tokens

CASES: list[dict[str, Any]] = [
    {"name": "ascii", "text": "Forklift operator with OSHA-30 in IL, 2nd shift; $18/hr."},
    {"name": "ascii_case", "text": "FORKLIFT Operator forklift OPERATOR"},
    {"name": "ascii_symbols", "text": "a_b-c.d/e\\f:g@h#i~j`k|l^m<n>o{p}q[r]s(t)u'v\"w!x?y*z+0=1%2&3"},
    {"name": "accents_precomposed", "text": "Café naïve résumé ÉCOLE Ærø Señor"},
    {"name": "accents_combining", "text": "Cafe\u0301 re\u0301sume\u0301 n\u0303 e\u0301\u0302\u0323"},
    {"name": "german_sharp_s", "text": "Straße STRASSE Größe GRÖSSE ẞ"},
    {"name": "turkish_dotted_i", "text": "İstanbul ISTANBUL istanbul ıi İi I\u0307"},
    {"name": "latin_extended_a", "text": "Łódź ŁÓDŹ Ŋŋ Ÿ Œuvre Ĳssel ŉ ſ ĸ"},
    {"name": "greek_cyrillic", "text": "ΑΘΗΝΑ Ωμέγα Άλφα ΐ МОСКВА Ёж ЇЖАК"},
    {"name": "cjk", "text": "東京都の倉庫でフォークリフト作業員を募集。時給1500円"},
    {"name": "korean", "text": "지게차 운전사 모집 (서울)"},
    {"name": "rtl_and_indic", "text": "مشغل رافعة شوكية שלום עולם नमस्ते दुनिया"},
    {"name": "emoji", "text": "👩\u200d💻 ❤\ufe0f 👍🏽 ok🙂fine 🇺🇸 ★☆ →"},
    {"name": "fullwidth", "text": "ＯＳＨＡ－３０　ｆｏｒｋｌｉｆｔ！"},
    {"name": "unicode_punctuation", "text": "“quoted” — dash… «guillemets» €100 ½ ©2026 x×y÷z"},
    {"name": "controls", "text": "tab\tnew\nline\r\x00nul\x7fdel\x85nel\xa0nbsp\u200bzw\ufeffbom"},
    {"name": "astral_cjk_and_specials", "text": "𠀀𠀁 a\U000e0041b \ufffd c\uffffd"},
    {"name": "empty", "text": ""},
    {"name": "whitespace_only", "text": " \t\n\r\u00a0\u2003\u3000\u2028 "},
    {"name": "punctuation_only", "text": "!!! ... --- ,,, ;;; 。、"},
    {"name": "single_token", "text": "x"},
    {"name": "long_1mb_mixed", "repeat": "forklift operator OSHA-30 Chicago, IL 東京 Straße 🙂 ", "times": 18000},
    {"name": "long_1mb_one_token", "repeat": "a", "times": MB},
    {"name": "long_unicode_words", "repeat": "naïve café résumé ", "times": 50000},
]


def case_text(case: dict[str, Any]) -> str:
    return case["text"] if "text" in case else case["repeat"] * case["times"]


def golden() -> dict[str, Any]:
    """The golden file's content, computed by the Python implementation."""
    from lakehouse.servers.pathway import buckets, tokens

    out = []
    for case in CASES:
        text = case_text(case)
        entry = dict(case)
        toks = tokens.tokens(text)
        if len(text) < TOKENS_SHOWN_BELOW:
            entry["tokens"] = toks
        entry["token_count"] = len(toks)
        entry["utf8_bytes"] = len(text.encode("utf-8"))
        entry["hex"] = buckets.vector_bytes(text).hex()
        out.append(entry)
    return {"algorithm": buckets.ALGORITHM, "cases": out}


def load() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


if __name__ == "__main__":
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(golden(), ensure_ascii=False, indent=1) + "\n"
    GOLDEN.write_text(text, encoding="utf-8")
    print(f"wrote {GOLDEN}")
