"""The web dashboard: `/` serves the single page, `/static/...` its assets.

Everything is shipped in the package and served from this process: the page
loads nothing from any other origin (the Content-Security-Policy says so too).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from ..api.elastic import info as elastic_info
from ..api.elastic import wants_elastic

STATIC_DIR = Path(__file__).parent / "static"

# Assets are not content-hashed, so browsers revalidate them every time; the
# ETag / Last-Modified that StaticFiles sends make that a cheap 304.
CACHE_CONTROL = "no-cache"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none';"
        " form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class DashboardFiles(StaticFiles):
    """StaticFiles with the dashboard's caching and security headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = CACHE_CONTROL
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


async def index(request: Request) -> Response:
    """GET /: the dashboard page (Elasticsearch's info document for its clients)."""
    if wants_elastic(request):
        return await elastic_info(request)
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": CACHE_CONTROL, **SECURITY_HEADERS},
    )


routes = [
    Route("/", index, methods=["GET", "HEAD"], name="dashboard"),
    Mount("/static", app=DashboardFiles(directory=STATIC_DIR), name="static"),
]
