"""Signing in to the UI when auth is on: an API key, checked once, kept in a cookie.

The login page checks the key with WhoAmI (the services' own auth, so an unknown,
revoked or expired key and the brute-force limit answer as they do everywhere) and puts
it in an HttpOnly, SameSite=Strict cookie, encrypted and authenticated with Fernet
under a per-install secret, with the session's age bound inside the token. A forged,
tampered or expired cookie is no session: pages redirect to /login, HTMX partials get
401 with ``HX-Redirect``. Every backend call of a signed-in request carries that key, so
each user sees exactly what their profiles hold.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

# Paths served without a session: the login form itself and the stylesheet it uses.
OPEN_PATHS = ("/login", "/logout", "/favicon.ico")
OPEN_PREFIXES = ("/static/",)
NEXT_PARAM = "next"
KEY_BYTES = 32


def cookie_secret(path: Path) -> bytes:
    """The install's cookie secret: read, or made once (0600; the first of racing
    processes wins and the others read its secret)."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = base64.urlsafe_b64encode(os.urandom(KEY_BYTES))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret + b"\n")
    return secret


class SessionCookie:
    """An API key sealed into a cookie value, and back."""

    def __init__(self, secret: bytes, max_age_s: int) -> None:
        self._fernet = Fernet(secret)
        self.max_age_s = max_age_s

    def seal(self, api_key: str) -> str:
        return self._fernet.encrypt(api_key.encode()).decode("ascii")

    def open(self, value: str) -> str | None:
        """The key, or None for a forged, tampered, truncated or expired value."""
        try:
            return self._fernet.decrypt(value.encode("ascii"), ttl=self.max_age_s).decode()
        except (InvalidToken, UnicodeError, ValueError):
            return None


def safe_next(target: str) -> str:
    """Where to go after signing in: a path of this site only (no ``//host`` or scheme)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class RequireLogin:
    """ASGI middleware: with auth on, every request but the login page needs a session;
    the key of a valid one is ``request.state.api_key``."""

    def __init__(self, app: ASGIApp, cookies: SessionCookie, cookie_name: str) -> None:
        self.app = app
        self.cookies = cookies
        self.cookie_name = cookie_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        sent = request.cookies.get(self.cookie_name, "")
        key = self.cookies.open(sent) if sent else None
        scope.setdefault("state", {})["api_key"] = key
        if key is None and not is_open(request.url.path):
            await self._to_login(request, forged=bool(sent))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _to_login(self, request: Request, forged: bool) -> Response:
        """To the login page. A request that came without the cookie leaves it alone: the
        browser sends no SameSite=Strict cookie with some of its own requests (the favicon)."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = f"/login?{urlencode({NEXT_PARAM: target})}" if target != "/" else "/login"
        if request.headers.get("hx-request"):
            # A partial cannot redirect the page: HTMX follows HX-Redirect instead.
            return PlainTextResponse("sign in first", status_code=401, headers={"HX-Redirect": "/login"})
        response = RedirectResponse(login, status_code=303)
        if forged:
            response.delete_cookie(self.cookie_name, path="/")
        return response
