"""Log in and out; who am I (and my CSRF token)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from sqlmodel import Session

from annotator import auth
from annotator.api.models import LoginRequest, SessionPublic, UserPublic, described
from annotator.deps import CurrentUser, SessionDep, require_csrf
from fgtext import store

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/login",
    response_model=SessionPublic,
    responses=described(
        {401: "Wrong username or password", 403: "Sent from another site",
         429: "Too many failed logins"}
    ),
)  # fmt: skip
def login(
    body: LoginRequest, request: Request, response: Response, session: SessionDep
) -> SessionPublic:
    """Start a session (an HttpOnly cookie) and return the CSRF token for later writes."""
    auth.require_same_origin(request, browser_form=False)
    user = authenticate(request, session, body.username, body.password)
    token = auth.start_session(request, response, session, user)
    return SessionPublic(user=UserPublic.model_validate(user), csrf_token=token)


def authenticate(request: Request, session: Session, username: str, password: str) -> store.User:
    """The active user with these credentials, under the login throttle (per username across
    clients, per client across usernames, shared by every server process); else 401 or 429.
    Shared by the API and the login page."""
    for field, value in (("username", username), ("password", password)):
        if "\x00" in value:  # PostgreSQL text cannot hold it (lone surrogates: pydantic refuses)
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"{field}: NUL characters are not allowed"
            )
    settings = request.app.state.settings
    client = auth.client_address(request)
    wait = store.login_retry_after(
        session, username=username, client=client, max_per_username=settings.login_max_failures,
        max_per_client=settings.login_max_failures_per_client,
        window_seconds=settings.login_window_seconds,
    )  # fmt: skip
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed logins for {username!r} or from your address; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    user = store.get_user_by_username(session, username=username)
    password_ok = auth.verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        store.record_login_failure(
            session, username=username, client=client,
            window_seconds=settings.login_window_seconds,
        )  # fmt: skip
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    store.clear_login_failures(session, username=username, client=client)
    if auth.needs_rehash(user.password_hash):  # argon2 parameters were raised since it was hashed
        user = store.update_user(
            session, user=user, password_hash=auth.hash_password(password), actor=user
        )
    return user


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Depends(require_csrf)]
)
def logout(request: Request, response: Response, session: SessionDep) -> None:
    """End this session: its cookie, and any copy of it, stops working at once."""
    auth.end_session(request, response, session)


@router.get("/me", response_model=SessionPublic)
def me(request: Request, user: CurrentUser) -> SessionPublic:
    return SessionPublic(user=UserPublic.model_validate(user), csrf_token=auth.csrf_token(request))
