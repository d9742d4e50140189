"""``/docs``: Swagger UI for ``/openapi.json`` with its assets served from here, not a CDN.

The assets come from the ``swagger-ui-bundle-v2`` package (Swagger UI's own ``dist`` files), so
the page works on a network without internet access.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from fastapi import APIRouter, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from swagger_ui_bundle import swagger_ui_path

if TYPE_CHECKING:
    from otj.store import Database

STATIC = "/docs/static"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


@cache
def _asset(name: str) -> bytes:
    return bytes((swagger_ui_path / name).read_bytes())


def router(db: Database, *, clock: Callable[[], datetime]) -> APIRouter:
    """``GET /docs`` and its assets under ``/docs/static/``."""
    api = APIRouter()

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="otj API",
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon-32x32.png",
        )

    @api.get(STATIC + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        media = ASSETS.get(name)
        if media is None:
            return Response(status_code=404)
        return Response(
            _asset(name), media_type=media, headers={"Cache-Control": "public, max-age=86400"}
        )

    return api
