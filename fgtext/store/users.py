"""Users and their roles. Password hashing is the app's job; the store keeps the hash."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from fgtext.store.db import audit, get_row, write_transaction
from fgtext.store.errors import ConflictError, InvalidInputError, NotFoundError
from fgtext.store.models import User
from fgtext.store.sessions import revoke_user_sessions
from fgtext.vocabulary import ROLES


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInputError(f"role {role!r} does not exist; expected one of {', '.join(ROLES)}")
    return role


def create_user(
    session: Session, *, username: str, password_hash: str, role: str, actor: User | None = None
) -> User:
    """A new active user; a taken username raises ConflictError."""
    username = username.strip() if isinstance(username, str) else ""
    if not username:
        raise InvalidInputError("username is empty; expected a non-empty name")
    _check_role(role)
    with write_transaction(session):
        if session.exec(select(User).where(User.username == username)).first() is not None:
            raise ConflictError(f"username {username!r} is taken")
        user = User(username=username, password_hash=password_hash, role=role)
        session.add(user)
        try:
            session.flush()
        except IntegrityError:  # a concurrent request took the name first (PostgreSQL)
            raise ConflictError(f"username {username!r} is taken") from None
        audit(
            session, actor=actor or user, action="user.create", entity_type="user",
            entity_id=user.id, payload={"username": username, "role": role},
        )  # fmt: skip
    return user


def get_user(session: Session, *, user_id: int) -> User:
    return get_row(session, User, user_id, "user")


def get_user_by_username(session: Session, *, username: str) -> User | None:
    """The user called `username`, or None (login forms must not reveal which names exist)."""
    return session.exec(select(User).where(User.username == username)).first()


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.username)))


def update_user(
    session: Session,
    *,
    user: User,
    role: str | None = None,
    is_active: bool | None = None,
    password_hash: str | None = None,
    actor: User | None,
) -> User:
    """Change a user's role, active flag or password hash (the hash itself is never logged).
    Any change ends the user's sessions in the same transaction: they log in again under the
    new terms, whether the change came from the app or the command line."""
    if role is not None:
        _check_role(role)
    with write_transaction(session):
        user = session.get(User, user.id, with_for_update=True)
        if user is None:
            raise NotFoundError("user does not exist")
        changes: dict[str, object] = {}
        if role is not None and role != user.role:
            changes["role"] = [user.role, role]
            user.role = role
        if is_active is not None and is_active != user.is_active:
            changes["is_active"] = [user.is_active, is_active]
            user.is_active = is_active
        if password_hash is not None:
            changes["password"] = "changed"
            user.password_hash = password_hash
        session.add(user)
        if changes:
            revoke_user_sessions(session, user_id=user.id)
        audit(
            session, actor=actor, action="user.update", entity_type="user", entity_id=user.id,
            payload=changes,
        )  # fmt: skip
    return user
