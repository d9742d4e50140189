"""Which room a call comes from, and the name the meeting host sees in the lobby. Pure.

The host admits guests by name, so a name that says "Oslo Fjord" must really be that room.
A call is attributed to an endpoint, strongest evidence first:

1. ``registration``: the caller holds a registration made with the endpoint's SIP digest
   credentials (``sip_username``) from this source address;
2. ``from_uri``: the From URI is the endpoint's configured ``sip_uri`` (or its user part is the
   endpoint's ``sip_username``), and the endpoint's API address, when configured, is the
   source address (a From header alone is a claim anyone can make from elsewhere);
3. ``address``: exactly one endpoint has the source address as its API address. An address
   that several endpoints share (a NAT, an edge proxy, the demo's loopback) attributes nothing.

Attributed calls are presented with ``gateway.caller_display_name`` (default
``{{ room_name }}``); the others with ``gateway.unattributed_display_name`` (default
``{{ caller_name }} (unverified)``), so nobody becomes "Oslo Fjord" by setting a display name.
Both are sandboxed Jinja templates (``otj.rules.sandbox``) with ``room_name``, ``room_email``,
``caller_name``, ``caller_uri`` and ``organisation``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from jinja2 import Template

from guestjoin.config import GatewayConfig
from guestjoin.routing import alias_of
from otj.model import Endpoint, GatewaySettings
from otj.rules.sandbox import compile_template, render

log = logging.getLogger(__name__)

How = Literal["registration", "from_uri", "address", ""]
MAX_DISPLAY = 64  # characters: endpoints and the Meet lobby show a line, not a paragraph
DEFAULT_ATTRIBUTED = "{{ room_name }}"
DEFAULT_UNATTRIBUTED = "{{ caller_name }} (unverified)"


@dataclass(frozen=True, kw_only=True, slots=True)
class Attribution:
    """The endpoint a call comes from (None: not attributed), how we know, the name shown."""

    endpoint: Endpoint | None
    how: How
    display: str


def _user(uri: str) -> str:
    alias = alias_of(uri)
    return alias.rpartition("@")[0] if "@" in alias else ""


def find_endpoint(
    config: GatewayConfig, *, from_uri: str, source: str, registered_user: str | None
) -> tuple[Endpoint | None, How]:
    """The endpoint a call comes from and the evidence, strongest first (module docstring)."""
    if registered_user:
        endpoint = config.endpoint_by_username(registered_user)
        if endpoint is not None:
            return endpoint, "registration"
    alias, user = alias_of(from_uri).lower(), _user(from_uri)
    for endpoint in config.endpoints:
        claimed = (endpoint.sip_uri and alias_of(endpoint.sip_uri).lower() == alias) or (
            endpoint.sip_username and endpoint.sip_username == user
        )
        if claimed and (not endpoint.api_address or endpoint.api_address == source):
            return endpoint, "from_uri"
    at_address = [e for e in config.endpoints if e.api_address and e.api_address == source]
    if len(at_address) == 1:
        return at_address[0], "address"
    return None, ""


@lru_cache(maxsize=64)
def _template(source: str) -> Template:
    return compile_template(source)


def display_name(
    settings: GatewaySettings,
    endpoint: Endpoint | None,
    *,
    caller_name: str,
    caller_uri: str,
    now: datetime,
) -> str:
    """The display name presented to the far end (sandboxed, one line, at most 64 chars)."""
    source = settings.caller_display_name if endpoint else settings.unattributed_display_name
    fallback = DEFAULT_ATTRIBUTED if endpoint else DEFAULT_UNATTRIBUTED
    context = {
        "room_name": endpoint.name if endpoint else "",
        "room_email": endpoint.room_resource_email if endpoint else "",
        "caller_name": caller_name or _user(caller_uri) or "Guest",
        "caller_uri": caller_uri,
        "organisation": settings.organisation,
    }
    for template in (source, fallback):
        try:
            text, _ = render(_template(template), context, now=now, seed=caller_uri)
        except Exception as exc:  # noqa: BLE001 - a broken template must not fail the call
            log.warning("display name template %r failed (%s): using the default", template, exc)
            continue
        text = " ".join(text.split())[:MAX_DISPLAY].strip()
        if text:
            return text
    return context["room_name"] or f"{context['caller_name']} (unverified)"


def attribute(
    config: GatewayConfig,
    *,
    from_uri: str,
    from_display: str,
    source: str,
    registered_user: str | None,
    now: datetime,
) -> Attribution:
    """Attribute a call and name it for the lobby."""
    endpoint, how = find_endpoint(
        config, from_uri=from_uri, source=source, registered_user=registered_user
    )
    display = display_name(
        config.settings, endpoint, caller_name=from_display, caller_uri=from_uri, now=now
    )
    return Attribution(endpoint=endpoint, how=how, display=display)


def template_problem(source: str, *, now: datetime) -> str | None:
    """Why a display name template cannot be used (checked when the configuration is saved)."""
    try:
        template = compile_template(source)
        text, _ = render(
            template,
            {
                "room_name": "Oslo Fjord",
                "room_email": "fjord@resource.example.com",
                "caller_name": "Guest",
                "caller_uri": "sip:guest@example.com",
                "organisation": "Example",
            },
            now=now,
            seed="check",
        )
    except Exception as exc:  # noqa: BLE001 - reported to the administrator
        return f"template error: {exc}"
    if not text.strip():
        return "the template renders an empty name"
    return None
