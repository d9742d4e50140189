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

Every decoder returns its input unchanged when a wrapper is malformed; decoding never raises.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import parse_qsl, unquote, urlsplit

_SAFELINK = re.compile(
    r"https?://[A-Za-z0-9.-]*safelinks\.protection\.outlook\.com/[^\s<>\"']*", re.IGNORECASE
)
_URLDEFENSE_V12 = re.compile(
    r"https?://urldefense\.proofpoint\.com/(v[12])/url\?[^\s<>\"']*", re.IGNORECASE
)
_URLDEFENSE_V3 = re.compile(
    r"https?://urldefense(?:\.proofpoint)?\.com/v3/__(?P<url>[^\s<>\"]+?)__;"
    r"(?P<chars>[A-Za-z0-9_=-]*)!!(?P<tail>[^\s<>\"'$]*)\$?",
    re.IGNORECASE,
)
_V3_TOKEN = re.compile(r"\*\*(.)|\*", re.DOTALL)
_V3_RUN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_V3_RUN_LENGTH = {char: index + 2 for index, char in enumerate(_V3_RUN_ALPHABET)}
_V2_TRANSLATION = str.maketrans({"-": "%", "_": "/"})
_MAX_PASSES = 3


def _query_param(url: str, name: str) -> str | None:
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key == name:
            return value
    return None


def _looks_like_url(value: str) -> bool:
    return bool(value) and not any(ch.isspace() for ch in value) and ":" in value[:12]


def _decode_safelink(match: re.Match[str]) -> str:
    wrapped = match.group(0)
    target = _query_param(wrapped, "url")
    return target if target is not None and _looks_like_url(target) else wrapped


def _decode_urldefense_v12(match: re.Match[str]) -> str:
    wrapped = match.group(0)
    encoded = _query_param(wrapped.replace("&amp;", "&"), "u")
    if encoded is None:
        return wrapped
    if match.group(1).lower() == "v2":
        target = unquote(encoded.translate(_V2_TRANSLATION))
    else:
        target = unquote(encoded)
    return target if _looks_like_url(target) else wrapped


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


def decode_safelinks(text: str) -> str:
    """Replace every Safe Links wrapper in ``text`` by its target URL."""
    for _ in range(_MAX_PASSES):
        if "safelinks.protection.outlook.com" not in text.lower():
            break
        decoded = _SAFELINK.sub(_decode_safelink, text)
        if decoded == text:
            break
        text = decoded
    return text


def decode_urldefense(text: str) -> str:
    """Replace every Proofpoint URL Defense (v1, v2, v3) wrapper in ``text`` by its target."""
    for _ in range(_MAX_PASSES):
        if "urldefense" not in text.lower():
            break
        decoded = _URLDEFENSE_V3.sub(_decode_urldefense_v3, text)
        decoded = _URLDEFENSE_V12.sub(_decode_urldefense_v12, decoded)
        if decoded == text:
            break
        text = decoded
    return text


def decode_wrapped_links(text: str) -> str:
    """Undo Safe Links and URL Defense wrappers (in any nesting) in ``text``."""
    lowered = text.lower()
    if "safelinks.protection.outlook.com" not in lowered and "urldefense" not in lowered:
        return text
    for _ in range(_MAX_PASSES):
        decoded = decode_urldefense(decode_safelinks(text))
        if decoded == text:
            break
        text = decoded
    return text
