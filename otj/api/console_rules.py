"""The live preview of a meeting processing rule being edited (``POST /console/preview``).

The rule form's fields are posted as they are (before saving) with an invitation: pasted text
(.eml, .ics, plain text or HTML), an uploaded file, or one of the bundled examples. The answer
is an HTML fragment: the alias, platform, rule and trace for the saved rules and for the rules
with this edit, side by side, the dial-plan check of each alias, and the edit's problems with
the messages of ``otj config apply``. Nothing is written. The console's JavaScript posts the form
as it changes, with the session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from calendars.base import CalendarEvent
from otj.api.console_auth import CSRF_HEADER, Principal, csrf_ok
from otj.api.console_web import page_user, render
from otj.config import validate
from otj.config.yamlsrc import Located, Problem
from otj.console.forms import object_from_form
from otj.console.preview import KINDS, Preview, event_from_upload, preview
from otj.console.roomevents import RoomEvents, RoomEventsError, SourceFactory
from otj.invitation import InvitationError
from otj.model import MeetingRule, Profile

if TYPE_CHECKING:
    from otj.store import Database

Clock = Callable[[], datetime]
INVITATION_LIMIT = 1024 * 1024
BODY_LIMITS = {"/console/preview": 2 * INVITATION_LIMIT}
"""Request body caps by route (``otj.api.limits``): a rule's form and a 1 MiB invitation."""
SECTION = "meeting_processing_rules"


async def invitation_bytes(form: Mapping[str, Any]) -> tuple[bytes, str]:
    """The uploaded file, else the pasted text, else a bundled example: (bytes, where)."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        return await upload.read(INVITATION_LIMIT + 1), upload.filename
    pasted = form.get("invitation")
    if isinstance(pasted, str) and pasted.strip():
        return pasted.encode("utf-8"), "the pasted invitation"
    if form.get("room") and form.get("event"):
        return b"", ""  # a meeting of a room (read from its calendar by the caller)
    example = str(form.get("example") or "")
    from otj.commands.rules import bundled_invitations

    if example in bundled_invitations():
        return files("otj.examples").joinpath(example).read_bytes(), example
    return b"", ""


def run_preview(
    db: Database,
    value: Mapping[str, Any],
    raw: bytes,
    *,
    original: str,
    kind: str,
    subject: str,
    preview_profile: str,
    now: datetime,
    event: CalendarEvent | None = None,
) -> dict[str, Any]:
    """Everything the preview shows for a rule object (``value``, as in the YAML file) being
    edited (``original``: its saved name, blank for a new rule), reading the stored rules."""
    from otj.console.cache import config_cache

    existing = config_cache(db).snapshot()
    checked = validate(
        Located(data={SECTION: [value]}, source=SECTION), (), existing=existing, now=now
    )
    edited: MeetingRule | None = None
    if checked.configuration is not None:
        edited = checked.configuration.meeting_processing_rules[0]
    profiles = {p.name: p for p in existing.profiles}
    wanted = str(value.get("profile") or preview_profile or "")
    profile = profiles.get(wanted) or next(iter(profiles.values()), Profile(name="preview"))
    context: dict[str, Any] = {
        # the edited rule's problems (warnings about stored rules belong to their own pages)
        "problems": tuple(
            p for p in checked.problems if "(stored, not in this file)" not in p.message
        ),
        "profile": profile.name,
        "result": None,
        "error": "",
    }
    if event is None and not raw:
        context["error"] = (
            "Paste or upload an invitation, pick an example or a room's meeting, to see a preview."
        )
        return context
    if len(raw) > INVITATION_LIMIT:
        context["error"] = f"The invitation is larger than {INVITATION_LIMIT // 1024} KiB."
        return context
    if event is None:
        try:
            event = event_from_upload(
                raw, kind=kind if kind in KINDS else "auto", subject=subject, now=now
            )
        except InvitationError as exc:
            context["error"] = f"The invitation cannot be read: {exc}"
            return context
    result: Preview = preview(
        event,
        saved_rules=existing.meeting_processing_rules,
        edited=edited,
        original=original,
        profile=profile,
        routing=existing.call_routing_rules,
        now=now,
    )
    context["result"] = result
    return context


def router(
    db: Database, *, clock: Clock, source_factory: SourceFactory | None = None, **_options: Any
) -> APIRouter:
    """``POST /console/preview`` and ``GET /console/preview/events`` (a room's meetings, read
    from its calendar with ``source_factory``: the worker's calendar sources by default)."""
    api = APIRouter(include_in_schema=False)
    user = page_user(db, clock)
    rooms = RoomEvents(db, source_factory=source_factory)

    def room_profile(room: str) -> str:
        from otj.console.cache import config_cache

        found = (a for a in config_cache(db).assignments() if a.room == room.strip().lower())
        return next((a.profile.name for a in found), "")

    @api.get("/console/preview/events")
    def room_events(request: Request, room: str = "") -> Response:
        who = user(request)
        if who is None:
            return Response("sign in again", status_code=401)
        try:
            events = rooms.events(room, now=clock())
        except RoomEventsError as exc:
            return render("events.html", who, events=(), error=str(exc), status=404)
        return render("events.html", who, events=events, error="")

    @api.post("/console/preview")
    async def live_preview(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        who: Principal | None = user(request)
        if who is None:
            return Response("sign in again", status_code=401)
        if not csrf_ok(who, request.headers.get(CSRF_HEADER)):
            return Response(f"missing or wrong {CSRF_HEADER}", status_code=403)
        started = time.perf_counter()
        form = await request.form(max_part_size=INVITATION_LIMIT + 1)
        raw, where = await invitation_bytes(form)
        event: CalendarEvent | None = None
        profile_name = str(form.get("preview_profile") or "")
        room, event_id = str(form.get("room") or ""), str(form.get("event") or "")
        if not raw and room and event_id:
            try:
                event = await run_in_threadpool(rooms.event, room, event_id, now=clock())
            except RoomEventsError as exc:
                return Response(str(exc), status_code=404)
            if event is None:
                return Response("the meeting is not in the room's calendar any more", 404)
            where = f"{room}: {event.subject or '(no subject)'}"
            profile_name = room_profile(room)
        value, _ = object_from_form(SECTION, form)
        context = await run_in_threadpool(
            lambda: run_preview(
                db, value, raw, original=str(form.get("original") or ""),
                kind=str(form.get("kind") or "auto"), subject=str(form.get("subject") or ""),
                preview_profile=profile_name, now=clock(), event=event,
            )
        )  # fmt: skip
        elapsed = round((time.perf_counter() - started) * 1000)
        problems: tuple[Problem, ...] = context.pop("problems")
        return render(
            "preview.html", who, where=where, elapsed=elapsed,
            errors=[p for p in problems if not p.warning],
            warnings=[p for p in problems if p.warning], **context,
        )  # fmt: skip

    return api
