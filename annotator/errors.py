"""One place that turns errors into HTTP answers: JSON `{"detail": ...}` for the API, an error
page for the browser UI, the login page for a page asked for without a session."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from annotator.deps import session_user
from annotator.media import MediaNotServable
from annotator.templating import render
from fgtext.errors import FgTextError
from fgtext.store import errors as store_errors  # the store's error classes, by name

# Most specific first: StaleVersionError is a ConflictError, all are FgTextErrors.
_STATUS_BY_ERROR: tuple[tuple[type[FgTextError], int], ...] = (
    (store_errors.NotFoundError, status.HTTP_404_NOT_FOUND),
    (MediaNotServable, status.HTTP_404_NOT_FOUND),
    (store_errors.ConflictError, status.HTTP_409_CONFLICT),
    (store_errors.PermissionDeniedError, status.HTTP_403_FORBIDDEN),
    # InvalidLabelError too
    (store_errors.InvalidInputError, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (store_errors.OutdatedDatabaseError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (store_errors.DatabaseUnavailableError, status.HTTP_503_SERVICE_UNAVAILABLE),
)


class LoginRequired(Exception):
    """A page was asked for without a valid session: go to the login page, then come back."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def is_page_request(request: Request) -> bool:
    """A request for a page (not the JSON API, media or the API docs): errors become pages."""
    path = request.url.path
    return not path.startswith(("/api/", "/media/", "/docs", "/static/"))


def login_redirect(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    target = "/login" if exc.next_url == "/" else f"/login?next={quote(exc.next_url)}"
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    user = None
    try:  # the top bar shows who is logged in, when that can be known
        with Session(request.app.state.engine, expire_on_commit=False) as session:
            user = session_user(request, session)
    except (FgTextError, SQLAlchemyError):  # e.g. the database is down: the page still renders
        user = None
    return render(
        request, "error.html", user, status_code=status_code, code=status_code, message=message
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
    if isinstance(exc, store_errors.InvalidLabelError):
        body.update(dimension=exc.dimension, value=exc.value, allowed=list(exc.allowed))
    if isinstance(exc, MediaNotServable):
        body["detail"] = "this clip's video is not available"  # never echo server paths
    return JSONResponse(body, status_code=status_for(exc))


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Pages get an HTML error page; the API keeps FastAPI's JSON `{"detail": ...}`."""
    assert isinstance(exc, StarletteHTTPException)
    if is_page_request(request) and exc.status_code >= 400:
        return error_page(request, exc.status_code, str(exc.detail))
    return await http_exception_handler(request, exc)


def _printable(part: object) -> str | int:
    """A part of an error's location as JSON can always carry it (a body's keys are input)."""
    if isinstance(part, int):
        return part
    text = str(part)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return ascii(text)
    return text


def validation_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    """Where each problem is, what it is and its type; never the `input` (it may be NaN, a lone
    surrogate or a password: FastAPI's own handler echoes it and then fails to encode it)."""
    return [
        {"loc": [_printable(p) for p in e.get("loc", ())],
         "msg": _printable(str(e.get("msg", "")).removeprefix("Value error, ")),
         "type": _printable(e.get("type", ""))}
        for e in exc.errors()
    ]  # fmt: skip


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """A 422 naming each field that was refused: JSON for the API, an error page for pages."""
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc)
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if is_page_request(request):
        message = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in errors
        )
        return error_page(request, code, message)
    return JSONResponse({"detail": errors}, status_code=code)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FgTextError, handle_fgtext_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(LoginRequired, login_redirect)
