"""The UI's session cookie: sealed with the install's secret, refused when forged,
tampered, from another install or expired; the secret file is made once, 0600."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography.fernet import Fernet

from lakehouse.servers.ui.login import SessionCookie, cookie_secret, is_open, safe_next


def test_the_secret_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "auth" / "ui-cookie.key"
    first = cookie_secret(path)
    assert cookie_secret(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Fernet(first)  # a valid Fernet key


def test_a_sealed_key_opens_and_nothing_else_does(tmp_path: Path) -> None:
    cookies = SessionCookie(cookie_secret(tmp_path / "a.key"), 3600)
    sealed = cookies.seal("lh_abc.secret")
    assert "lh_abc" not in sealed and cookies.open(sealed) == "lh_abc.secret"
    other = SessionCookie(cookie_secret(tmp_path / "b.key"), 3600)
    flipped = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    for forged in (other.seal("lh_abc.secret"), flipped, sealed[:-4], "lh_abc.secret", "", "é"):
        assert cookies.open(forged) is None


def test_an_expired_session_is_refused(tmp_path: Path) -> None:
    secret = cookie_secret(tmp_path / "a.key")
    old = Fernet(secret).encrypt_at_time(b"lh_abc.secret", 1_000)
    assert SessionCookie(secret, 3600).open(old.decode()) is None


def test_only_local_paths_are_followed_after_sign_in() -> None:
    assert safe_next("/explore?x=1") == "/explore?x=1"
    for target in ("//evil.example", "https://evil.example", "/\\evil", "", "evil"):
        assert safe_next(target) == "/"
    assert is_open("/login") and is_open("/static/app.css") and not is_open("/sql")
