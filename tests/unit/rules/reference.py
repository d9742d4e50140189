"""Reference (pre-optimisation) text normalisation: the oracle the fast paths are compared with.

These are the straightforward implementations of DESIGN.md §4.1 that the engine shipped first
(Lexbor's own ``strip_tags``/``unwrap_tags``, per-part whitespace splitting, regex-driven link
unwrapping), kept unchanged in behaviour so that property tests can check that every faster
path in ``otj.rules`` gives exactly the same text on hostile input.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote

from selectolax.lexbor import LexborHTMLParser

# --- HTML → text -------------------------------------------------------------------------------

_LINE = "\x00"
_INLINE = "span,font,a,b,strong,i,em,u,o\\:p,small"
_DROPPED = "style,script"


def html_to_text(html: str) -> str:
    """Convert an HTML body to normalised plain text, keeping link targets as ``<target>``."""
    if not html:
        return ""
    parser = LexborHTMLParser(html)
    body = parser.body
    if body is None:  # pragma: no cover - Lexbor always creates <body>
        return ""
    for anchor in body.css("a[href]"):
        href = anchor.attrs.get("href")
        if href:
            href = href.strip()
            if href and not href.startswith("#"):
                anchor.insert_after(f" <{href}>")
    body.strip_tags([_DROPPED])
    body.unwrap_tags([_INLINE])
    body.merge_text_nodes()
    return normalise_whitespace(body.text(separator=_LINE))


def normalise_whitespace(text: str) -> str:
    """Collapse whitespace runs to one space, turn line markers into newlines, drop blank lines."""
    return "\n".join(
        [" ".join(part.split()) for part in text.split(_LINE) if part and not part.isspace()]
    )


# --- link wrappers -----------------------------------------------------------------------------

_SAFELINK_HOST = "safelinks.protection.outlook.com/"
_WRAPPER_PREFIX = re.compile(r"https?://[a-z0-9.-]*")
_URL_REST = re.compile(r"[^\s<>\"']*")
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


_PARAMETERS = {name: re.compile(r"[?&](?:amp;)?" + name + r"=([^&#]*)") for name in ("url", "u")}
_WHITESPACE = re.compile(r"\s")


def _query_param(url: str, name: str) -> str | None:
    match = _PARAMETERS[name].search(url)
    return None if match is None else unquote(match.group(1).replace("+", " "))


def _looks_like_url(value: str) -> bool:
    return bool(value) and ":" in value[:12] and _WHITESPACE.search(value) is None


def _decode_safelink(match: re.Match[str]) -> str:
    wrapped = match.group(0)
    target = _query_param(wrapped, "url")
    return target if target is not None and _looks_like_url(target) else wrapped


def _decode_urldefense_v12(match: re.Match[str]) -> str:
    wrapped = match.group(0)
    encoded = _PARAMETERS["u"].search(wrapped)
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
    if lowered is None or len(lowered) != len(text):
        lowered = text.lower()
    if len(lowered) != len(text):  # case folding changed lengths: search the text itself
        lowered = text
    pieces: list[str] = []
    done = 0
    index = lowered.find(_SAFELINK_HOST)
    while index >= 0:
        start = lowered.rfind("http", max(done, index - 40), index)
        end_match = _URL_REST.match(text, index)
        end = end_match.end() if end_match is not None else index
        if start >= 0 and _WRAPPER_PREFIX.fullmatch(lowered, start, index):
            target = _query_param(text[start:end], "url")
            if target is not None and _looks_like_url(target):
                pieces.append(text[done:start])
                pieces.append(target)
                done = end
        index = lowered.find(_SAFELINK_HOST, max(end, index + 1))
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


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
    lowered = text.lower()
    for _ in range(_MAX_PASSES):
        safelinks = _SAFELINK_HOST in lowered
        urldefense = "urldefense" in lowered
        if not safelinks and not urldefense:
            break
        decoded = _replace_safelinks(text, lowered) if safelinks else text
        if urldefense:
            decoded = _URLDEFENSE_V12.sub(
                _decode_urldefense_v12, _URLDEFENSE_V3.sub(_decode_urldefense_v3, decoded)
            )
        if decoded == text:
            break
        text = decoded
        lowered = text.lower()
    return text
