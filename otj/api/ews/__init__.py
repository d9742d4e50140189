"""An emulated Exchange server for Poly endpoints: EWS at ``/EWS/Exchange.asmx``, POX
Autodiscover at ``/autodiscover/autodiscover.xml``.

A Poly endpoint's calendaring service is pointed at otj as if it were Exchange, with one
``POLY`` endpoint's credentials (HTTP Basic; serve it over TLS), and reads its room's meetings
with the Join alias as a SIP URI. The credentials are checked from the headers alone, before
any of the body is read; a body over ``MAX_BODY`` is refused (413). Basic credentials are only
taken over HTTPS: a plain-HTTP request from anywhere but the host itself (a reverse proxy there
that terminates TLS) is refused with 403 before its credentials are looked at; a proxy on
another host must set ``X-Forwarded-Proto`` and be in uvicorn's ``FORWARDED_ALLOW_IPS``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import anyio
from fastapi import APIRouter, Request, Response

from otj.api.ews.service import EwsService, Reply
from otj.api.ews.soap import XML_MEDIA_TYPE

if TYPE_CHECKING:
    from otj.model import Endpoint
    from otj.store import Database

MAX_BODY = 256 * 1024
"""Largest request body read (EWS requests of a calendar client are a few KB)."""
CHALLENGE = {"WWW-Authenticate": 'Basic realm="otj Exchange", charset="UTF-8"'}
EWS_PATHS = ("/EWS/Exchange.asmx", "/ews/exchange.asmx")
AUTODISCOVER_PATHS = ("/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml")
BODY_LIMITS = dict.fromkeys(EWS_PATHS + AUTODISCOVER_PATHS, MAX_BODY)
"""Read by :mod:`otj.api.limits`: every other route reads no body."""


async def capped_body(request: Request, limit: int = MAX_BODY) -> bytes | None:
    """The request body, or None when it is (or announces to be) longer than ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def over_tls(request: Request) -> bool:
    """Whether the request came over HTTPS, or from the host itself (a local TLS proxy)."""
    if request.url.scheme == "https":
        return True
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _plain_http() -> Response:
    return Response(
        b"Exchange credentials are only accepted over HTTPS",
        status_code=403,
        media_type="text/plain",
    )


def _xml(reply: Reply) -> Response:
    return Response(reply.body, status_code=reply.status, media_type=XML_MEDIA_TYPE)


def router(db: Database, *, clock: Callable[[], datetime]) -> APIRouter:
    """The EWS and Autodiscover routes."""
    api = APIRouter(tags=["ews"])
    service = EwsService(db, clock=clock)

    async def admitted(request: Request) -> tuple[Endpoint, bytes] | Response:
        """The caller's endpoint and the request body, or the refusal: HTTPS only, credentials
        checked before the body is read, the body capped."""
        if not over_tls(request):
            return _plain_http()
        endpoint = await anyio.to_thread.run_sync(
            service.authenticate, request.headers.get("authorization")
        )
        if endpoint is None:
            return Response(status_code=401, headers=CHALLENGE)
        body = await capped_body(request)
        if body is None:
            return Response(status_code=413)
        return endpoint, body

    async def exchange(request: Request) -> Response:
        caller = await admitted(request)
        if isinstance(caller, Response):
            return caller
        endpoint, body = caller
        return _xml(await anyio.to_thread.run_sync(service.answer, endpoint, body))

    async def autodiscover(request: Request) -> Response:
        caller = await admitted(request)
        if isinstance(caller, Response):
            return caller
        endpoint, body = caller
        ews_url = str(request.url.replace(path=EWS_PATHS[0], query=""))
        reply = await anyio.to_thread.run_sync(
            lambda: service.autodiscover(endpoint, body, ews_url=ews_url)
        )
        return _xml(reply)

    for path in EWS_PATHS:
        api.add_api_route(
            path,
            exchange,
            methods=["POST"],
            include_in_schema=False,
            summary="Exchange Web Services for Poly endpoints (their room's calendar)",
        )
    for path in AUTODISCOVER_PATHS:
        api.add_api_route(
            path,
            autodiscover,
            methods=["POST"],
            include_in_schema=False,
            summary="POX Autodiscover for Poly endpoints (the EWS URL)",
        )
    return api
