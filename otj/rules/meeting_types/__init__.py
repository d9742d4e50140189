"""The built-in meeting types of DESIGN.md §4.2, one module per provider.

Each finder gets the rule's settings and the event's ``EventText`` and returns a ``Found`` (the
default alias, the variables a ``transform_rule`` may use, where it was found) or a ``Missed``
with the sentence the trace shows. Each module's docstring states its types' semantics; the
variables per type are listed for administrators in ``otj/rules/README.md``.
"""

from __future__ import annotations

from otj.model import Platform
from otj.rules.meeting_types.base import Found, MeetingType, Missed, TypeSettings
from otj.rules.meeting_types.generic import find_domain, find_fallback
from otj.rules.meeting_types.google import find_google_meet, find_hangouts
from otj.rules.meeting_types.goto import find_gotomeeting
from otj.rules.meeting_types.pexip import find_pexip_infinity, find_pexip_service
from otj.rules.meeting_types.s4b import find_skype_for_business
from otj.rules.meeting_types.teams import find_teams_guest_join
from otj.rules.meeting_types.teams_cvi import find_cisco_teams, find_pexip_teams, find_poly_teams
from otj.rules.meeting_types.webex import find_webex
from otj.rules.meeting_types.zoom import find_zoom

__all__ = [
    "MEETING_TYPES",
    "Found",
    "MeetingType",
    "Missed",
    "TypeSettings",
    "find_fallback",
    "platform_of",
]

_TEAMS = Platform.MICROSOFT_TEAMS
_PEXIP_TEAMS = ("conference_id", "domain", "host", "prefix")
_CVI = ("conference_id", "tenant_key")
_S4B = ("conference_id", "domain", "user")

MEETING_TYPES: dict[str, MeetingType] = {
    t.name: t
    for t in (
        MeetingType(name="googlemeetsipguestjoin", platform=Platform.GOOGLE_MEET,
                    finder=find_google_meet, variables=("meeting_code", "company_id")),
        MeetingType(name="hangouts", platform=Platform.GOOGLE_MEET, finder=find_hangouts,
                    requires=("domain",), variables=("meeting_id", "domain")),
        MeetingType(name="teams", platform=_TEAMS, finder=find_pexip_teams, variables=_PEXIP_TEAMS),
        MeetingType(name="pexipinfinityteamsbody", platform=_TEAMS, finder=find_pexip_teams,
                    variables=_PEXIP_TEAMS),
        MeetingType(name="pexipserviceteamsbody", platform=_TEAMS, finder=find_pexip_teams,
                    variables=_PEXIP_TEAMS),
        MeetingType(name="ciscoteamsbody", platform=_TEAMS, finder=find_cisco_teams,
                    variables=_CVI),
        MeetingType(name="polyteamsbody", platform=_TEAMS, finder=find_poly_teams, variables=_CVI),
        MeetingType(name="teamssipguestjoin", platform=_TEAMS, finder=find_teams_guest_join,
                    variables=("meeting_id", "passcode", "company_id", "join_url")),
        MeetingType(name="zoom", platform=Platform.ZOOM, finder=find_zoom,
                    variables=("meeting_id", "passcode", "host")),
        MeetingType(name="webex", platform=Platform.WEBEX, finder=find_webex,
                    variables=("meeting_number", "site", "user")),
        MeetingType(name="gotomeeting", platform=Platform.OTHER, finder=find_gotomeeting,
                    variables=("meeting_id",)),
        MeetingType(name="pexipinfinity", platform=Platform.OTHER, finder=find_pexip_infinity,
                    variables=("alias",)),
        MeetingType(name="pexipservice", platform=Platform.OTHER, finder=find_pexip_service,
                    variables=("alias",)),
        MeetingType(name="s4b", platform=Platform.OTHER, finder=find_skype_for_business,
                    variables=_S4B),
        MeetingType(name="polys4bbody", platform=Platform.OTHER, finder=find_skype_for_business,
                    variables=_S4B),
        MeetingType(name="domain", platform=Platform.OTHER, finder=find_domain,
                    requires=("domain",), variables=("alias", "domain")),
        MeetingType(name="regex", platform=Platform.OTHER, finder=None,
                    requires=("match_string",), variables=("match", "groups")),
        MeetingType(name="regex_re2", platform=Platform.OTHER, finder=None,
                    requires=("match_string",), variables=("match", "groups")),
        MeetingType(name="custom", platform=Platform.OTHER, finder=None,
                    requires=("custom_template",)),
    )
}  # fmt: skip

_PLATFORM_HOSTS: tuple[tuple[str, Platform], ...] = (
    ("google.pexip.me", Platform.GOOGLE_MEET),
    ("meet.google.com", Platform.GOOGLE_MEET),
    ("teams.pexip.me", Platform.MICROSOFT_TEAMS),
    ("t.plcm.vc", Platform.MICROSOFT_TEAMS),
    ("m.webex.com", Platform.MICROSOFT_TEAMS),
    ("zoomcrc.com", Platform.ZOOM),
    ("zoom.us", Platform.ZOOM),
    ("zoomgov.com", Platform.ZOOM),
    ("webex.com", Platform.WEBEX),
)


def platform_of(alias: str) -> Platform:
    """Infer the platform from the alias host (custom templates, fallback)."""
    host = alias.rpartition("@")[2].lower().strip()
    for suffix, platform in _PLATFORM_HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return platform
    return Platform.OTHER
