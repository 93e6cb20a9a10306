"""What every policy module shares: role checks and the 404 that hides what one may not see."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlmodel import Session

from fgtext import store
from fgtext.store import PermissionDeniedError, User
from fgtext.vocabulary import REVIEWING_ROLES, Role


def require_role(user: User, *roles: str) -> None:
    """403 unless the user has one of `roles`."""
    if user.role not in roles:
        raise PermissionDeniedError(
            f"this needs the role {' or '.join(roles)}; {user.username} is {user.role}"
        )


def is_admin(user: User) -> bool:
    return user.role == Role.ADMIN


def reviews(user: User) -> bool:
    """The user's role sees everyone's labels (in the projects they may see)."""
    return user.role in REVIEWING_ROLES


T = TypeVar("T")


def visible_or_404(
    session: Session, what: str, ident: int, load: Callable[..., T], may_see: Callable[[T], bool]
) -> T:
    """The `what` with id `ident` by the store's getter `load`, unless it does not exist or the
    user may not see it: both are the same 404."""
    try:
        found = load(session, **{f"{what}_id": ident})
    except store.NotFoundError:
        raise hidden(what, ident) from None
    if not may_see(found):
        raise hidden(what, ident)
    return found


def hidden(what: str, ident: object) -> store.NotFoundError:
    """A 404 for something that exists but that the user may not see: the same words as the
    store's "does not exist", so hidden and missing look alike."""
    return store.NotFoundError(f"{what} {ident} does not exist")
