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
import sys
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


def _unquote(value: str) -> str:
    """``urllib.parse.unquote``, percent-decoding ASCII text in C with ``binascii.a2b_qp``.

    ``=`` is written ``=3D`` and ``%`` as ``=``, so every escape becomes a quoted-printable one.
    Each ``=`` that starts a valid escape shortens the result by two and nothing else does (line
    breaks, which ``a2b_qp`` treats specially, are left to ``unquote``): the length shows whether
    every ``%`` was a valid escape, and then the bytes are exactly ``unquote_to_bytes(value)``.
    """
    if "%" not in value:
        return value
    if value.isascii() and "\n" not in value and "\r" not in value:
        raw = binascii.a2b_qp(value.replace("=", "=3D").replace("%", "="))
        if len(raw) + 2 * value.count("%") == len(value):
            return raw.decode("utf-8", "replace")
    return unquote(value)


def _looks_like_url(value: str) -> bool:
    return bool(value) and ":" in value[:12] and value.split(None, 1) == [value]


# every character for which str.isspace() holds, i.e. what \s matches; a test checks the list
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_URL_STOPS = _WHITESPACE + "<>\"'"  # a URL ends at the first of these


def _all_but(excluded: str) -> str:
    """A regex class of every character not in ``excluded``, as ranges.

    SRE tests such a positive class with one table look-up per character; ``[^\\s…]`` costs
    several, which made the scan of a wrapped URL the slowest step.
    """
    ranges: list[str] = []
    low = 0
    for code in sorted({ord(char) for char in excluded}):
        if code > low:
            ranges.append(f"\\U{low:08x}-\\U{code - 1:08x}")
        low = code + 1
    ranges.append(f"\\U{low:08x}-\\U{sys.maxunicode:08x}")
    return "[" + "".join(ranges) + "]"


_PREFIX = re.compile(r"https?://[a-z0-9.-]*").fullmatch
# From a Safe Links host to the end of its URL, capturing the value of the first ?url=, &url= or
# &amp;url= parameter (up to & or #) when there is one: runs without ? or &, each ? or & that does
# not start the parameter, then the parameter. Possessive: nothing is ever given back.
_SAFELINK_REST = re.compile(
    "(?:{q}*+(?:[?&](?!(?:amp;)?url=){q}*+)*+[?&](?:amp;)?url=({v}*+))?+{u}*+".format(
        q=_all_but(_URL_STOPS + "?&"), v=_all_but(_URL_STOPS + "&#"), u=_all_but(_URL_STOPS)
    )
)


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


_NEEDLE_CHARS = frozenset(_SAFELINK_HOST + "urldefense")


_ASCII_BYTES = bytes(range(128))


def lower(text: str) -> str:
    """``text.lower()``, several times faster for mostly-ASCII text with a few non-ASCII signs.

    CPython lowers a non-ASCII string character by character through the Unicode database;
    when no non-ASCII character has a lower case of its own (checked on those characters
    alone: deleting the ASCII bytes from UTF-8 leaves whole multi-byte sequences), lowering
    the UTF-8 bytes (ASCII letters only) gives the same string.
    """
    if text.isascii():
        return text.lower()
    try:
        encoded = text.encode()
    except UnicodeEncodeError:  # lone surrogates
        return text.lower()
    others = encoded.translate(None, _ASCII_BYTES).decode()
    if others.lower() != others:
        return text.lower()
    return encoded.lower().decode()


def _replace_safelinks_lower(text: str, lowered: str | None = None) -> tuple[str, str | None, bool]:
    """``_replace_safelinks``, the lower case of the result (None where not built), and *settled*.

    ``lowered`` is ``text.lower()`` when given. Lower-casing is per character except for Greek
    capital sigma (final form by context) and characters whose lower case is longer, so for other
    non-ASCII text the lower case is joined from pieces; ASCII text is cheaper to lower again.

    Settled: every wrapper found was replaced and no target can make a Safe Links host or
    ``urldefense`` in the lower-cased result (none inside it, and it does not start with one of
    their characters: a match cannot straddle its end, which a URL stop or the text end follows),
    so the result has no host, and ``urldefense`` only if ``text`` had it.
    """
    if lowered is None or len(lowered) != len(text):
        lowered = lower(text)
    aligned = len(lowered) == len(text)
    search = lowered if aligned else text  # case folding changed lengths: search the text itself
    piecewise = aligned and not text.isascii() and "\u03a3" not in text
    settled = aligned
    pieces: list[str] = []
    lower_pieces: list[str] = []
    done = found = 0
    host, needle_chars = _SAFELINK_HOST, _NEEDLE_CHARS
    find, rfind, rest_at, prefix = search.find, search.rfind, _SAFELINK_REST.match, _PREFIX
    index = find(host)
    while index >= 0:
        found += 1
        # no ? or & between the scheme and the host: the parameter is searched from the host on
        rest = rest_at(text, index)
        end = rest.end()  # type: ignore[union-attr]  # the pattern matches the empty string
        value = rest[1]  # type: ignore[index]
        if value is not None:
            start = rfind("http", max(done, index - 40), index)
            if start >= 0 and prefix(search, start, index):
                target = _unquote(value.replace("+", " "))
                if _looks_like_url(target):
                    pieces += (text[done:start], target)
                    target_lower = target.lower()
                    if settled and (
                        host in target_lower
                        or "urldefense" in target_lower
                        or target_lower[0] in needle_chars
                    ):
                        settled = False
                    if piecewise:
                        if "\u03a3" in target:
                            piecewise = False
                        else:
                            lower_pieces += (lowered[done:start], target_lower)
                    done = end
        index = find(host, end)  # end > index: the host itself is part of the URL
    if not pieces:
        return text, lowered, False
    settled = settled and 2 * found == len(pieces)
    pieces.append(text[done:])
    if not piecewise:
        return "".join(pieces), None, settled
    lower_pieces.append(lowered[done:])
    return "".join(pieces), "".join(lower_pieces), settled


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
    lowered = lower(text)
    for _ in range(_MAX_PASSES):
        safelinks = _SAFELINK_HOST in lowered
        urldefense = "urldefense" in lowered
        if not safelinks and not urldefense:
            break
        decoded, decoded_lower, settled = (
            _replace_safelinks_lower(text, lowered) if safelinks else (text, None, False)
        )
        if urldefense:
            decoded = _URLDEFENSE_V12.sub(
                _decode_urldefense_v12, _URLDEFENSE_V3.sub(_decode_urldefense_v3, decoded)
            )
            decoded_lower = None
        if decoded == text:
            break
        text = decoded
        lowered = decoded_lower if decoded_lower is not None else lower(text)
        if settled and not urldefense:  # the next pass would find nothing to decode
            break
    return text, lowered
