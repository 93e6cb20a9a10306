"""The JSON API, mounted at /api/v1 (OpenAPI at /api/v1/openapi.json, docs at /docs)."""

from fastapi import APIRouter, Depends

from annotator.api import (
    annotations,
    assignment,
    auth,
    export,
    projects,
    quality,
    review,
    suggestions,
    users,
)
from annotator.api.models import COMMON_ERRORS, described
from annotator.deps import require_csrf

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX, responses=described(COMMON_ERRORS))
api_router.include_router(auth.router)  # login is exempt from CSRF; logout is not
# The annotation loop's routes first: a request is matched against the routes in order.
for module in (assignment, annotations, suggestions, projects, review, users, quality, export):
    api_router.include_router(module.router, dependencies=[Depends(require_csrf)])
