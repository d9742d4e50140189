"""The FastAPI application factory.

Every router module in ``AREAS`` exposes ``router(db, *, clock) -> APIRouter``; adding an
API area is one line here; a module's ``BODY_LIMITS`` (route path → bytes) caps the request
bodies its routes may read (``otj.api.limits``: every other route reads none). The OpenAPI
document is served at ``/openapi.json`` and Swagger UI at ``/docs`` (``otj.api.docs``, no
CDN). Admin routes depend on ``otj.api.auth.AdminAuth`` (bearer tokens made with ``otj tokens
create --admin NAME``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

import otj
from otj.api import (
    audit_api,
    calls,
    config_api,
    console_api,
    console_config,
    console_oidc,
    console_ops,
    console_pages,
    console_rules,
    docs,
    ews,
    feedback,
    home,
    metrics,
    notifications,
    panel,
    pull,
    status,
)
from otj.api.limits import BodyLimit

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

AREAS: tuple[ModuleType, ...] = (
    status,
    calls,
    pull,
    feedback,
    panel,
    home,
    docs,
    metrics,
    ews,
    notifications,
    config_api,
    audit_api,
    console_pages,
    console_config,
    console_rules,
    console_ops,
    console_api,
    console_oidc,
)
"""Modules whose ``router(db, *, clock)`` is mounted, in this order."""

ROUTERS: tuple[str, ...] = tuple(module.__name__ for module in AREAS)
"""The areas by module name (what ``create_app(routers=…, router_options=…)`` take)."""

_AREA_BY_NAME: dict[str, ModuleType] = {module.__name__: module for module in AREAS}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    db: Database,
    *,
    clock: Clock = _utc_now,
    routers: Sequence[str] = ROUTERS,
    router_options: dict[str, dict[str, Any]] | None = None,
) -> FastAPI:
    """The otj HTTP API over ``db``; ``router_options`` passes extra keyword arguments by module."""
    app = FastAPI(
        title="otj",
        version=otj.__version__,
        description=(
            "One-Touch Join: room meetings with their Join aliases, status for administrators, "
            "and the pull API for endpoints. Admin routes need `Authorization: Bearer <token>` "
            "with a token from `otj tokens create --admin NAME`."
        ),
        docs_url=None,
        redoc_url=None,
    )
    app.state.db = db
    app.state.clock = clock
    options = router_options or {}
    body_limits: dict[str, int] = {}
    for name in routers:
        module = _AREA_BY_NAME[name]
        app.include_router(module.router(db, clock=clock, **options.get(name, {})))
        body_limits.update(getattr(module, "BODY_LIMITS", {}))
    app.add_middleware(BodyLimit, limits=body_limits)

    return app
