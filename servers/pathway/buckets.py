"""The 32-bucket token hash, version 1 (docs/pathway.md, "Bucket vector").

Each token's UTF-8 bytes are hashed with HMAC-SHA-256 under the fixed key ``KEY``; the
digest's first byte, low five bits, is the bucket, and the top bit of its second byte the
sign (set: -1). Counts are summed as integers (order does not matter, so each distinct
token is hashed once), then the vector is scaled to unit length in float64 and rounded to
float32; no token gives the zero vector. Its serialisation, the bytes both
implementations must agree on, is 32 little-endian IEEE-754 float32 values (128 bytes).

Integer sums are exact below 2**53; ``pathway.max_text_bytes`` keeps a text far below
that (a token is at least one byte, so counts never exceed the text's length).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import struct
from collections import Counter

import numpy as np

from lakehouse.servers.pathway.tokens import token_bytes, tokens

ALGORITHM = "lakehouse.pathway.buckets.v1"
KEY = b"lakehouse.pathway.v1"
BUCKETS = 32
VECTOR_BYTES = 4 * BUCKETS
_PACK = struct.Struct(f"<{BUCKETS}f")


def bucket_and_sign(token: str) -> tuple[int, int]:
    """The bucket (0-31) and sign (+1 or -1) of one token."""
    digest = hmac.digest(KEY, token_bytes(token), hashlib.sha256)
    return digest[0] & (BUCKETS - 1), -1 if digest[1] & 0x80 else 1


def counts(text: str) -> list[int]:
    """The signed count per bucket."""
    out = [0] * BUCKETS
    for token, n in Counter(tokens(text)).items():
        bucket, sign = bucket_and_sign(token)
        out[bucket] += sign * n
    return out


def vector_bytes(text: str) -> bytes:
    """The 128-byte serialisation of ``text``'s bucket vector (the byte contract)."""
    c = counts(text)
    squares = sum(v * v for v in c)
    if squares == 0:
        return bytes(VECTOR_BYTES)
    norm = math.sqrt(float(squares))
    return _PACK.pack(*(float(v) / norm for v in c))


def vector(text: str) -> np.ndarray:
    """The bucket vector as float32 values."""
    return vector_from_bytes(vector_bytes(text))


def vector_from_bytes(data: bytes) -> np.ndarray:
    if len(data) != VECTOR_BYTES:
        raise ValueError(f"a bucket vector is {VECTOR_BYTES} bytes, not {len(data)}")
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
