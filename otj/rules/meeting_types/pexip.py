"""Pexip: ``pexipinfinity`` (``pexip://<alias>``) and ``pexipservice`` (``pexip.me`` links).

- ``pexipinfinity``: the first ``pexip://<alias>`` in conference data, location or body →
  ``<alias>`` (percent-decoded).
- ``pexipservice``: the first ``https://pexip.me/<alias>`` → ``<alias>@<rule domain or
  pexip.me>`` (an alias with ``@`` is kept as it is), else the first ``<alias>@<rule domain>``.

Variables: ``alias``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from otj.rules.meeting_types.base import WHERE, Found, Missed, TypeSettings, first_match, trim_uri
from otj.rules.text import ALL_SOURCES, EventText

_PEXIP_URI = re.compile(r"pexip://([^\s<>\"']+)", re.IGNORECASE)
_SERVICE_LINK = re.compile(r"https?://(?i:pexip\.me)/(?!teams/)([^\s<>\"'?#/]+)")


def address_pattern(domain: str) -> re.Pattern[str]:
    """``<user>@<domain>`` as a whole address (also used by the ``domain`` type)."""
    return re.compile(
        r"(?<![\w.+%-])([\w.+%-]+@" + re.escape(domain) + r")(?![\w-]|\.\w)", re.IGNORECASE
    )


def find_pexip_infinity(settings: TypeSettings, text: EventText) -> Found | Missed:
    """``pexip://<alias>``."""
    hit = first_match(_PEXIP_URI, text, ALL_SOURCES, "pexip://")
    if hit is not None:
        alias = trim_uri(unquote(hit[2].group(1)))
        if alias:
            summary = f"pexip://{alias}"
            return Found(alias=alias, source=hit[0], summary=summary, variables={"alias": alias})
    return Missed(detail=f"no pexip://<alias> in {WHERE}")


def find_pexip_service(settings: TypeSettings, text: EventText) -> Found | Missed:
    """``https://pexip.me/<alias>``, or ``<alias>@<rule domain>``."""
    domain = settings.domain.strip()
    hit = first_match(_SERVICE_LINK, text, ALL_SOURCES, "pexip.me/")
    if hit is not None:
        alias = trim_uri(unquote(hit[2].group(1)))
        if alias and "@" not in alias:
            alias = f"{alias}@{domain or 'pexip.me'}"
        if alias:
            summary = f"link pexip.me/{hit[2].group(1)}"
            return Found(alias=alias, source=hit[0], summary=summary, variables={"alias": alias})
    if domain:
        address = first_match(address_pattern(domain), text, ALL_SOURCES, "@" + domain.lower())
        if address is not None:
            alias = address[2].group(1)
            summary = f"address {alias}"
            return Found(
                alias=alias, source=address[0], summary=summary, variables={"alias": alias}
            )
    where = f" and no <alias>@{domain}" if domain else ""
    return Missed(detail=f"no https://pexip.me/<alias>{where} in {WHERE}")
