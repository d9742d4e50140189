"""What every meeting type shares: its settings, its result, and the block of one meeting.

An invitation often carries more than one meeting (Outlook adds a Teams block to a pasted Zoom
invitation; a forwarded invitation quotes an older one). A type therefore reads a meeting's
details only from **its own block**: from its link or address to the next other provider's link
or heading, Microsoft's ``____`` separator line, a forwarded/original-message separator, or
``BLOCK_LINES`` lines, whichever comes first (DESIGN.md §4.2).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from otj.model import CallProtocol, Platform
from otj.rules.text import EventText

WHERE = "conference data, location or body"
BLOCK_LINES = 30
"""A meeting's block ends after this many lines at the latest."""
BLOCK_LINES_BEFORE = 6
"""Lines before a link that may belong to its block (a Webex number written above its link)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TypeSettings:
    """The rule fields a built-in type reads."""

    domain: str = ""
    company_id: str = ""
    include_pin: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Found:
    """A built-in type found a meeting: its default alias and the variables of transforms."""

    alias: str
    source: str
    summary: str
    variables: Mapping[str, Any] = field(default_factory=dict)
    protocol: CallProtocol = CallProtocol.SIP


@dataclass(frozen=True, kw_only=True, slots=True)
class Missed:
    """A built-in type found nothing; ``detail`` says what it looked for, and where."""

    detail: str


Finder = Callable[[TypeSettings, EventText], Found | Missed]


@dataclass(frozen=True, kw_only=True, slots=True)
class MeetingType:
    """A built-in meeting type: its finder, platform, required rule fields and variables."""

    name: str
    platform: Platform
    finder: Finder | None
    requires: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()


def digits(text: str) -> str:
    """The decimal digits of ``text`` (``"806 378 7231"`` → ``"8063787231"``)."""
    return "".join(char for char in text if char.isdigit())


def query(url: str) -> dict[str, str]:
    """The query parameters of a URL, names lower-cased."""
    return {key.lower(): value for key, value in parse_qsl(urlsplit(url).query)}


def trim_uri(value: str) -> str:
    """A URI without the punctuation that usually follows it in prose."""
    return value.rstrip(".,;:!?)]}>'\"")


def first_match(
    pattern: re.Pattern[str], text: EventText, sources: tuple[str, ...], *needles: str
) -> tuple[str, str, re.Match[str]] | None:
    """``(source, its text, match)`` of the first source in which ``pattern`` matches.

    Every match of ``pattern`` contains one of ``needles`` (lower case; see ``near``).
    """
    for source in text.having(sources, *needles):
        body, lower = text.text(source), text.lower(source)
        found = [
            m for needle in needles for m in itertools.islice(near(pattern, body, lower, needle), 1)
        ]
        if found:
            return source, body, min(found, key=lambda match: match.start())
    return None


def near(
    pattern: re.Pattern[str], text: str, lower: str, needle: str, *, before: int = 100
) -> Iterator[re.Match[str]]:
    """The matches of ``pattern`` in ``text`` that contain ``needle``, in order.

    ``lower`` is ``text`` lower-cased and ``needle`` a lower-case literal that every match of
    ``pattern`` contains, starting at most ``before`` characters after the match's start. Only
    the lines around each occurrence of the needle are searched, so that a pattern that may start
    at any character costs little on a long body.
    """
    if len(lower) != len(text):  # case folding changed lengths: positions are not comparable
        yield from (m for m in pattern.finditer(text) if needle in m.group(0).lower())
        return
    done = 0
    position = lower.find(needle)
    while position >= 0:
        end = text.find("\n", position + len(needle))
        end = len(text) if end < 0 else end
        window = pattern.finditer(text, max(done, position - before), end)
        match = next((m for m in window if m.end() > position), None)
        if match is not None and match.end() >= end and end < len(text):
            match = pattern.match(text, match.start())  # cut by the window: match it whole
        if match is not None and match.start() <= position:
            yield match
            done = match.end()
        position = lower.find(needle, max(done, position + 1))


# --- blocks ------------------------------------------------------------------------------------

PROVIDER_LINKS: Mapping[str, tuple[str, ...]] = {
    "teams": ("teams.microsoft.com/", "teams.cloud.microsoft/", "teams.live.com/"),
    "zoom": ("zoom.us/j/", "zoom.us/w/", "zoom.us/my/", "zoomgov.com/"),
    "webex": (".webex.com/",),
    "google": ("meet.google.com/", "tel.meet/"),
    "goto": ("goto.com/", "gotomeeting.com/"),
}
"""Lower-case parts of the links that open each provider's block."""

