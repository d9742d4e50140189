"""REST API for every configuration object, with the validation of ``otj config apply``.

``/api/v1/config/{section}`` lists a section (profiles, integrations, endpoint_groups,
endpoints, meeting_processing_rules, call_routing_rules, sip_proxies, sip_credentials,
virtual_receptions) and creates objects in it
(POST); ``/api/v1/config/{section}/{name}`` reads (with an ``ETag``), replaces (PUT, with
``If-Match``: 412 when someone else changed it meanwhile, 428 without it) and deletes (DELETE,
``If-Match``) one; ``/api/v1/config/gateway`` reads and replaces (``If-Match``) the gateway's
settings. Objects have the fields of the YAML format; secrets are written as in the file
and read back as references or ``stored:inline``. ``/api/v1/config/export`` is the whole
configuration as YAML (the change history is ``otj.api.audit_api``). Callers: an admin bearer
token or a console session (``otj.api.console_auth``); viewers read only. Bodies are read after
the caller is known, and capped (``BODY_LIMITS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from otj.api.console_auth import Principal, changer, reader
from otj.config.export import to_document, to_yaml
from otj.console import configedit
from otj.console.configedit import EditError, Saved

if TYPE_CHECKING:
    from otj.store import Database

Clock = Callable[[], datetime]
Section = Literal[
    "profiles",
    "integrations",
    "endpoint_groups",
    "endpoints",
    "meeting_processing_rules",
    "call_routing_rules",
    "sip_proxies",
    "sip_credentials",
    "virtual_receptions",
]
OBJECT_LIMIT = 256 * 1024
BODY_LIMITS = {
    "/api/v1/config/gateway": OBJECT_LIMIT,
    "/api/v1/config/{section}": OBJECT_LIMIT,
    "/api/v1/config/{section}/{name}": OBJECT_LIMIT,
}
"""Request body caps by route (``otj.api.limits``): one configuration object, or an order."""

_OBJECT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "The object's fields as in the YAML configuration file",
                    "additionalProperties": True,
                }
            }
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in and no admin bearer token"},
    403: {"description": "A viewer, or a session request without its CSRF token"},
}


class YamlResponse(PlainTextResponse):
    """A YAML document (RFC 9512: ``application/yaml``)."""

    media_type = "application/yaml"


class ProblemOut(BaseModel):
    """A validation problem as ``otj config apply`` reports it."""

    path: str
    line: int
    message: str
    warning: bool


class ChangeOut(BaseModel):
    """One object created, updated or deleted."""

    section: str
    name: str
    action: str
    fields: list[str]


class SavedOut(BaseModel):
    """The outcome of a write: the object now stored (none after a delete), what changed."""

    value: dict[str, Any] | None
    changes: list[ChangeOut]
    revision: int
    warnings: list[ProblemOut]


class ErrorOut(BaseModel):
    """A refused request."""

    error: str
    detail: str
    problems: list[ProblemOut] = Field(default_factory=list)


def _problem(p: Any) -> ProblemOut:
    return ProblemOut(path=p.path, line=p.line, message=p.message, warning=p.warning)


def error_response(exc: EditError) -> JSONResponse:
    """The JSON answer for a refused edit."""
    body = ErrorOut(
        error=type(exc).__name__.lower(),
        detail=str(exc),
        problems=[_problem(p) for p in exc.problems],
    )
    return JSONResponse(body.model_dump(), status_code=exc.status)


def saved_response(saved: Saved, *, status: int = 200) -> JSONResponse:
    """The JSON answer for a write, with the new ETag."""
    body = SavedOut(
        value=saved.value,
        changes=[
            ChangeOut(section=c.section, name=c.name, action=c.action, fields=list(c.fields))
            for c in saved.report.changes
        ],
        revision=saved.report.revision,
        warnings=[_problem(p) for p in saved.warnings],
    )
    headers = {"ETag": saved.etag} if saved.etag else {}
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


async def read_object(request: Request) -> dict[str, Any] | EditError:
    """The request's JSON object (call only after authentication: ``otj.api.limits``)."""
    raw = await request.body()
    try:
        value = json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return configedit.Invalid(f"the body is not JSON: {exc}")
    if not isinstance(value, dict):
        return configedit.Invalid("the body must be a JSON object with the object's fields")
    return value


def router(db: Database, *, clock: Clock, **_options: Any) -> APIRouter:
    """The configuration and audit routes."""
    api = APIRouter(tags=["configuration"])
    depends = {"may_read": Depends(reader(db, clock)), "may_change": Depends(changer(db, clock))}
    _add_document_routes(api, db, clock, **depends)
    _add_gateway_routes(api, db, clock, **depends)
    _add_section_routes(api, db, clock, **depends)
    _add_object_routes(api, db, clock, **depends)
    return api


def _add_document_routes(
    api: APIRouter, db: Database, clock: Clock, *, may_read: Any, may_change: Any
) -> None:
    """The whole configuration, as JSON and as the YAML file."""

    @api.get("/api/v1/config", summary="The whole configuration (as JSON)", responses=_ERRORS)
    def whole(who: Principal = may_read) -> dict[str, Any]:
        return to_document(db.config.snapshot(secrets="sealed"))

    @api.get(
        "/api/v1/config/export",
        summary="The whole configuration as YAML (what otj config apply accepts)",
        response_class=YamlResponse,
        responses={
            **_ERRORS,
            200: {
                "description": "The configuration file",
                "content": {
                    "application/yaml": {"schema": {"type": "object", "additionalProperties": True}}
                },
            },
        },
    )
    def export(who: Principal = may_read) -> YamlResponse:
        text = to_yaml(db.config.snapshot(secrets="sealed"))
        return YamlResponse(
            text,
            headers={"Content-Disposition": 'attachment; filename="otj-config.yaml"'},
        )


