"""One place that turns the library's errors into HTTP answers with a clear `detail`."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from annotator.media import MediaNotServable
from annotator.web import LoginRequired, error_page, http_error, is_page_request, login_redirect
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


async def handle_fgtext_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FgTextError)
    if is_page_request(request):
        message = str(exc)
        if isinstance(exc, MediaNotServable):
            message = "this clip's video is not available"
        return error_page(request, status_for(exc), message)
    body: dict[str, object] = {"detail": str(exc)}
    if isinstance(exc, InvalidLabelError):
        body.update(dimension=exc.dimension, value=exc.value, allowed=list(exc.allowed))
    if isinstance(exc, MediaNotServable):
        body["detail"] = "this clip's video is not available"  # never echo server paths
    return JSONResponse(body, status_code=status_for(exc))


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Pages get an HTML error page; the API keeps FastAPI's JSON `{"detail": ...}`."""
    assert isinstance(exc, StarletteHTTPException)
    if is_page_request(request) and exc.status_code >= 400:
        return http_error(request, exc)
    return await http_exception_handler(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FgTextError, handle_fgtext_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(LoginRequired, login_redirect)
