"""The request contract every storage backend shares: keys, prefixes, pages (reasons: lakehouse.api.storage).

A key is the same string on a local directory and on S3, so the rules are the
intersection of both: no path tricks (``..``, ``.``, absolute paths, backslashes,
empty segments) that could escape a local root or alias another key, and no
control characters that would corrupt logs or listings. Each segment is at most
255 UTF-8 bytes, the file-name limit of common local filesystems (NAME_MAX):
longer ones would fail only when the file is created, as a misleading
"unavailable" that invites retries.
"""

from __future__ import annotations

from lakehouse.api import errors
from lakehouse.api.errors import INVALID_KEY
from lakehouse.api.paging import PagingSettings, bad_page_token

MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255
SEPARATOR = "/"

# Segments that mean "this directory" / "parent directory" on a filesystem.
_DOT_SEGMENTS = frozenset({".", ".."})
# C0 controls, DEL and the C1 controls.
_CONTROL_CHARS = frozenset(chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)))


def _reject(field_name: str, description: str) -> errors.InvalidArgument:
    return errors.invalid_field(field_name, description, reason=INVALID_KEY)


def _check_characters(value: str, field_name: str) -> None:
    if len(value.encode("utf-8", errors="surrogatepass")) > MAX_KEY_BYTES:
        raise _reject(field_name, f"longer than {MAX_KEY_BYTES} bytes")
    if "\\" in value:
        raise _reject(field_name, "must not contain a backslash")
    if any(ch in _CONTROL_CHARS for ch in value):
        raise _reject(field_name, "must not contain NUL or control characters")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise _reject(field_name, "must be valid UTF-8 text")
    if value.startswith(SEPARATOR):
        raise _reject(field_name, "must be relative (no leading '/')")


def _check_segment_length(segment: str, field_name: str) -> None:
    if len(segment.encode("utf-8", errors="surrogatepass")) > MAX_SEGMENT_BYTES:
        raise _reject(field_name, f"path segments must be at most {MAX_SEGMENT_BYTES} UTF-8 bytes")


def _check_segments(segments: list[str], field_name: str) -> None:
    for segment in segments:
        if segment == "":
            raise _reject(field_name, "must not contain empty path segments ('//')")
        if segment in _DOT_SEGMENTS:
            raise _reject(field_name, "must not contain '.' or '..' path segments")
        _check_segment_length(segment, field_name)


def validate_key(key: str, field_name: str = "key") -> str:
    """Return ``key`` unchanged if it names an object, else raise InvalidArgument(INVALID_KEY)."""
    if not isinstance(key, str) or key == "":
        raise _reject(field_name, "must not be empty")
    _check_characters(key, field_name)
    if key.endswith(SEPARATOR):
        raise _reject(field_name, "must not end with '/'")
    _check_segments(key.split(SEPARATOR), field_name)
    return key


def validate_prefix(prefix: str, field_name: str = "prefix") -> str:
    """Return ``prefix`` if it can start a valid key (empty allowed, may end with '/').

    The last segment is a partial name matched as a string, so it may be ``.``
    or ``..`` (the start of ``.hidden``); complete segments may not.
    """
    if not isinstance(prefix, str):
        raise _reject(field_name, "must be a string")
    if prefix == "":
        return prefix
    _check_characters(prefix, field_name)
    segments = prefix.split(SEPARATOR)
    # "a/b/" splits to [..., ""]: the trailing empty piece is the open segment.
    _check_segments(segments[:-1], field_name)
    _check_segment_length(segments[-1], field_name)  # a longer one could match no key
    return prefix


def is_valid_key(key: str) -> bool:
    """True when ``key`` passes validate_key; used to hide foreign names from listings."""
    try:
        validate_key(key)
    except errors.InvalidArgument:
        return False
    return True


def validate_page(page_size: int, page_token: str, paging: PagingSettings) -> tuple[int, str]:
    """Normalise list paging (``PagingSettings.size``); the token is the last key of the
    previous page, so it must be a key."""
    size = paging.size(page_size)
    if page_token:
        try:
            validate_key(page_token, "page_token")
        except errors.InvalidArgument:
            raise bad_page_token() from None
    return size, page_token
