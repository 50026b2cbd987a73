"""Key, prefix and page validation: the first line of defence for both backends."""

from __future__ import annotations

import pytest

from lakehouse.api import errors
from lakehouse.api.paging import PagingSettings
from lakehouse.servers.storage.keys import (
    MAX_KEY_BYTES,
    MAX_SEGMENT_BYTES,
    is_valid_key,
    validate_key,
    validate_page,
    validate_prefix,
)

# The longest key: segments at the per-segment limit, 1024 bytes in all.
LONGEST_KEY = "/".join(["x" * MAX_SEGMENT_BYTES] * 3 + ["x" * (MAX_SEGMENT_BYTES - 1), "z"])

GOOD_KEYS = [
    "a",
    "datasets/people/v1/part-0.parquet",
    "_errors/2024-01-01/x.json",
    ".hidden",
    "a/.b/..c/c..",
    "ünïcödé/名前.csv",
    "sp ace/and+plus=eq",
    LONGEST_KEY,
    "x" * MAX_SEGMENT_BYTES,
    "a/" + "é" * (MAX_SEGMENT_BYTES // 2),  # 254 bytes in 127 characters
]

BAD_KEYS = [
    "",
    "/abs",
    "a/../b",
    "..",
    ".",
    "./a",
    "a/.",
    "a/..",
    "a\\b",
    "a//b",
    "a/",
    "a\x00b",
    "a\nb",
    "tab\there",
    "del\x7f",
    "c1\x85",
    LONGEST_KEY + "z",
    "x" * (MAX_KEY_BYTES + 1),
    "é" * (MAX_KEY_BYTES // 2 + 1),  # under 1024 characters, over 1024 bytes
    "x" * (MAX_SEGMENT_BYTES + 1),
    "a/" + "x" * 300 + "/b",
    "a/" + "é" * (MAX_SEGMENT_BYTES // 2 + 1),  # 128 characters, 256 bytes
    "lone\udc80surrogate",
]


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_valid_keys_pass_unchanged(key: str) -> None:
    assert validate_key(key) == key
    assert is_valid_key(key)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_rejected_with_reason(key: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        validate_key(key, "object_key")
    assert caught.value.reason == "INVALID_KEY"
    assert caught.value.violations[0].field == "object_key"
    assert not is_valid_key(key)


@pytest.mark.parametrize("prefix", ["", "a", "a/", "a/b/", "a/.", "a/..", ".hid", "datasets/x"])
def test_valid_prefixes(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix",
    ["/a", "a//", "a//b", "../a", "a/../", "./", "a\\", "a\x00", "x" * 1025, "x" * 256 + "/", "a/" + "x" * 256],
)
def test_invalid_prefixes(prefix: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        validate_prefix(prefix)
    assert caught.value.reason == "INVALID_KEY"


def test_page_defaults_and_caps() -> None:
    paging = PagingSettings(default_page_size=4, max_page_size=9)
    assert validate_page(0, "", paging) == (4, "")
    assert validate_page(7, "a/b", paging) == (7, "a/b")
    assert validate_page(90, "", paging) == (9, "")


@pytest.mark.parametrize(("size", "token"), [(-1, ""), (10, "../x"), (10, "a/")])
def test_bad_pages_are_invalid_argument(size: int, token: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        validate_page(size, token, PagingSettings())
    assert caught.value.reason == "INVALID_PAGE"


def test_segment_limit_is_named_in_the_error() -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        validate_key("a/" + "x" * 300)
    assert str(MAX_SEGMENT_BYTES) in caught.value.message
    assert caught.value.code == "INVALID_ARGUMENT"
