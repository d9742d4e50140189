"""``/api/v1/audit``: the configuration's change history (every change made by the console,
the API or ``otj config apply``: who, when, through what, and the diff of the YAML export)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from otj.api.config_api import ErrorOut
from otj.api.console_auth import Principal, reader

if TYPE_CHECKING:
    from otj.store import Database

Clock = Callable[[], datetime]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in and no admin bearer token"},
}


class AuditOut(BaseModel):
    """One configuration change."""

    id: int
    at: datetime
    actor: str
    source: str = Field(description="console, api or cli (otj config apply)")
    summary: str
    revision: int
    diff: str | None = Field(default=None, description="Unified diff of the YAML export")


def audit_out(entry: Any, *, diff: bool) -> AuditOut:
    """The API form of an audit entry."""
    return AuditOut(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        source=entry.source,
        summary=entry.summary,
        revision=entry.revision,
        diff=entry.diff if diff else None,
    )


def router(db: Database, *, clock: Clock, **_options: Any) -> APIRouter:
    """The audit routes."""
    api = APIRouter(tags=["configuration"])
    may_read = Depends(reader(db, clock))

    @api.get(
        "/api/v1/audit",
        response_model=list[AuditOut],
        summary="Configuration changes, newest first",
        responses=_ERRORS,
    )
    def audit(who: Principal = may_read) -> list[AuditOut]:
        return [audit_out(e, diff=False) for e in db.audit.recent(limit=200)]

    @api.get(
        "/api/v1/audit/{entry}",
        response_model=AuditOut,
        summary="One configuration change with its diff",
        responses={**_ERRORS, 404: {"model": ErrorOut}},
    )
    def audit_entry(
        entry: Annotated[int, Path(ge=1, le=2**31 - 1)], who: Principal = may_read
    ) -> Any:
        found = db.audit.get(entry)
        if found is None:
            return JSONResponse(
                {"error": "notfound", "detail": f"no audit entry {entry}", "problems": []},
                status_code=404,
            )
        return audit_out(found, diff=True)

    return api
