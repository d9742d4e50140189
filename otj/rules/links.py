"""Undo link wrappers of mail security gateways so that meeting links can be found (DESIGN.md §4.1).

- Microsoft Defender for Office 365 Safe Links:
  ``https://<region>.safelinks.protection.outlook.com/?url=<percent-encoded URL>&data=…``
  (also the ``/ap/<x>/?url=`` form); the target is the ``url`` query parameter.
- Proofpoint URL Defense v1: ``https://urldefense.proofpoint.com/v1/url?u=<percent-encoded>&k=…``.
- Proofpoint URL Defense v2: ``https://urldefense.proofpoint.com/v2/url?u=<URL>&d=…&c=…&e=``
  where the URL was percent-encoded, then ``%`` written as ``-`` and ``/`` as ``_``.
- Proofpoint URL Defense v3: ``https://urldefense.com/v3/__<URL>__;<chars>!!<customer>!<sig>$``.
  Characters of the URL that are not kept literally are each replaced by ``*``; ``**`` followed by
  one character of ``A…Z a…z 0…9 - _`` stands for a run of 2…65 such characters. ``<chars>`` is the
  URL-safe base64 (padding dropped) of the UTF-8 replaced characters, in order. The URL part may
  itself be percent-encoded and is percent-decoded before the markers are substituted.

Wrappers may be nested (a Safe Link around a URL Defense link): decoding repeats up to three
times. Every decoder returns its input unchanged when a wrapper is malformed; decoding never
raises. This module is the only implementation of these decoders.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

# the scheme is matched case-sensitively: a pattern that starts with a literal is searched fast
_SAFELINK = re.compile(r"https?://(?i:[a-z0-9.-]*safelinks\.protection\.outlook\.com)/[^\s<>\"']*")
_URLDEFENSE_V12 = re.compile(r"https?://(?i:urldefense\.proofpoint\.com/(v[12])/url)\?[^\s<>\"']*")
_URLDEFENSE_V3 = re.compile(
    r"https?://(?i:urldefense(?:\.proofpoint)?\.com/v3)/__(?P<url>[^\s<>\"]+?)__;"
    r"(?P<chars>[A-Za-z0-9_=-]*)!!(?P<tail>[^\s<>\"'$]*)\$?"
)
_V3_TOKEN = re.compile(r"\*\*(.)|\*", re.DOTALL)
_V3_RUN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_V3_RUN_LENGTH = {char: index + 2 for index, char in enumerate(_V3_RUN_ALPHABET)}
_V2_TRANSLATION = str.maketrans({"-": "%", "_": "/"})
_MAX_PASSES = 3


def _looks_like_url(value: str) -> bool:
    return bool(value) and ":" in value[:12] and value.split(None, 1) == [value]


_URL_PARAMETER = re.compile(r"[?&](?:amp;)?url=([^&#]*)")


def _decode_safelink(match: re.Match[str]) -> str:
    """The ``url`` query parameter of a Safe Link, form-decoded (``+`` is a space)."""
    wrapped = match.group(0)
    parameter = _URL_PARAMETER.search(wrapped)
    if parameter is None:
        return wrapped
    target = unquote(parameter.group(1).replace("+", " "))
    return target if _looks_like_url(target) else wrapped


def _decode_urldefense_v12(match: re.Match[str]) -> str:
    wrapped = match.group(0)
    query = urlsplit(wrapped.replace("&amp;", "&")).query
    value = next((v for k, v in _raw_pairs(query) if k == "u"), None)
    if value is None:
        return wrapped
    if match.group(1).lower() == "v2":
        value = value.translate(_V2_TRANSLATION)
    target = unquote(value)
    return target if _looks_like_url(target) else wrapped


def _raw_pairs(query: str) -> list[tuple[str, str]]:
    """Query pairs without decoding (v2 values hold ``-`` escapes that must stay as they are)."""
    return [(k, v) for k, _, v in (part.partition("=") for part in query.split("&"))]


def decode_urldefense_v3_parts(url: str, chars: str) -> str | None:
    """Rebuild a v3 target from its URL part and base64 replacement characters (None: invalid)."""
    try:
        padded = chars + "=" * (-len(chars) % 4)
        replacements = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        return None
    position = 0
    failed = False

    def substitute(token: re.Match[str]) -> str:
        nonlocal position, failed
        run = token.group(1)
        length = 1 if run is None else _V3_RUN_LENGTH.get(run, 0)
        if length == 0 or position + length > len(replacements):
            failed = True
            return token.group(0)
        piece = replacements[position : position + length]
        position += length
        return piece

    decoded = _V3_TOKEN.sub(substitute, unquote(url))
    return None if failed else decoded


def _decode_urldefense_v3(match: re.Match[str]) -> str:
    target = decode_urldefense_v3_parts(match.group("url"), match.group("chars"))
    return target if target is not None and _looks_like_url(target) else match.group(0)


def _repeat(decode_once: Callable[[str], str], text: str) -> str:
    """``decode_once`` until nothing changes (at most ``_MAX_PASSES`` times: nested wrappers)."""
    for _ in range(_MAX_PASSES):
        decoded = decode_once(text)
        if decoded == text:
            break
        text = decoded
    return text


def _safelinks_once(text: str) -> str:
    return _SAFELINK.sub(_decode_safelink, text)


def _urldefense_once(text: str) -> str:
    decoded = _URLDEFENSE_V3.sub(_decode_urldefense_v3, text)
    return _URLDEFENSE_V12.sub(_decode_urldefense_v12, decoded)


def decode_safelinks(text: str) -> str:
    """Replace every Safe Links wrapper in ``text`` by its target URL."""
    return _repeat(_safelinks_once, text)


def decode_urldefense(text: str) -> str:
    """Replace every Proofpoint URL Defense (v1, v2, v3) wrapper in ``text`` by its target."""
    return _repeat(_urldefense_once, text)


def decode_wrapped_links(text: str) -> str:
    """Undo Safe Links and URL Defense wrappers (in any nesting) in ``text``."""
    return _repeat(lambda once: _urldefense_once(_safelinks_once(once)), text)
