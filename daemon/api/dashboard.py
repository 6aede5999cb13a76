"""GET /dashboard: one page, shipped in the package, that shows the daemon live.

The page holds no data: it reads the control API (and its event stream) with the caller's
token, so it works offline, headless, and behind the same guard as the tray. It is served
only to the daemon's own origin: no CORS, and no framing by other pages.
"""

from __future__ import annotations

import functools
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter(tags=["Control"])
FILES = resources.files("roundhouse.daemon.api") / "dashboard_files"
TYPES = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


@functools.cache
def _read(name: str) -> bytes:
    return (FILES / name).read_bytes()


def _file(name: str) -> Response:
    return Response(_read(name), media_type=TYPES[name], headers=HEADERS)


@router.get("/dashboard", summary="The live dashboard (open it in a browser)", include_in_schema=True)
async def page() -> Response:
    return _file("index.html")


@router.get("/dashboard/dashboard.js", include_in_schema=False)
async def script() -> Response:
    return _file("dashboard.js")


@router.get("/dashboard/dashboard.css", include_in_schema=False)
async def style() -> Response:
    return _file("dashboard.css")