PROVIDER_HEADINGS: Mapping[str, tuple[str, ...]] = {
    "teams": (
        "microsoft teams meeting",
        "microsoft teams",
        "microsoft teams need help?",
        "microsoft teams-besprechung",
        "réunion microsoft teams",
        "reunión de microsoft teams",
        "microsoft teams-møte",
        "microsoft teams-møde",
        "microsoft teams-möte",
        "microsoft teams-vergadering",
        "microsoft teams 会議",
        "microsoft teams 会议",
    ),
    "zoom": ("join zoom meeting", "zoom meeting"),
    "webex": ("webex meeting", "join webex meeting", "join the webex meeting"),
    "google": ("join with google meet", "google meet"),
    "goto": ("goto meeting", "join my goto meeting", "gotomeeting"),
}
"""Whole lines (lower case, without a final ``:``) that head each provider's block."""

FORWARD_LABELS = ("from:", "von:", "de:", "fra:", "från:", "van:", "da:", "od:", "lähettäjä:")
"""How quoted messages start in the languages of ``labels`` (a line beginning with one)."""


_OTHER_LINKS: Mapping[str, tuple[str, ...]] = {
    provider: tuple(
        link for other, ls in PROVIDER_LINKS.items() if other != provider for link in ls
    )
    for provider in PROVIDER_LINKS
}
"""Per provider: the other providers' links."""
_OTHER_HEADINGS: Mapping[str, frozenset[str]] = {
    provider: frozenset(
        h for other, hs in PROVIDER_HEADINGS.items() if other != provider for h in hs
    )
    for provider in PROVIDER_HEADINGS
}


def separates(line: str, provider: str) -> bool:
    """Whether ``line`` is a separator, a quoted message's start or another provider's heading."""
    low = line.strip().lower()
    if low.startswith(("________", *FORWARD_LABELS)):
        return True
    if low.startswith("---") and ("original" in low or "forward" in low):
        return True
    return low.rstrip(":") in _OTHER_HEADINGS[provider]


def ends_block(line: str, provider: str) -> bool:
    """Whether ``line`` separates (see ``separates``) or holds another provider's link."""
    return separates(line, provider) or _other_link(line.lower(), provider) >= 0


def _other_link(lower: str, provider: str) -> int:
    """Where the first other provider's link starts in ``lower`` (-1: nowhere)."""
    found = [index for link in _OTHER_LINKS[provider] if (index := lower.find(link)) >= 0]
    return min(found, default=-1)


@dataclass(frozen=True, kw_only=True, slots=True)
class Block:
    """The part of a source that belongs to one meeting: ``text[start:end]``."""

    source: str
    text: str
    start: int
    end: int

    @property
    def content(self) -> str:
        """The block's text."""
        return self.text[self.start : self.end]

    def describe(self) -> str:
        """Where the block is, for the trace (its source, lines and first line)."""
        first = self.text.count("\n", 0, self.start) + 1
        last = first + self.text.count("\n", self.start, self.end)
        head = self.content.strip().split("\n", 1)[0][:60]
        return f"{self.source} lines {first}-{last} ({head!r})"


def _line_end(text: str, position: int) -> int:
    """The index of the line break that ends the line at ``position`` (or the text's end)."""
    end = text.find("\n", position)
    return len(text) if end < 0 else end


def block_at(
    provider: str, source: str, text: str, position: int, *, before: bool = False
) -> Block:
    """The block of ``provider``'s meeting whose link or address starts at ``position``.

    It is the rest of that line and the next lines up to one that ``ends_block``, at most
    ``BLOCK_LINES`` in all; with ``before``, also up to ``BLOCK_LINES_BEFORE`` lines above that
    follow such a line (a meeting number written above its link).
    """
    end = _line_end(text, position)
    limit = end
    for _ in range(BLOCK_LINES - 1):
        if limit < len(text):
            limit = _line_end(text, limit + 1)
    following = text[end:limit].lower()
    other = _other_link(following, provider)
    if other >= 0:  # the block ends before the line of another provider's link
        limit = end + max(0, following.rfind("\n", 0, other))
    if end < limit:
        for line in text[end + 1 : limit].split("\n"):
            if separates(line, provider):
                break
            end += len(line) + 1
    start = position
    if before:
        start = text.rfind("\n", 0, position) + 1
        for _ in range(BLOCK_LINES_BEFORE):
            if start == 0:
                break
            previous = text.rfind("\n", 0, start - 1) + 1
            if ends_block(text[previous : start - 1], provider):
                break
            start = previous
    return Block(source=source, text=text, start=start, end=end)
