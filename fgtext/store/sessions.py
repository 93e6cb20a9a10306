"""Server-side login sessions and the login throttle, in the database so that every server
process (`serve --workers N`) sees the same ones.

A session is a random token handed to the client (the app puts it in a cookie); the store
keeps only its SHA-256. It ends on logout, when the user's role, password or active flag
changes (`users.update_user`), when an admin ends the user's sessions, after `idle_seconds`
without a request, and `max_age_seconds` after login whatever happens.

Failed logins are rows too (`LoginFailure`), counted per username across clients and per
client across usernames within a sliding window, and pruned once out of it.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, delete, update
from sqlmodel import Session, func, select

from fgtext.store.db import audit, write_transaction
from fgtext.store.models import LoginFailure, User, UserSession, as_utc, utc_now

# last_seen_at is written at most this often (or every half idle period, if shorter): the hot
# path of a request reads its session without writing.
TOUCH_INTERVAL_SECONDS = 60.0


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LiveSession:
    """A session that is still valid, with its active user (one query resolves both)."""

    id: str
    csrf_token: str
    user: User


def create_session(
    session: Session, *, user: User, max_age_seconds: float, idle_seconds: float
) -> tuple[str, str]:
    """Log `user` in: a new session, returned as (token for the cookie, CSRF token). Sessions
    past their expiry (anyone's) are deleted on the way."""
    now = utc_now()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with write_transaction(session):
        session.execute(
            delete(UserSession).where(
                (UserSession.expires_at <= now)
                | (UserSession.last_seen_at <= now - timedelta(seconds=idle_seconds))
            )
        )
        session.add(
            UserSession(
                id=_digest(token), user_id=user.id, csrf_token=csrf, created_at=now,
                last_seen_at=now, expires_at=now + timedelta(seconds=max_age_seconds),
            )
        )  # fmt: skip
        audit(session, actor=user, action="session.start", entity_type="user", entity_id=user.id)
    return token, csrf


def resolve_session(session: Session, *, token: str, idle_seconds: float) -> LiveSession | None:
    """The live session of `token` with its active user, or None (unknown, ended, idle too
    long, past its absolute expiry, or the user is deactivated). One query; `last_seen_at` is
    refreshed only when it is older than the touch interval."""
    if not token:
        return None
    now = utc_now()
    params = {
        "digest": _digest(token), "now": now,
        "idle_since": now - timedelta(seconds=idle_seconds),
    }  # fmt: skip
    row = session.execute(
        _LIVE_SESSION, params, execution_options={"populate_existing": True}
    ).first()
    if row is None:
        return None
    session_id, csrf, last_seen, user = row
    if now - as_utc(last_seen) >= timedelta(seconds=min(TOUCH_INTERVAL_SECONDS, idle_seconds / 2)):
        with write_transaction(session) as connection:
            connection.execute(_TOUCH_SESSION, {"session_id": session_id, "now": now})
    return LiveSession(id=session_id, csrf_token=csrf, user=user)


# Every request resolves its session: built once, bound per call.
_LIVE_SESSION = (
    select(UserSession.id, UserSession.csrf_token, UserSession.last_seen_at, User)
    .join(User, User.id == UserSession.user_id)
    .where(
        UserSession.id == bindparam("digest"),
        UserSession.expires_at > bindparam("now"),
        UserSession.last_seen_at > bindparam("idle_since"),
        User.is_active,
    )
)
_TOUCH_SESSION = (
    update(UserSession)
    .where(UserSession.id == bindparam("session_id"))
    .values(last_seen_at=bindparam("now"))
)


def end_session(session: Session, *, token: str) -> bool:
    """Log out: delete the session of `token`; whether there was one."""
    if not token:
        return False
    with write_transaction(session):
        row = session.get(UserSession, _digest(token))
        if row is None:
            return False
        session.delete(row)
        audit(
            session, actor=session.get(User, row.user_id), action="session.end",
            entity_type="user", entity_id=row.user_id,
        )  # fmt: skip
    return True


def revoke_user_sessions(session: Session, *, user_id: int) -> int:
    """Delete every session of the user inside the caller's write transaction."""
    result = session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    return result.rowcount or 0


def end_user_sessions(session: Session, *, user: User, actor: User | None) -> int:
    """End all of `user`'s sessions at once (an admin's "log them out everywhere")."""
    with write_transaction(session):
        ended = revoke_user_sessions(session, user_id=user.id)
        audit(
            session, actor=actor, action="user.sessions_end", entity_type="user",
            entity_id=user.id, payload={"sessions": ended},
        )  # fmt: skip
    return ended


# -- login throttle -------------------------------------------------------------------------


def _username_key(username: str) -> str:
    return username.casefold()[:100]


def login_retry_after(
    session: Session,
    *,
    username: str,
    client: str,
    max_per_username: int,
    max_per_client: int,
    window_seconds: float,
) -> int | None:
    """Seconds until `client` may try `username` again, or None when it may now: at most
    `max_per_username` failures for the username (from any client) and `max_per_client` from
    the client (for any usernames) within the last `window_seconds`."""
    now = utc_now()
    since = now - timedelta(seconds=window_seconds)
    waits = []
    for column, value, limit in (
        (LoginFailure.username, _username_key(username), max_per_username),
        (LoginFailure.client, client[:100], max_per_client),
    ):
        recent = session.exec(
            select(LoginFailure.at)
            .where(column == value, LoginFailure.at > since)
            .order_by(LoginFailure.at.desc())
            .limit(limit)
        ).all()
        if len(recent) >= limit:  # allowed again once the limit-th newest leaves the window
            oldest = as_utc(recent[-1]) + timedelta(seconds=window_seconds)
            waits.append(max(1, math.ceil((oldest - now).total_seconds())))
    return max(waits) if waits else None


def record_login_failure(
    session: Session, *, username: str, client: str, window_seconds: float
) -> None:
    """Count a failed login; failures older than the window are pruned."""
    now = utc_now()
    with write_transaction(session):
        session.execute(
            delete(LoginFailure).where(LoginFailure.at <= now - timedelta(seconds=window_seconds))
        )
        session.add(LoginFailure(username=_username_key(username), client=client[:100], at=now))


def clear_login_failures(session: Session, *, username: str, client: str) -> None:
    """A successful login forgets this client's failures for the username (not other
    clients': someone guessing elsewhere stays throttled)."""
    with write_transaction(session):
        session.execute(
            delete(LoginFailure).where(
                LoginFailure.username == _username_key(username),
                LoginFailure.client == client[:100],
            )
        )


def count_sessions(session: Session, *, user: User) -> int:
    return session.exec(
        select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)
    ).one()
