"""The console's tools as JSON: the live preview of a meeting processing rule and the route
tester, for automation (the console's pages render the same results as HTML).

``POST /api/v1/rules/preview``: an invitation (text) through the saved rules and through them
with one rule replaced by an edited version, with each alias's dial-plan check and the edit's
problems (the messages of ``otj config apply``); nothing is written. ``GET /api/v1/route``:
what the gateway would do with a call (``otj route test`` on the stored rules).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from otj.api.config_api import ProblemOut
from otj.api.console_auth import Principal, reader
from otj.api.console_ops import PROTOCOLS, route_report
from otj.api.console_rules import INVITATION_LIMIT, run_preview
from otj.console.preview import Outcome

if TYPE_CHECKING:
    from otj.store import Database

Clock = Callable[[], datetime]
BODY_LIMITS = {"/api/v1/rules/preview": 2 * INVITATION_LIMIT}
"""Request body caps by route (``otj.api.limits``): a rule and a 1 MiB invitation."""
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in and no admin bearer token"}
}


class PreviewIn(BaseModel):
    """A rule as edited and an invitation to try it on."""

    rule: dict[str, Any] | None = Field(
        default=None, description="The rule's fields as in the YAML file (none: saved rules only)"
    )
    original: str = Field(default="", description="The edited rule's saved name (blank: new)")
    invitation: str = Field(max_length=INVITATION_LIMIT, description=".eml, .ics, text or HTML")
    kind: Literal["auto", "eml", "ics", "text", "html"] = "auto"
    subject: str = Field(default="", max_length=1000, description="For text and HTML")
    profile: str = Field(default="", description="The profile whose rules run (default: first)")


class TraceStepOut(BaseModel):
    """What one rule did."""

    rule: str
    meeting_type: str
    outcome: str
    detail: str


class OutcomeOut(BaseModel):
    """One side of the preview."""

    alias: str | None
    protocol: str
    platform: str
    rule: str | None
    listed: bool
    unlisted_reason: str
    routed_by: str | None = Field(description="The call routing rule that routes the alias")
    route_note: str
    trace: list[TraceStepOut]


class PreviewOut(BaseModel):
    """The saved rules' outcome and the edited rules' (null when the edit is invalid)."""

    profile: str
    saved: OutcomeOut | None
    edited: OutcomeOut | None
    differs: bool
    error: str = Field(description="Why there is no outcome (an unreadable invitation)")
    problems: list[ProblemOut]


class RouteStepOut(BaseModel):
    """One call routing rule's verdict."""

    rule: str
    priority: int
    outcome: str
    detail: str


class RouteOut(BaseModel):
    """What the gateway would do with the call."""

    uri: str
    routed: bool
    rule: str | None
    destination: str | None
    target_kind: str
    target: str
    admitted: bool | None
    admission: str
    caller: str
    notes: list[str]
    steps: list[RouteStepOut]


def _outcome(found: Outcome | None) -> OutcomeOut | None:
    if found is None:
        return None
    m = found.meeting
    return OutcomeOut(
        alias=m.alias, protocol=m.protocol.value, platform=m.platform.value, rule=m.rule,
        listed=m.listed, unlisted_reason=m.unlisted_reason, routed_by=found.routed_by,
        route_note=found.route_note,
        trace=[TraceStepOut(rule=t.rule, meeting_type=t.meeting_type, outcome=t.outcome,
                            detail=t.detail) for t in m.trace],
    )  # fmt: skip


def router(db: Database, *, clock: Clock, **_options: Any) -> APIRouter:
    """``POST /api/v1/rules/preview`` and ``GET /api/v1/route``."""
    api = APIRouter(tags=["console"])
    may_read = Depends(reader(db, clock))

    @api.post(
        "/api/v1/rules/preview",
        response_model=PreviewOut,
        summary="Try a rule as edited on an invitation, next to the saved rules (writes nothing)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": PreviewIn.model_json_schema()}},
            }
        },
        responses={**_ERRORS, 422: {"description": "Not a preview request"}},
    )
    async def rules_preview(request: Request, who: Principal = may_read) -> Any:
        try:  # read only now: an unknown caller's body is never read (otj.api.limits)
            wanted = PreviewIn.model_validate_json(await request.body())
        except (ValidationError, json.JSONDecodeError) as exc:
            return JSONResponse({"error": "invalid", "detail": str(exc)}, status_code=422)
        context = await run_in_threadpool(
            lambda: run_preview(
                db, wanted.rule or {}, wanted.invitation.encode("utf-8"),
                original=wanted.original, kind=wanted.kind, subject=wanted.subject,
                preview_profile=wanted.profile, now=clock(),
            )
        )  # fmt: skip
        result = context["result"]
        problems = context["problems"] if wanted.rule is not None else ()
        return PreviewOut(
            profile=context["profile"],
            saved=_outcome(result.saved) if result else None,
            edited=_outcome(result.edited) if result and wanted.rule is not None else None,
            differs=bool(result and wanted.rule is not None and result.differs),
            error=context["error"],
            problems=[
                ProblemOut(path=p.path, line=p.line, message=p.message, warning=p.warning)
                for p in problems
            ],
        )

    @api.get(
        "/api/v1/route",
        response_model=RouteOut,
        summary="What the gateway would do with a call (otj route test; sends nothing)",
        responses={**_ERRORS, 422: {"description": "A bad source address"}},
    )
    def route(
        *,
        alias: Annotated[str, Query(min_length=1, max_length=500)],
        source: Annotated[str, Query(max_length=100)] = "",
        protocol: Annotated[Literal["sip", "h323", "webrtc"], Query()] = "sip",
        registered: bool = False,
        caller: Annotated[str, Query(max_length=500)] = "",
        who: Principal = may_read,
    ) -> Any:
        report, error = route_report(
            db, alias=alias, source=source, protocol=protocol if protocol in PROTOCOLS else "sip",
            registered=registered, caller=caller,
        )  # fmt: skip
        if report is None:
            return JSONResponse({"error": "invalid", "detail": error}, status_code=422)
        return RouteOut(
            uri=report.uri, routed=report.routed, rule=report.rule,
            destination=report.destination, target_kind=report.target_kind,
            target=report.target, admitted=report.admitted, admission=report.admission,
            caller=report.caller, notes=list(report.notes),
            steps=[RouteStepOut(rule=s.rule, priority=s.priority, outcome=s.outcome,
                                detail=s.detail) for s in report.steps],
        )  # fmt: skip

    return api
