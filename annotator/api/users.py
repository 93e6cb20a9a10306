"""User management (admins): create users, change roles and passwords, deactivate, end a
user's sessions. Every change to a user ends their sessions (the store does it)."""

from __future__ import annotations

from fastapi import APIRouter, status

from annotator import policies
from annotator.api.models import UserCreate, UserPublic, UserUpdate, described
from annotator.auth import hash_password
from annotator.deps import CurrentUser, Id, SessionDep
from fgtext import store

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic])
def list_users(session: SessionDep, user: CurrentUser) -> list[store.User]:
    policies.users.require_manage(user)
    return store.list_users(session)


@router.post(
    "",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses=described({409: "The username is taken"}),
)
def create_user(body: UserCreate, session: SessionDep, user: CurrentUser) -> store.User:
    policies.users.require_manage(user)
    return store.create_user(
        session,
        username=body.username,
        password_hash=hash_password(body.password),
        role=body.role,
        actor=user,
    )


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(
    user_id: Id, body: UserUpdate, session: SessionDep, user: CurrentUser
) -> store.User:
    """Set a role, (de)activate, or reset a password."""
    policies.users.require_manage(user)
    target = store.get_user(session, user_id=user_id)
    policies.users.check_update(user, target, role=body.role, is_active=body.is_active)
    return store.update_user(
        session,
        user=target,
        role=body.role,
        is_active=body.is_active,
        password_hash=hash_password(body.password) if body.password is not None else None,
        actor=user,
    )


@router.delete(
    "/{user_id}/sessions",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=described({404: "No such user"}),
)
def end_sessions(user_id: Id, session: SessionDep, user: CurrentUser) -> None:
    """Log the user out everywhere: every session of theirs ends at once (audited)."""
    policies.users.require_manage(user)
    target = store.get_user(session, user_id=user_id)
    store.end_user_sessions(session, user=target, actor=user)
