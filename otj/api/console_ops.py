"""Console pages for operations: the route tester, calls, alarms (acknowledge) and the history.

``/console/route`` runs ``otj route test`` on the stored call routing rules (alias, source,
protocol, registered): the matching rule, the destination and the target. ``/console/calls``
shows live calls grouped by external conference and the history with causes, read from the
store's call detail records. ``/console/alarms`` lists alarms; an admin acknowledges one (also
``POST /api/v1/alarms/{id}/acknowledge``). ``/console/history`` is the audit log with diffs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from otj.api.console_auth import Principal, changer
from otj.api.console_web import form_csrf_ok, page_user, refused, render, sign_in_redirect
from otj.config.yamlsrc import YamlError

if TYPE_CHECKING:
    from otj.store import Database

Clock = Callable[[], datetime]
PageUser = Callable[[Request], Principal | None]
"""The signed-in administrator of a page request (``page_user``)."""
BODY_LIMITS = {"/console/alarms/{alarm}/acknowledge": 4096}
"""Request body caps by route (``otj.api.limits``): the acknowledge button's form."""
PROTOCOLS = ("sip", "h323", "webrtc")


class AcknowledgedOut(BaseModel):
    """An acknowledged alarm."""

    id: int
    acknowledged_at: datetime
    acknowledged_by: str


def route_report(
    db: Database, *, alias: str, source: str, protocol: str, registered: bool, caller: str
) -> tuple[Any, str]:
    """``otj route test`` on the stored rules: (the report, or an error message)."""
    from guestjoin.config import GatewayConfig
    from otj.config.routetest import explain_route

    stored = db.config.snapshot(secrets="sealed")
    config = GatewayConfig(
        rules=stored.call_routing_rules,
        proxies=stored.sip_proxies,
        settings=stored.gateway or GatewayConfig().settings,
        endpoints=stored.endpoints,
        receptions=stored.virtual_receptions,
    )
    try:
        return explain_route(
            alias, config, from_uri=caller, source=source, registered=registered,
            protocol=protocol if protocol in PROTOCOLS else "sip",  # type: ignore[arg-type]
        ), ""  # fmt: skip
    except (ValueError, YamlError) as exc:
        return None, str(exc)


def router(db: Database, *, clock: Clock, **_options: Any) -> APIRouter:
    """The operations pages and the acknowledge API."""
    api = APIRouter()
    user = page_user(db, clock)
    _add_operations_pages(api, db, user)
    _add_acknowledge_routes(api, db, clock, user, Depends(changer(db, clock)))
    _add_history_pages(api, db, user)
    return api


def _add_operations_pages(api: APIRouter, db: Database, user: PageUser) -> None:
    """The route test, calls and alarms pages."""

    @api.get("/console/route", include_in_schema=False)
    def route(
        request: Request,
        *,
        alias: Annotated[str, Query(max_length=500)] = "",
        source: Annotated[str, Query(max_length=100)] = "",
        protocol: Annotated[str, Query(max_length=10)] = "sip",
        registered: bool = False,
        caller: Annotated[str, Query(max_length=500)] = "",
    ) -> Response:
        who = user(request)
        if who is None:
            return sign_in_redirect(request)
        report, error = (None, "")
        if alias.strip():
            report, error = route_report(
                db, alias=alias.strip(), source=source.strip(), protocol=protocol,
                registered=registered, caller=caller.strip(),
            )  # fmt: skip
        return render(
            "route.html", who, active="route", alias=alias, source=source, protocol=protocol,
            registered=registered, caller=caller, report=report, error=error,
            protocols=PROTOCOLS,
        )  # fmt: skip

    @api.get("/console/calls", include_in_schema=False)
    def calls(request: Request) -> Response:
        who = user(request)
        if who is None:
            return sign_in_redirect(request)
        live = db.calls.live()
        groups: dict[str, list[Any]] = {}
        for call in live:
            groups.setdefault(
                call.conference or call.routed_alias or call.dialled_alias, []
            ).append(call)
        history = [c for c in db.calls.recent(limit=200) if not c.live]
        return render("calls.html", who, active="calls", groups=groups, history=history)

    @api.get("/console/alarms", include_in_schema=False)
    def alarms(request: Request) -> Response:
        who = user(request)
        if who is None:
            return sign_in_redirect(request)
        active = db.alarms.active()
        cleared = [a for a in db.alarms.recent(limit=100) if not a.active]
        return render("alarms.html", who, active="alarms", alarms=active, cleared=cleared)


def _add_acknowledge_routes(
    api: APIRouter, db: Database, clock: Clock, user: PageUser, may_change: Any
) -> None:
    """Acknowledging an alarm: the console's form and the API."""

    @api.post("/console/alarms/{alarm}/acknowledge", include_in_schema=False)
    async def acknowledge_form(
        request: Request, alarm: Annotated[int, Path(ge=1, le=2**31 - 1)]
    ) -> Response:
        who = user(request)
        if who is None:
            return sign_in_redirect(request)
        if not who.may_change:
            return refused(who, f"{who.name} is a viewer: viewers cannot change anything.")
        if not form_csrf_ok(who, await request.form()):
            return refused(who, "The form carried no valid CSRF token; reload the page.")
        if db.alarms.acknowledge(alarm, by=who.name, now=clock()) is None:
            return refused(who, f"There is no alarm {alarm}.")
        return RedirectResponse("/console/alarms", status_code=303)

    @api.post(
        "/api/v1/alarms/{alarm}/acknowledge",
        tags=["status"],
        summary="Acknowledge an alarm (it stays active until its cause clears)",
        response_model=AcknowledgedOut,
        responses={
            401: {"description": "Not signed in and no admin bearer token"},
            403: {"description": "A viewer, or a session request without its CSRF token"},
            404: {"description": "No such alarm"},
        },
    )
    def acknowledge(
        alarm: Annotated[int, Path(ge=1, le=2**31 - 1)], who: Principal = may_change
    ) -> Any:
        found = db.alarms.acknowledge(alarm, by=who.name, now=clock())
        if found is None or found.acknowledged_at is None:
            return JSONResponse(
                {"error": "not_found", "detail": f"no alarm {alarm}"}, status_code=404
            )
        return AcknowledgedOut(
            id=found.id,
            acknowledged_at=found.acknowledged_at,
            acknowledged_by=found.acknowledged_by,
        )


def _add_history_pages(api: APIRouter, db: Database, user: PageUser) -> None:
    """The audit history and one entry's diff."""

    @api.get("/console/history", include_in_schema=False)
    def history(request: Request) -> Response:
        who = user(request)
        if who is None:
            return sign_in_redirect(request)
        return render("history.html", who, active="history", entries=db.audit.recent(limit=200))

    @api.get("/console/history/{entry}", include_in_schema=False)
    def history_entry(
        request: Request, entry: Annotated[int, Path(ge=1, le=2**31 - 1)]
    ) -> Response:
        who = user(request)
        if who is None:
            return sign_in_redirect(request)
        found = db.audit.get(entry)
        if found is None:
            return refused(who, f"There is no history entry {entry}.")
        return render("history_entry.html", who, active="history", entry=found)
