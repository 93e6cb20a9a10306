"""Rendering the browser UI's pages: the Jinja2 templates (`annotator/templates`) and where the
CSS and JS are (the checkout's top-level `static/`, shipped in the wheel as `annotator/static/`;
no build step). Used by the pages (`annotator.web`) and the error pages (`annotator.errors`)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from annotator import policies
from annotator.auth import csrf_token
from fgtext.schema import DIMENSIONS
from fgtext.store import User
from fgtext.vocabulary import ROLES

HERE = Path(__file__).parent


def _static_dir() -> Path:
    """The CSS and JS: inside the installed package, else the checkout's top-level `static/`."""
    for candidate in (HERE / "static", HERE.parent / "static"):
        if (candidate / "app.css").is_file():
            return candidate
    raise RuntimeError(  # pragma: no cover - a broken installation
        f"the annotator's static files are missing (looked in {HERE / 'static'} and "
        f"{HERE.parent / 'static'}); reinstall fgtext"
    )


STATIC_DIR = _static_dir()


def static_url(path: str) -> str:
    """A static file's URL: relative (never built from the request's Host header) and with its
    content's hash, so browsers may cache it and still fetch a changed file."""
    stat = (STATIC_DIR / path).stat()
    return f"/static/{path}?v={_content_hash(path, stat.st_mtime_ns, stat.st_size)}"


@lru_cache(maxsize=256)
def _content_hash(path: str, _mtime_ns: int, _size: int) -> str:
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]


templates = Jinja2Templates(directory=HERE / "templates")
# What the pages show by role is asked of the policies, as everything else is.
templates.env.globals.update(
    DIMENSIONS=DIMENSIONS, ROLES=ROLES, administers=policies.users.can_manage,
    reviews=policies.reviews, static_url=static_url,
)  # fmt: skip
templates.env.filters["label"] = lambda value: str(value).replace("_", " ")


def render(
    request: Request, template: str, user: User | None = None, status_code: int = 200, **context
) -> HTMLResponse:
    """A page for `user` (None: logged out), with the session's CSRF token for its writes."""
    return templates.TemplateResponse(
        request,
        template,
        {"user": user, "csrf_token": csrf_token(request), **context},
        status_code=status_code,
    )
