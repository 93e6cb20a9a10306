"""FastAPI dependencies as `Annotated` aliases: the database session, settings, current user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from annotator.auth import SAFE_METHODS, check_csrf, live_session, resolved_session
from annotator.settings import Settings
from fgtext.store import User
from fgtext.validation import MAX_ID, MAX_OFFSET


async def get_db_session(request: Request) -> AsyncIterator[Session]:
    """The request's database session. `async` only so that FastAPI does not send it to the
    thread pool (two thread hops a request): creating a Session does no I/O (it connects on
    first use, in the route's thread), and closing it hands the connection back to the pool.
    expire_on_commit=False: a request's objects stay loaded after each store call commits,
    instead of one reload round trip per object touched afterwards (the store re-reads under
    its locks what a decision depends on)."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_db_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

# The id in a route's path (every route, API, media and pages): beyond 1..MAX_ID it is a 422,
# never a database error (PostgreSQL refuses to compare it with an INTEGER column, SQLite
# cannot bind one beyond 64 bits).
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def session_user(request: Request, session: Session) -> User | None:
    """The user of the request's live session if they are still active, else None. Read from
    the database on every request (session and user in one query), so a logout, a
    deactivation, a role change or a new password applies at once."""
    live = live_session(request, session)
    return live.user if live is not None else None


# The two dependencies below are `async` so that FastAPI does not give each its own trip to
# the thread pool: the session is looked up in the pool once (by whichever runs first) and then
# read from the request's cache (`annotator.auth.live_session`).


async def require_csrf(request: Request, session: SessionDep) -> None:
    """Dependency on every write route: see `annotator.auth.check_csrf`."""
    if request.method not in SAFE_METHODS:
        await run_in_threadpool(check_csrf, request, session)


async def get_current_user(request: Request, session: SessionDep) -> User:
    """The logged-in, active user; 401 otherwise."""
    known, live = resolved_session(request, session)
    if not known:
        live = await run_in_threadpool(live_session, request, session)
    user = live.user if live is not None else None
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "not logged in: POST your username and password to /api/v1/auth/login",
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


@dataclass(frozen=True)
class Page:
    """Which slice of a list a request asks for (`?offset=&limit=`)."""

    offset: int
    limit: int

    def of(self, items: list) -> list:
        return items[self.offset : self.offset + self.limit]


def paged(default: int, maximum: int) -> Any:
    """A `Page` dependency: `limit` defaults to `default` and may not exceed `maximum`."""

    def page(
        offset: int = Query(0, ge=0, le=MAX_OFFSET), limit: int = Query(default, ge=1, le=maximum)
    ) -> Page:
        return Page(offset=offset, limit=limit)

    return Depends(page)
