"""Passwords (argon2), the session cookie's contents, CSRF tokens and the login rate limit.

The session itself is Starlette's SessionMiddleware: a cookie signed with itsdangerous,
HttpOnly, SameSite=Lax, Secure outside development. It holds only the user's id, a CSRF token
and a fingerprint of the password hash; the user row is read on every request, so deactivating
a user, changing a role or resetting a password takes effect at once.

CSRF: unsafe requests by a logged-in user must echo the session's token in `X-CSRF-Token`
(login and `GET /api/v1/auth/me` hand it out). A cross-site form cannot read it, so it cannot
forge the header.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request, status

from fgtext.errors import FgTextError

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both answers take as long.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise FgTextError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# -- session contents -----------------------------------------------------------------------


def password_fingerprint(password_hash: str) -> str:
    """A short digest of the stored hash: a session remembers it, so changing the password
    ends the user's other sessions."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def start_session(request: Request, user_id: int, password_hash: str) -> str:
    """Log `user_id` in: a fresh session (no fixation) with a fresh CSRF token, returned."""
    request.session.clear()
    token = secrets.token_urlsafe(32)
    request.session.update(
        {"user_id": user_id, "csrf": token, "pw": password_fingerprint(password_hash)}
    )
    return token


def session_matches(request: Request, password_hash: str) -> bool:
    return hmac.compare_digest(request.session.get("pw", ""), password_fingerprint(password_hash))


def end_session(request: Request) -> None:
    request.session.clear()


def session_user_id(request: Request) -> int | None:
    user_id = request.session.get("user_id")
    return user_id if isinstance(user_id, int) else None


def csrf_token(request: Request) -> str | None:
    return request.session.get("csrf")


def csrf_matches(request: Request, sent: str) -> bool:
    """Whether `sent` is the session's CSRF token (compared in constant time)."""
    expected = csrf_token(request) or ""
    return bool(expected) and hmac.compare_digest(expected.encode(), sent.encode())


def require_csrf(request: Request) -> None:
    """Dependency on every write route: a logged-in session's unsafe request must carry the
    session's CSRF token. Without a session there is no ambient authority to abuse, and the
    route's own authentication answers 401."""
    if request.method in SAFE_METHODS or session_user_id(request) is None:
        return
    if not csrf_matches(request, request.headers.get(CSRF_HEADER, "")):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"missing or wrong {CSRF_HEADER} header: send the csrf_token from the login "
            "response or GET /api/v1/auth/me",
        )


# -- login rate limit -----------------------------------------------------------------------


class LoginRateLimiter:
    """At most `max_failures` failed logins per (username, client address) in a sliding window
    of `window_seconds`; beyond that, `retry_after` says how long to wait. In memory: one
    server process (the supported deployment) sees every attempt."""

    def __init__(self, max_failures: int, window_seconds: float) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        return failures

    def retry_after(self, username: str, client: str) -> int | None:
        """Seconds until another attempt is allowed, or None when one is allowed now."""
        key, now = (username.casefold(), client), time.monotonic()
        with self._lock:
            failures = self._recent(key, now)
            if not failures:
                self._failures.pop(key, None)
            if len(failures) < self.max_failures:
                return None
            return max(1, math.ceil(failures[0] + self.window_seconds - now))

    def record_failure(self, username: str, client: str) -> None:
        key, now = (username.casefold(), client), time.monotonic()
        with self._lock:
            failures = self._recent(key, now)
            failures.append(now)
            self._failures[key] = failures

    def reset(self, username: str, client: str) -> None:
        with self._lock:
            self._failures.pop((username.casefold(), client), None)
