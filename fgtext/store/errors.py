"""The store's user-facing errors; the app maps them to HTTP statuses (404, 409, 422, 503)."""

from __future__ import annotations

from collections.abc import Sequence

from fgtext.errors import FgTextError


class NotFoundError(FgTextError):
    """A project, clip, user or annotation that does not exist (HTTP 404)."""


class ConflictError(FgTextError):
    """The write contradicts the stored state: a duplicate name, a clip without capacity, a
    different annotation already submitted (HTTP 409)."""


class StaleVersionError(ConflictError):
    """An edit based on an older version of the annotation than the stored one (HTTP 409)."""

    def __init__(self, message: str, *, expected: int, current: int) -> None:
        super().__init__(message)
        self.expected = expected
        self.current = current


class PermissionDeniedError(FgTextError):
    """The user may not do this (not a member of the project, not the annotation's author,
    an inactive account) (HTTP 403)."""


class InvalidInputError(FgTextError):
    """A malformed argument: an unknown role or consensus rule, k < 1, an empty reason
    (HTTP 422)."""


class InvalidLabelError(InvalidInputError):
    """A value that the project's schema does not allow (HTTP 422)."""

    def __init__(
        self, message: str, *, dimension: str, value: object, allowed: Sequence[str]
    ) -> None:
        super().__init__(message)
        self.dimension = dimension
        self.value = value
        self.allowed = tuple(allowed)


class OutdatedDatabaseError(FgTextError):
    """The database's schema revision is not the one this fgtext expects (HTTP 503 / refuse
    to start); the message names the command that upgrades it."""


class DatabaseUnavailableError(FgTextError):
    """The database URL is malformed or the server cannot be reached."""
