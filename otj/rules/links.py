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
from urllib.parse import unquote

_SAFELINK_HOST = "safelinks.protection.outlook.com/"
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


_U_PARAMETER = re.compile(r"[?&](?:amp;)?u=([^&#]*)")


_HEX_ASCII = {
    spelling: chr(code)
    for code in range(128)
    for spelling in {f"{code:02x}", f"{code:02X}", f"{code:02x}"[0] + f"{code:02X}"[1],
                     f"{code:02X}"[0] + f"{code:02x}"[1]}
}  # fmt: skip


def _unquote(value: str) -> str:
    """``urllib.parse.unquote``, with a fast path for ASCII text whose escapes are all ASCII."""
    if "%" not in value:
        return value
    if not value.isascii():
        return unquote(value)
    parts = value.split("%")
    pieces = [parts[0]]
    hex_ascii = _HEX_ASCII
    for part in parts[1:]:
        char = hex_ascii.get(part[:2])
        if char is None:  # not a valid escape, or a byte of a multi-byte character
            return unquote(value)
        pieces.append(char)
        pieces.append(part[2:])
    return "".join(pieces)


def _looks_like_url(value: str) -> bool:
    return bool(value) and ":" in value[:12] and value.split(None, 1) == [value]


_URL_STOPS = ">\"'<"  # '>' first: it usually ends the URL and bounds the other searches
_HOST_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.-"


def _is_wrapper_prefix(lowered: str, start: int, end: int) -> bool:
    """``lowered[start:end]`` is ``http(s)://`` followed by host characters only."""
    prefix = lowered[start:end]
    if prefix.startswith("https://"):
        rest = prefix[8:]
    elif prefix.startswith("http://"):
        rest = prefix[7:]
    else:
        return False
    return not rest.strip(_HOST_CHARS)


def _decode_urldefense_v12(match: re.Match[str]) -> str:
    wrapped = match.group(0)
    encoded = _U_PARAMETER.search(wrapped)
    if encoded is None:
        return wrapped
    value = encoded.group(1)
    if match.group(1).lower() == "v2":
        target = unquote(value.translate(_V2_TRANSLATION))
    else:
        target = unquote(value)
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


def _replace_safelinks(text: str, lowered: str | None = None) -> str:
    """One pass: every ``http(s)://<region>.safelinks.protection.outlook.com/…`` → target."""
    return _replace_safelinks_lower(text, lowered)[0]


def _replace_safelinks_lower(text: str, lowered: str | None = None) -> tuple[str, str | None]:
    """``_replace_safelinks`` and, when it can be built piecewise, the lower case of the result.

    Lower-casing is per character except for Greek capital sigma (final form by context) and
    characters whose lower case is longer; with either present the lower case is left to the
    caller (None).
    """
    if lowered is None or len(lowered) != len(text):
        lowered = text.lower()
    piecewise = len(lowered) == len(text) and "\u03a3" not in text
    if not piecewise:  # case folding changed lengths: search the text itself
        lowered = text if len(lowered) != len(text) else lowered
    pieces: list[str] = []
    lower_pieces: list[str] = []
    done = 0
    size = len(text)
    host = _SAFELINK_HOST
    index = lowered.find(host)
    while index >= 0:
        # the URL ends at the first whitespace or < > " ' (as _url_end)
        end = size
        for stop in _URL_STOPS:
            found = text.find(stop, index, end)
            if found >= 0:
                end = found
        token = text[index:end].split(None, 1)
        end = index + len(token[0]) if token else index
        start = lowered.rfind("http", max(done, index - 40), index)
        if start >= 0 and _is_wrapper_prefix(lowered, start, index):
            # the first ?url= / &url= / &amp;url= value of text[start:end], up to & or #
            target = None
            key = text.find("url=", start, end)
            while key >= 0:
                if (key > start and text[key - 1] in "?&") or (
                    key >= start + 5 and text[key - 5 : key] in ("?amp;", "&amp;")
                ):
                    value_end = end
                    for stop in "&#":
                        found = text.find(stop, key + 4, value_end)
                        if found >= 0:
                            value_end = found
                    target = _unquote(text[key + 4 : value_end].replace("+", " "))
                    break
                key = text.find("url=", key + 1, end)
            if target and ":" in target[:12] and target.split(None, 1) == [target]:
                pieces.append(text[done:start])
                pieces.append(target)
                if "\u03a3" in target:
                    piecewise = False
                if piecewise:
                    lower_pieces.append(lowered[done:start])
                    lower_pieces.append(target.lower())
                done = end
        index = lowered.find(host, max(end, index + 1))
    if not pieces:
        return text, lowered if piecewise else None
    pieces.append(text[done:])
    decoded = "".join(pieces)
    if not piecewise:
        return decoded, None
    lower_pieces.append(lowered[done:])
    decoded_lower = "".join(lower_pieces)
    return decoded, decoded_lower if len(decoded_lower) == len(decoded) else None


def decode_safelinks(text: str) -> str:
    """Replace every Safe Links wrapper in ``text`` by its target URL."""
    for _ in range(_MAX_PASSES):
        if _SAFELINK_HOST not in text.lower():
            break
        decoded = _replace_safelinks(text)
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
    return decode_wrapped_links_lower(text)[0]


def decode_wrapped_links_lower(text: str) -> tuple[str, str]:
    """``decode_wrapped_links(text)`` and its ``str.lower()``, lower-casing the text only once."""
    lowered = text.lower()
    for _ in range(_MAX_PASSES):
        safelinks = _SAFELINK_HOST in lowered
        urldefense = "urldefense" in lowered
        if not safelinks and not urldefense:
            break
        decoded, decoded_lower = (
            _replace_safelinks_lower(text, lowered) if safelinks else (text, None)
        )
        if urldefense:
            decoded = _URLDEFENSE_V12.sub(
                _decode_urldefense_v12, _URLDEFENSE_V3.sub(_decode_urldefense_v3, decoded)
            )
            decoded_lower = None
        if decoded == text:
            break
        text = decoded
        lowered = decoded_lower if decoded_lower is not None else text.lower()
    return text, lowered
