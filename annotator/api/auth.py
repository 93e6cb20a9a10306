"""Log in and out; who am I (and my CSRF token)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, status
from sqlmodel import Session

from annotator import auth
from annotator.api.models import LoginRequest, SessionPublic, UserPublic, described
from annotator.deps import CurrentUser, SessionDep
from fgtext import store

router = APIRouter(prefix="/auth", tags=["auth"])


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/login",
    response_model=SessionPublic,
    responses=described({401: "Wrong username or password", 429: "Too many failed logins"}),
)
def login(body: LoginRequest, request: Request, session: SessionDep) -> SessionPublic:
    """Start a session (an HttpOnly cookie) and return the CSRF token for later writes."""
    user = authenticate(request, session, body.username, body.password)
    token = auth.start_session(request, user.id, user.password_hash)
    return SessionPublic(user=UserPublic.model_validate(user), csrf_token=token)


def authenticate(request: Request, session: Session, username: str, password: str) -> store.User:
    """The active user with these credentials, under the login rate limit; else 401 or 429.
    Shared by the API and the login page."""
    limiter = request.app.state.login_limiter
    client = _client_address(request)
    wait = limiter.retry_after(username, client)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed logins for {username!r}; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    user = store.get_user_by_username(session, username=username)
    password_ok = auth.verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        limiter.record_failure(username, client)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    limiter.reset(username, client)
    if auth.needs_rehash(user.password_hash):  # argon2 parameters were raised since it was hashed
        user = store.update_user(
            session, user=user, password_hash=auth.hash_password(password), actor=user
        )
    return user


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Depends(auth.require_csrf)]
)
def logout(request: Request) -> None:
    auth.end_session(request)


@router.get("/me", response_model=SessionPublic)
def me(request: Request, user: CurrentUser) -> SessionPublic:
    return SessionPublic(user=UserPublic.model_validate(user), csrf_token=auth.csrf_token(request))
