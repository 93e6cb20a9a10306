"""Users: only admins manage them, and an admin never locks themselves out."""

from __future__ import annotations

from annotator.policies._rules import is_admin, require_role
from fgtext.store import PermissionDeniedError, User
from fgtext.vocabulary import Role


def can_manage(user: User) -> bool:
    """Whether the user administers users and projects (the pages show admin links by it)."""
    return is_admin(user)


def require_manage(user: User) -> None:
    """Listing, creating and changing users (and the admin pages): admins only (403)."""
    require_role(user, Role.ADMIN)


def check_update(user: User, target: User, *, role: str | None, is_active: bool | None) -> None:
    """An admin may change anyone but may not deactivate or demote themselves: the last admin
    locking themselves out leaves nobody to undo it."""
    require_manage(user)
    if target.id == user.id and (is_active is False or role not in (None, Role.ADMIN)):
        raise PermissionDeniedError("admins cannot deactivate or demote themselves")
