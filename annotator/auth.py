"""Passwords (argon2), the session cookie, CSRF tokens and the login's own CSRF check.

Sessions are server-side (`fgtext.store.sessions`): the cookie `fgtext_session` carries only a
random token (HttpOnly, SameSite=Lax, Secure outside development); the database holds its
SHA-256 with the user, the CSRF token and the expiry (idle and absolute). One query per request
resolves the session and its user, so a logout, a deactivation, a role or password change, or
an admin's "end sessions" takes effect on the next request, in every server process.

CSRF: unsafe requests by a logged-in user must echo the session's token in `X-CSRF-Token`
(login and `GET /api/v1/auth/me` hand it out). A cross-site form cannot read it, so it cannot
forge the header. Logging in has no session yet, so the login routes check where the request
comes from instead (`require_same_origin`): that stops a cross-site form from logging a victim
into the attacker's account (login CSRF).
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request, Response, status
from sqlmodel import Session

from fgtext import store
from fgtext.errors import FgTextError

SESSION_COOKIE = "fgtext_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MIN_PASSWORD_LENGTH = 8

# argon2id with RFC 9106's second recommended ("low memory") profile, argon2-cffi's default,
# stated so that a library upgrade cannot change it silently: 3 passes over 64 MiB, 4 lanes,
# 16-byte salt, 32-byte hash (about 50 ms a login on one core). Hashes made with other
# parameters are re-hashed at the next successful login.
ARGON2_TIME_COST, ARGON2_MEMORY_KIB, ARGON2_PARALLELISM = 3, 64 * 1024, 4
_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM,
    hash_len=32, salt_len=16,
)  # fmt: skip
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


# -- sessions -------------------------------------------------------------------------------


def resolved_session(request: Request, db: Session) -> tuple[bool, store.LiveSession | None]:
    """(True, the live session or None) once `live_session` has looked it up for this request
    and database session, else (False, None): no database access."""
    cached = getattr(request.state, "fgtext_session", None)
    if cached is not None and cached[0] is db:
        return True, cached[1]
    return False, None


def live_session(request: Request, db: Session) -> store.LiveSession | None:
    """The request's live session with its user, or None. Resolved once per request and
    database session (the CSRF check, the current user and the page's token share it)."""
    known, live = resolved_session(request, db)
    if known:
        return live
    token = request.cookies.get(SESSION_COOKIE, "")
    live = None
    if token:
        settings = request.app.state.settings
        live = store.resolve_session(db, token=token, idle_seconds=settings.session_idle_seconds)
        # End the read: the connection goes back to the pool before the request waits for its
        # next thread, so connections are held only inside threads (no more of them than the
        # pool has), and a writer holding the SQLite writers' lock never waits for the pool.
        db.commit()
    request.state.fgtext_session = (db, live)
    return live


def start_session(request: Request, response: Response, db: Session, user: store.User) -> str:
    """Log `user` in: a new session (never the one the request came with: no fixation) in
    the cookie of `response`; its CSRF token is returned."""
    settings = request.app.state.settings
    if request.cookies.get(SESSION_COOKIE):
        store.end_session(db, token=request.cookies[SESSION_COOKIE])
    token, csrf = store.create_session(
        db, user=user, max_age_seconds=settings.session_max_age,
        idle_seconds=settings.session_idle_seconds,
    )  # fmt: skip
    response.set_cookie(
        SESSION_COOKIE, token, max_age=settings.session_max_age, path="/", httponly=True,
        samesite="lax", secure=not settings.is_development,
    )  # fmt: skip
    request.state.fgtext_session = (db, store.LiveSession(id="", csrf_token=csrf, user=user))
    return csrf


def end_session(request: Request, response: Response, db: Session) -> None:
    """Log out: the session's row is deleted, so a copy of the cookie is dead too."""
    store.end_session(db, token=request.cookies.get(SESSION_COOKIE, ""))
    settings = request.app.state.settings
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax",
        secure=not settings.is_development,
    )  # fmt: skip
    request.state.fgtext_session = (db, None)


def csrf_token(request: Request) -> str | None:
    """The CSRF token of the session this request resolved (None: not logged in)."""
    cached = getattr(request.state, "fgtext_session", None)
    return cached[1].csrf_token if cached is not None and cached[1] is not None else None


def csrf_matches(request: Request, sent: str) -> bool:
    """Whether `sent` is the session's CSRF token (compared in constant time)."""
    expected = csrf_token(request) or ""
    return bool(expected) and hmac.compare_digest(expected.encode(), sent.encode())


def check_csrf(request: Request, db: Session) -> None:
    """A logged-in session's unsafe request must carry the session's CSRF token. Without a
    session there is no ambient authority to abuse, and the route's own authentication
    answers 401."""
    if request.method in SAFE_METHODS or live_session(request, db) is None:
        return
    if not csrf_matches(request, request.headers.get(CSRF_HEADER, "")):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"missing or wrong {CSRF_HEADER} header: send the csrf_token from the login "
            "response or GET /api/v1/auth/me",
        )


# -- login: where it comes from, and who -----------------------------------------------------


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else url


def require_same_origin(request: Request, *, browser_form: bool) -> None:
    """Refuse a login posted from another site (login CSRF) with 403.

    Browsers send `Origin` (or at least `Referer`) with a POST; it must be this site: the
    request's own Host, over http or https (a TLS proxy in front changes the scheme), or one
    of FGTEXT_TRUSTED_ORIGINS. A request with neither header is a non-browser client; that is
    allowed on the JSON API, whose JSON body a cross-site form cannot send, but not on the
    form."""
    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent:
        if browser_form:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "login refused: the browser sent neither Origin nor Referer, so a login from "
                "another site cannot be ruled out; log in from this site's login page",
            )
        return
    origin = _origin(sent)
    host = request.headers.get("host", "").lower()
    own = {f"http://{host}", f"https://{host}"} if host else set()
    if origin in own or origin in request.app.state.settings.trusted_origin_set:
        return
    raise HTTPException(
        status.HTTP_403_FORBIDDEN,
        f"login refused: it was sent from another site ({origin[:100]}); log in from this "
        "site's own login page (behind a proxy that rewrites Host, list the public origin in "
        "FGTEXT_TRUSTED_ORIGINS)",
    )


def client_address(request: Request) -> str:
    """The client's address: the TCP peer, or what a proxy named in `serve
    --forwarded-allow-ips` put in X-Forwarded-For (uvicorn decides; nobody else is believed)."""
    return request.client.host if request.client else "unknown"
