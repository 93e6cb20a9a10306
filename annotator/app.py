"""The FastAPI application factory: `create_app(settings)`.

At creation the database's schema revision is checked (`fgtext.store.require_current_schema`):
an outdated database stops the app with one line naming `fgtext db upgrade --db URL`, unless
the settings allow an automatic upgrade (the embedded SQLite in development).

The app keeps nothing in process memory that another process must see: sessions, the login
throttle and the agreement cache are in the database, so `serve --workers N` runs N copies.
`create_app` with no argument reads the FGTEXT_* environment (uvicorn's factory for workers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from annotator import docs, web
from annotator.api import API_PREFIX, api_router
from annotator.api.media import router as media_router
from annotator.errors import install_error_handlers
from annotator.security import install_security_headers
from annotator.settings import Settings, load_settings
from annotator.templating import STATIC_DIR
from fgtext import store


def _version() -> str:
    try:
        return version("fgtext")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The annotator app for `settings` (default: from the FGTEXT_* environment)."""
    settings = settings or load_settings()
    # A connection for every request thread, and as many again for what runs outside them
    # (the error page's session, streamed media): no thread ever waits for the pool.
    engine = store.create_db_engine(
        settings.database_url, pool_size=settings.threads, max_overflow=settings.threads
    )
    try:
        store.require_current_schema(engine, auto_upgrade=settings.should_auto_upgrade)
    except BaseException:
        engine.dispose()
        raise

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = settings.threads
        yield
        engine.dispose()

    # FastAPIOffline: the Swagger UI page's script and styles are served by the app itself,
    # so /docs works on machines without internet access (FastAPI's default loads a CDN).
    app = FastAPIOffline(
        title="FG-Text annotator",
        version=_version(),
        description="Annotate the four fine-grained attributes of micro-gesture clips "
        "(blind, k annotators per clip), measure agreement, adjudicate, export FG-Text datasets. "
        "Log in with POST /api/v1/auth/login; every write echoes the returned csrf_token in "
        "the X-CSRF-Token header.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # annotator.docs serves /docs: its Swagger UI starts from a script file
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    install_security_headers(app)  # around every layer: every answer carries the headers
    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(media_router)
    app.include_router(web.router)
    app.include_router(docs.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    return app
