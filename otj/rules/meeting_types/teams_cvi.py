"""Microsoft Teams through a Cloud Video Interop service: the address of the video-device section.

Teams writes "Join with a video conferencing device" with the tenant's address and a
"Video Conference ID" (or "VTC Conference ID") on the same line or one of the next three.

- ``teams``, ``pexipinfinityteamsbody``, ``pexipserviceteamsbody`` (Pexip CVI):
  ``[<prefix>.]teams@<host>`` + ID → ``<prefix><id>@<rule domain or host>``; else
  ``https://pexip.me/teams/<host>/<id>``, else an alternate VTC link
  ``…/teams/?conf=<id>&d=<host>[&prefix=…]``. Variables: ``conference_id``, ``domain``,
  ``host``, ``prefix``.
- ``ciscoteamsbody``: ``<tenant key>@m.webex.com`` + ID → ``<id>.<tenant key>@m.webex.com``.
- ``polyteamsbody``: ``<tenant key>@t.plcm.vc`` + ID → ``<tenant key>.<id>@t.plcm.vc``, else
  ``https://dialin.plcm.vc/teams/?key=<tenant key>&conf=<id>``. Variables: ``conference_id``,
  ``tenant_key``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from otj.rules.meeting_types.base import WHERE, Found, Missed, TypeSettings, digits, near, query
from otj.rules.meeting_types.labels import Labelled
from otj.rules.text import ALL_SOURCES, EventText

_CONFERENCE_ID = Labelled("conference_id", r"(\d(?:[ \u00a0]?\d)*)")
_CVI_LINES = 3  # the ID label is on the same line or one of the next three


def _id_after(text: str, end: int) -> str:
    """The conference ID that follows a tenant address ending at ``end`` ("" when none)."""
    limit = end
    for _ in range(_CVI_LINES + 1):
        newline = text.find("\n", limit + 1)
        if newline < 0:
            limit = len(text)
            break
        limit = newline
    found = _CONFERENCE_ID.first(text, end, limit)
    return "" if found is None else digits(found[0])


def _tenants(
    pattern: re.Pattern[str], text: EventText, needle: str
) -> Iterator[tuple[str, re.Match[str], str]]:
    """Every tenant address (containing ``needle``) with a conference ID after it."""
    for source in text.having(ALL_SOURCES, needle):
        body = text.text(source)
        for match in near(pattern, body, text.lower(source), needle):
            conference_id = _id_after(body, match.end())
            if conference_id:
                yield source, match, conference_id


_PEXIP_TENANT = re.compile(
    r"(?<![\w.+-])((?:[\w-]+\.)*?)teams@((?:[a-z0-9-]+\.)+[a-z0-9-]+)(?![\w-])", re.IGNORECASE
)
_PEXIP_TEAMS_LINK = re.compile(r"https?://(?i:pexip\.me/teams/((?:[a-z0-9-]+\.)+[a-z0-9-]+))/(\d+)")
_PEXIP_TEAMS_QUERY = re.compile(r"https?://(?i:[a-z0-9.-]+/teams/)\?[^\s<>\"']+")
_OTHER_CVI_HOSTS = ("m.webex.com", "t.plcm.vc")


def _pexip(
    conference_id: str, host: str, prefix: str, *, source: str, summary: str, domain: str
) -> Found:
    target = domain or host
    return Found(
        alias=f"{prefix}{conference_id}@{target}",
        source=source,
        summary=summary,
        variables={
            "conference_id": conference_id,
            "domain": target,
            "host": host,
            "prefix": prefix,
        },
    )


def find_pexip_teams(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Pexip CVI: teams@<host> + conference ID, or pexip.me/teams/<host>/<id> (or ?conf=&d=)."""
    domain = settings.domain.strip()
    for source, match, conference_id in _tenants(_PEXIP_TENANT, text, "teams@"):
        host, prefix = match.group(2), match.group(1)
        if host.lower() not in _OTHER_CVI_HOSTS:
            summary = f"tenant {prefix}teams@{host}, conference ID {conference_id}"
            return _pexip(
                conference_id, host, prefix, source=source, summary=summary, domain=domain
            )
    for source in text.having(ALL_SOURCES, "/teams/"):
        body = text.text(source)
        link = _PEXIP_TEAMS_LINK.search(body)
        if link is not None:
            host, conference_id = link.group(1), link.group(2)
            summary = f"link pexip.me/teams/{host}/{conference_id}"
            return _pexip(conference_id, host, "", source=source, summary=summary, domain=domain)
        for query_link in _PEXIP_TEAMS_QUERY.finditer(body):
            params = query(query_link.group(0))
            conf, host = params.get("conf", ""), params.get("d", "")
            if conf.isdigit() and host and host.lower() not in _OTHER_CVI_HOSTS:
                summary = f"alternate VTC link conf={conf} d={host}"
                prefix = params.get("prefix", "")
                return _pexip(conf, host, prefix, source=source, summary=summary, domain=domain)
    return Missed(
        detail="no Pexip CVI tenant (teams@<host>) with a Video Conference ID after it and no "
        f"pexip.me/teams link in {WHERE}"
    )


_CISCO_TENANT = re.compile(r"(?<![\w.+@-])([\w.+-]+)@m\.webex\.com(?![\w-]|\.\w)", re.IGNORECASE)


def find_cisco_teams(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Cisco CVI: <tenant_key>@m.webex.com + the conference ID after it."""
    for source, match, conference_id in _tenants(_CISCO_TENANT, text, "@m.webex.com"):
        tenant = match.group(1)
        return Found(
            alias=f"{conference_id}.{tenant}@m.webex.com",
            source=source,
            summary=f"tenant {tenant}@m.webex.com, conference ID {conference_id}",
            variables={"conference_id": conference_id, "tenant_key": tenant},
        )
    return Missed(detail=f"no <tenant>@m.webex.com with a Video Conference ID after it in {WHERE}")


_POLY_TENANT = re.compile(r"(?<![\w.+@-])([\w.+-]+)@t\.plcm\.vc(?![\w-]|\.\w)", re.IGNORECASE)
_POLY_LINK = re.compile(r"https?://(?i:dialin\.plcm\.vc/teams/?)\?[^\s<>\"']+")


def find_poly_teams(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Poly CVI: <tenant_key>@t.plcm.vc + conference ID, or dialin.plcm.vc/teams/?key=&conf=."""
    for source, match, conference_id in _tenants(_POLY_TENANT, text, "@t.plcm.vc"):
        tenant = match.group(1)
        return Found(
            alias=f"{tenant}.{conference_id}@t.plcm.vc",
            source=source,
            summary=f"tenant {tenant}@t.plcm.vc, conference ID {conference_id}",
            variables={"conference_id": conference_id, "tenant_key": tenant},
        )
    for source in text.having(ALL_SOURCES, "dialin.plcm.vc"):
        for link in _POLY_LINK.finditer(text.text(source)):
            params = query(link.group(0))
            key, conf = params.get("key", ""), params.get("conf", "")
            if key and conf.isdigit():
                return Found(
                    alias=f"{key}.{conf}@t.plcm.vc",
                    source=source,
                    summary=f"link dialin.plcm.vc key={key} conf={conf}",
                    variables={"conference_id": conf, "tenant_key": key},
                )
    return Missed(
        detail="no <tenant>@t.plcm.vc with a Video Conference ID after it and no "
        f"dialin.plcm.vc/teams link in {WHERE}"
    )
