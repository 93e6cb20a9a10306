"""One place that turns the library's errors into HTTP answers with a clear `detail`."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from annotator.media import MediaNotServable
from fgtext.errors import FgTextError
from fgtext.store import (
    ConflictError,
    DatabaseUnavailableError,
    InvalidInputError,
    InvalidLabelError,
    NotFoundError,
    OutdatedDatabaseError,
    PermissionDeniedError,
)

# Most specific first: StaleVersionError is a ConflictError, all are FgTextErrors.
_STATUS_BY_ERROR: tuple[tuple[type[FgTextError], int], ...] = (
    (NotFoundError, status.HTTP_404_NOT_FOUND),
    (MediaNotServable, status.HTTP_404_NOT_FOUND),
    (ConflictError, status.HTTP_409_CONFLICT),
    (PermissionDeniedError, status.HTTP_403_FORBIDDEN),
    (InvalidInputError, status.HTTP_422_UNPROCESSABLE_CONTENT),  # InvalidLabelError too
    (OutdatedDatabaseError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (DatabaseUnavailableError, status.HTTP_503_SERVICE_UNAVAILABLE),
)


def status_for(exc: FgTextError) -> int:
    for error_type, code in _STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            return code
    return status.HTTP_400_BAD_REQUEST  # any other FgTextError is a mistake in the request


async def handle_fgtext_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FgTextError)
    body: dict[str, object] = {"detail": str(exc)}
    if isinstance(exc, InvalidLabelError):
        body.update(dimension=exc.dimension, value=exc.value, allowed=list(exc.allowed))
    if isinstance(exc, MediaNotServable):
        body["detail"] = "this clip's video is not available"  # never echo server paths
    return JSONResponse(body, status_code=status_for(exc))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FgTextError, handle_fgtext_error)