def _add_gateway_routes(
    api: APIRouter, db: Database, clock: Clock, *, may_read: Any, may_change: Any
) -> None:
    """The gateway's settings: read, and replaced with If-Match."""
    from starlette.concurrency import run_in_threadpool

    @api.get(
        "/api/v1/config/gateway",
        summary="The SIP Guest Join gateway's settings, with their ETag",
        responses=_ERRORS,
    )
    def gateway(who: Principal = may_read) -> Response:
        value = configedit.gateway(db)
        return JSONResponse(value, headers={"ETag": configedit.etag_of(value)})

    @api.put(
        "/api/v1/config/gateway",
        summary="Replace the gateway's settings (If-Match required)",
        response_model=SavedOut,
        openapi_extra=_OBJECT_BODY,
        responses={
            **_ERRORS,
            412: {"model": ErrorOut, "description": "Changed by someone else since read"},
            422: {"model": ErrorOut},
            428: {"model": ErrorOut, "description": "If-Match missing"},
        },
    )
    async def replace_gateway(
        request: Request,
        who: Principal = may_change,
        if_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        value = await read_object(request)
        if isinstance(value, EditError):
            return error_response(value)
        try:
            saved = await run_in_threadpool(
                lambda: configedit.save_gateway(
                    db, value, if_match=if_match, actor=who.name, source=who.source, now=clock()
                )
            )
        except EditError as exc:
            return error_response(exc)
        return saved_response(saved)


def _add_section_routes(
    api: APIRouter, db: Database, clock: Clock, *, may_read: Any, may_change: Any
) -> None:
    """A section's objects, and creating one."""
    from starlette.concurrency import run_in_threadpool

    @api.get("/api/v1/config/{section}", summary="A section's objects", responses=_ERRORS)
    def listing(section: Section, who: Principal = may_read) -> list[dict[str, Any]]:
        return configedit.section_objects(db, section)

    @api.post(
        "/api/v1/config/{section}",
        summary="Create an object (409 when the name is taken)",
        status_code=201,
        response_model=SavedOut,
        openapi_extra=_OBJECT_BODY,
        responses={**_ERRORS, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    )
    async def create(section: Section, request: Request, who: Principal = may_change) -> Response:
        value = await read_object(request)
        if isinstance(value, EditError):
            return error_response(value)
        name = value.get("name")
        if not isinstance(name, str) or not name.strip():
            return error_response(configedit.Invalid("an object needs a non-blank name"))
        try:
            saved = await run_in_threadpool(
                lambda: configedit.save(
                    db, section, name, value, if_match=None, create=True,
                    actor=who.name, source=who.source, now=clock(),
                )
            )  # fmt: skip
        except EditError as exc:
            return error_response(exc)
        return saved_response(saved, status=201)


def _add_object_routes(
    api: APIRouter, db: Database, clock: Clock, *, may_read: Any, may_change: Any
) -> None:
    """One object: read, replaced (If-Match) and deleted (If-Match)."""
    from starlette.concurrency import run_in_threadpool

    @api.get(
        "/api/v1/config/{section}/{name}",
        summary="One object, with its ETag",
        responses={**_ERRORS, 404: {"model": ErrorOut}},
    )
    def one(section: Section, name: str, who: Principal = may_read) -> Response:
        try:
            value = configedit.find(db, section, name)
        except EditError as exc:
            return error_response(exc)
        return JSONResponse(value, headers={"ETag": configedit.etag_of(value)})

    @api.put(
        "/api/v1/config/{section}/{name}",
        summary="Create or replace an object (If-Match required to replace)",
        response_model=SavedOut,
        openapi_extra=_OBJECT_BODY,
        responses={
            **_ERRORS,
            404: {"model": ErrorOut, "description": "Deleted by someone else meanwhile"},
            412: {"model": ErrorOut, "description": "Changed by someone else since read"},
            422: {"model": ErrorOut},
            428: {"model": ErrorOut, "description": "If-Match missing"},
        },
    )
    async def replace(
        section: Section,
        name: str,
        request: Request,
        who: Principal = may_change,
        if_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        value = await read_object(request)
        if isinstance(value, EditError):
            return error_response(value)
        try:
            saved = await run_in_threadpool(
                lambda: configedit.save(
                    db, section, name, value, if_match=if_match, create=False,
                    actor=who.name, source=who.source, now=clock(),
                )
            )  # fmt: skip
        except EditError as exc:
            return error_response(exc)
        return saved_response(saved)

    @api.delete(
        "/api/v1/config/{section}/{name}",
        summary="Delete an object (If-Match required; refused while referred to)",
        response_model=SavedOut,
        responses={
            **_ERRORS,
            404: {"model": ErrorOut},
            412: {"model": ErrorOut},
            422: {"model": ErrorOut},
            428: {"model": ErrorOut},
        },
    )
    def remove(
        section: Section,
        name: str,
        who: Principal = may_change,
        if_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        try:
            saved = configedit.delete(
                db, section, name, if_match=if_match, actor=who.name, source=who.source,
                now=clock(),
            )  # fmt: skip
        except EditError as exc:
            return error_response(exc)
        return saved_response(saved)
