"""`GET /docs`: the Swagger UI, served by the app (fastapi_offline's files, no CDN) and started
by a script file (`static/docs.js`) rather than the inline script FastAPI's page carries, so it
runs under the same Content-Security-Policy as every other page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from annotator.templating import templates

router = APIRouter(include_in_schema=False)
SWAGGER_STATIC = "/static-offline-docs"  # where fastapi_offline mounts the Swagger UI files


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "docs.html",
        {"title": f"{request.app.title} - Swagger UI", "openapi_url": request.app.openapi_url,
         "swagger": SWAGGER_STATIC},
    )  # fmt: skip
