"""The 32-bucket hash (docs/pathway.md): the digest's bytes give the bucket and sign, counts
are signed integer sums, the vector is unit length as little-endian float32, the same text
always gives the same bytes, and the golden file holds."""

from __future__ import annotations

import hashlib
import hmac
import math
import struct

import numpy as np
import pytest

from lakehouse.servers.pathway import buckets
from tests.support import pathway_golden


def test_bucket_and_sign_come_from_the_hmac_digest() -> None:
    for token in ("forklift", "é", "東", "🙂", "x" * 1000):
        digest = hmac.new(b"lakehouse.pathway.v1", token.encode("utf-8"), hashlib.sha256).digest()
        assert buckets.bucket_and_sign(token) == (digest[0] % 32, -1 if digest[1] >= 128 else 1)


def test_counts_are_signed_sums_in_any_order() -> None:
    text = "forklift operator forklift"
    expected = [0] * 32
    for token in ("forklift", "operator", "forklift"):
        b, s = buckets.bucket_and_sign(token)
        expected[b] += s
    assert buckets.counts(text) == expected
    assert buckets.vector_bytes("operator forklift forklift") == buckets.vector_bytes(text)


def test_the_vector_is_unit_length_float32_little_endian() -> None:
    data = buckets.vector_bytes("forklift operator with OSHA-30 in IL")
    assert len(data) == 128
    values = struct.unpack("<32f", data)
    c = buckets.counts("forklift operator with OSHA-30 in IL")
    norm = math.sqrt(sum(v * v for v in c))
    assert values == struct.unpack("<32f", struct.pack("<32f", *(v / norm for v in c)))
    assert abs(float(np.linalg.norm(np.array(values, dtype=np.float64))) - 1.0) < 1e-6


def test_no_token_is_the_zero_vector() -> None:
    for text in ("", "   ", "!!! ...", "\u3000\u00a0"):
        assert buckets.vector_bytes(text) == bytes(128)


def test_case_and_punctuation_do_not_change_the_vector() -> None:
    assert buckets.vector_bytes("Forklift, OPERATOR!") == buckets.vector_bytes("forklift operator")


def test_deterministic_and_golden() -> None:
    golden = pathway_golden.load()
    assert golden["algorithm"] == buckets.ALGORITHM
    for case in golden["cases"]:
        text = pathway_golden.case_text(case)
        assert buckets.vector_bytes(text).hex() == case["hex"], case["name"]
        assert buckets.vector_bytes(text) == buckets.vector_bytes(text)


def test_vector_from_bytes_refuses_other_lengths() -> None:
    with pytest.raises(ValueError, match="128"):
        buckets.vector_from_bytes(b"\0" * 64)
