"""Console pages for every configuration object: list, create, edit, delete; rules also
reorder and enable/disable.

Each form posts to the console, which saves through ``otj.console.configedit`` (the validation
and messages of ``otj config apply``, the audit log, and the object's ETag from the form as
``If-Match``: a concurrent edit is refused and the form says so). Viewers see the forms
read-only and every change they post is refused (403).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from otj.api.console_auth import Principal
from otj.api.console_web import form_csrf_ok, page_user, refused, render, sign_in_redirect
from otj.config.yamlsrc import Problem
from otj.console import configedit
from otj.console.configedit import SECTIONS, EditError
from otj.console.forms import TITLES, form_fields, form_values, object_from_form, settings_from_yaml

if TYPE_CHECKING:
    from otj.store import Database

Clock = Callable[[], datetime]
FORM_LIMIT = 512 * 1024
BODY_LIMITS = {
    "/console/config/gateway": FORM_LIMIT,
    "/console/config/{section}": FORM_LIMIT,
    "/console/config/{section}/{name}": FORM_LIMIT,
    "/console/config/{section}/{name}/{action}": 4096,
}
"""Request body caps by route (``otj.api.limits``): one object's form, or a button's."""
RULES = ("meeting_processing_rules", "call_routing_rules")
COLUMNS = {
    "profiles": ("integration", "start_buffer", "display_upcoming_meetings", "time_zone"),
    "integrations": ("type",),
    "endpoint_groups": ("profile",),
    "endpoints": ("room_resource_email", "type", "group"),
    "meeting_processing_rules": ("priority", "meeting_type", "profile", "enabled"),
    "call_routing_rules": ("priority", "match_string", "sip_proxy", "enabled"),
    "sip_proxies": ("address", "port", "transport"),
    "sip_credentials": ("username", "realm"),
    "virtual_receptions": ("aliases", "calendar_join", "attempts"),
}


class ConfigPages:
    """The configuration pages: the overview, the gateway settings, each section's list and
    each object's editor, and the actions on rules (delete, toggle, reorder)."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._user = page_user(db, clock)

    def _editor(
        self,
        who: Principal,
        section: str,
        *,
        original: str,
        value: dict[str, Any] | None,
        etag: str,
        problems: tuple[Problem, ...] = (),
        message: str = "",
        status: int = 200,
    ) -> Response:
        profiles = [p["name"] for p in configedit.section_objects(self._db, "profiles")]
        return render(
            "object.html", who, active=section if section in RULES else "config",
            section=section, title=TITLES[section], fields=form_fields(section),
            values=form_values(section, value), original=original, etag=etag,
            problems=problems, message=message, status=status, profiles=profiles,
            preview=section == "meeting_processing_rules", examples=_examples(),
            rooms=self._db.rooms.names() if section == "meeting_processing_rules" else [],
        )  # fmt: skip

    def overview(self, request: Request) -> Response:
        who = self._user(request)
        if who is None:
            return sign_in_redirect(request)
        counts = {s: len(configedit.section_objects(self._db, s)) for s in SECTIONS}
        return render(
            "config.html", who, active="config", sections=SECTIONS, titles=TITLES, counts=counts,
            saved=request.query_params.get("saved", ""),
        )  # fmt: skip

    def _gateway_page(
        self,
        who: Principal, *, text: str, etag: str, problems: tuple[Problem, ...] = (),
        message: str = "", status: int = 200,
    ) -> Response:  # fmt: skip
        return render(
            "gateway.html", who, active="config", text=text, etag=etag, problems=problems,
            message=message, status=status,
        )  # fmt: skip

    def gateway(self, request: Request) -> Response:
        who = self._user(request)
        if who is None:
            return sign_in_redirect(request)
        value = configedit.gateway(self._db)
        text = yaml.safe_dump(value, sort_keys=False, allow_unicode=True) if value else ""
        return self._gateway_page(who, text=text, etag=configedit.etag_of(value))

    async def save_gateway(self, request: Request) -> Response:
        who, form, refusal = await self._changer(request)
        if refusal is not None or who is None:
            return refusal or sign_in_redirect(request)
        text, etag = str(form.get("settings") or ""), str(form.get("etag") or "") or None
        problems: list[str] = []
        value = settings_from_yaml(text, problems)
        if problems:
            found = tuple(Problem(path="gateway", line=0, message=m) for m in problems)
            return self._gateway_page(
                who, text=text, etag=etag or "", problems=found, status=422,
                message="The settings are not valid YAML.",
            )  # fmt: skip
        try:
            await run_in_threadpool(
                lambda: configedit.save_gateway(
                    self._db,
                    value,
                    if_match=etag,
                    actor=who.name,
                    source="console",
                    now=self._clock(),
                )
            )
        except EditError as exc:
            return self._gateway_page(
                who, text=text, etag=etag or "", problems=exc.problems, message=str(exc),
                status=exc.status,
            )  # fmt: skip
        return RedirectResponse("/console/config?saved=gateway", status_code=303)

    def listing(self, request: Request, section: str) -> Response:
        who = self._user(request)
        if who is None:
            return sign_in_redirect(request)
        if section not in SECTIONS:
            return refused(who, f"There is no configuration section {section!r}.")
        objects = configedit.section_objects(self._db, section)
        if section in RULES:
            objects.sort(key=lambda o: (o.get("priority", 100), o["name"]))
        tags = {o["name"]: configedit.etag_of(o) for o in objects}
        return render(
            "objects.html", who, active=section if section in RULES else "config",
            section=section, title=TITLES[section], objects=objects, columns=COLUMNS[section],
            rules=section in RULES, tags=tags, saved=request.query_params.get("saved", ""),
        )  # fmt: skip

    def edit(self, request: Request, section: str, name: str) -> Response:
        who = self._user(request)
        if who is None:
            return sign_in_redirect(request)
        if section not in SECTIONS:
            return refused(who, f"There is no configuration section {section!r}.")
        if name == "+new":
            return self._editor(who, section, original="", value=None, etag="")
        try:
            value = configedit.find(self._db, section, name)
        except EditError as exc:
            return refused(who, str(exc))
        return self._editor(
            who, section, original=name, value=value, etag=configedit.etag_of(value)
        )

    async def _changer(self, request: Request) -> tuple[Principal | None, Any, Response | None]:
        """The signed-in admin and the posted form, or the answer refusing them."""
        who = self._user(request)
        if who is None:
            return None, None, sign_in_redirect(request)
        if not who.may_change:
            return (
                who,
                None,
                refused(who, f"{who.name} is a viewer: viewers cannot change anything."),
            )
        form = await request.form()
        if not form_csrf_ok(who, form):
            return who, None, refused(who, "The form carried no valid CSRF token; reload the page.")
        return who, form, None

    async def save(self, request: Request, section: str, name: str) -> Response:
        who, form, refusal = await self._changer(request)
        if refusal is not None or who is None:
            return refusal or sign_in_redirect(request)
        if section not in SECTIONS:
            return refused(who, f"There is no configuration section {section!r}.")
        value, form_problems = object_from_form(section, form)
        create = name == "+new"
        target = str(value.get("name", "")) if create else name
        etag = str(form.get("etag", "")) or None
        problems = tuple(Problem(path="settings", line=0, message=m) for m in form_problems)
        if not problems:
            try:
                await run_in_threadpool(
                    lambda: configedit.save(
                        self._db, section, target, value, if_match=etag, create=create,
                        actor=who.name, source="console", now=self._clock(),
                    )
                )  # fmt: skip
            except EditError as exc:
                return self._editor(
                    who, section, original="" if create else name, value=value,
                    etag=etag or "", problems=exc.problems, message=str(exc),
                    status=exc.status,
                )  # fmt: skip
            return RedirectResponse(f"/console/config/{section}?saved={target}", status_code=303)
        return self._editor(
            who, section, original="" if create else name, value=value, etag=etag or "",
            problems=problems, message="The settings are not valid YAML.", status=422,
        )  # fmt: skip

    async def act(self, request: Request, section: str, name: str, action: str) -> Response:
        who, form, refusal = await self._changer(request)
        if refusal is not None or who is None:
            return refusal or sign_in_redirect(request)
        etag = str(form.get("etag", "")) or None
        now = self._clock()
        try:
            if action == "delete":
                configedit.delete(
                    self._db,
                    section,
                    name,
                    if_match=etag,
                    actor=who.name,
                    source="console",
                    now=now,
                )
            elif action == "toggle" and section in RULES:
                value = configedit.find(self._db, section, name)
                configedit.save(
                    self._db, section, name, {**value, "enabled": not value.get("enabled", True)},
                    if_match=etag, create=False, actor=who.name, source="console", now=now,
                )  # fmt: skip
            elif action in ("up", "down") and section in RULES:
                order = [
                    o["name"]
                    for o in sorted(
                        configedit.section_objects(self._db, section),
                        key=lambda o: (o.get("priority", 100), o["name"]),
                    )
                ]
                at = order.index(name) if name in order else -1
                swap = at - 1 if action == "up" else at + 1
                if at >= 0 and 0 <= swap < len(order):
                    order[at], order[swap] = order[swap], order[at]
                    configedit.reorder(
                        self._db, section, order, actor=who.name, source="console", now=now
                    )
            else:
                return refused(who, f"Unknown action {action!r}.")
        except EditError as exc:
            problems = "; ".join(p.message for p in exc.problems)
            return refused(who, f"{exc}{': ' + problems if problems else ''}")
        return RedirectResponse(f"/console/config/{section}?saved={name}", status_code=303)


def router(db: Database, *, clock: Clock, **_options: Any) -> APIRouter:
    """The configuration pages."""
    api = APIRouter(include_in_schema=False)
    routes = ConfigPages(db, clock=clock)
    api.get("/console/config")(routes.overview)
    api.get("/console/config/gateway")(routes.gateway)
    api.post("/console/config/gateway")(routes.save_gateway)
    api.get("/console/config/{section}")(routes.listing)
    api.get("/console/config/{section}/{name}")(routes.edit)
    api.post("/console/config/{section}/{name}")(routes.save)
    api.post("/console/config/{section}/{name}/{action}")(routes.act)
    return api


def _examples() -> list[str]:
    from otj.commands.rules import bundled_invitations

    return bundled_invitations()
