"""The generic types and the fallback.

- ``domain``: the first ``<user>@<rule domain>`` in location or body (a ``sip:``, ``sips:`` or
  ``mailto:`` prefix is dropped). Variables: ``alias``, ``domain``.
- ``regex`` (``regex`` module, Python syntax, 100 ms timeout) and ``regex_re2`` (RE2): the first
  match of ``match_string`` in location, then body; the alias is the whole match, or
  ``replace_string`` expanded with its groups. Variables: ``match``, ``groups``. They are
  applied by the engine (``otj.rules.engine``), which compiles the pattern once per rule.
- ``custom``: ``custom_template`` rendered in the sandbox is the alias (applied by the engine).
- The fallback, when no rule matched: the first ``sip:``, ``sips:`` or ``h323:`` URI in body,
  then location, dialled as it is, if it is a syntactically valid URI (``user@host`` or
  ``host``, RFC 3261 §25.1 / RFC 3508): ``sip:(ask reception)`` is not an alias.
"""

from __future__ import annotations

import re

from otj.model import CallProtocol
from otj.rules.calluri import valid_call_target
from otj.rules.meeting_types.base import Found, Missed, TypeSettings, first_match, near, trim_uri
from otj.rules.meeting_types.pexip import address_pattern
from otj.rules.text import BODY, FREE_TEXT, LOCATION, EventText


def find_domain(settings: TypeSettings, text: EventText) -> Found | Missed:
    """The first ``user@<rule domain>`` in location or body."""
    domain = settings.domain.strip()
    if not domain:
        return Missed(detail="rule has no domain")
    hit = first_match(address_pattern(domain), text, FREE_TEXT, "@" + domain.lower())
    if hit is None:
        return Missed(detail=f"no <user>@{domain} in location or body")
    alias = hit[2].group(1)
    if alias.lower().startswith(("sip:", "sips:", "mailto:")):
        alias = alias.split(":", 1)[1]
    return Found(
        alias=alias,
        source=hit[0],
        summary=f"address {alias}",
        variables={"alias": alias, "domain": domain},
    )


_FALLBACK = re.compile(r"(?<![\w.+-])(sips?|h323):([^\s<>\"',;?]+)", re.IGNORECASE)


def find_fallback(text: EventText) -> Found | None:
    """``sip:``, ``sips:`` or ``h323:`` in body then location: dial what follows if it is valid."""
    for source in text.having((BODY, LOCATION), "sip:", "sips:", "h323:"):
        body, lower = text.text(source), text.lower(source)
        matches = sorted(
            (
                m
                for needle in ("sip:", "sips:", "h323:")
                for m in near(_FALLBACK, body, lower, needle)
            ),
            key=lambda match: match.start(),
        )
        for match in matches:
            target = trim_uri(match.group(2))
            scheme = match.group(1).lower()
            if not target or not valid_call_target(scheme, target):
                continue
            return Found(
                alias=target,
                source=source,
                summary=f"{scheme}:{target}",
                variables={"alias": target},
                protocol=CallProtocol.H323 if scheme == "h323" else CallProtocol.SIP,
            )
    return None
