# ruff: noqa: E501, ISC004  (tables of real-looking invitation texts)
"""Safe Links and Proofpoint URL Defense v1/v2/v3 decoding tables."""

from __future__ import annotations

import pytest

from otj.rules.links import (
    decode_safelinks,
    decode_urldefense,
    decode_urldefense_v3_parts,
    decode_wrapped_links,
)

SAFELINKS = [
    (
        "Join: https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fmeet.google.com"
        "%2Fbcd-efgh-ijk&data=05%7C02%7Croom%40example.com&sdata=abc%3D&reserved=0",
        "Join: https://meet.google.com/bcd-efgh-ijk",
    ),
    (  # Outlook text/plain: target in angle brackets, &amp; left by an HTML source
        "Local numbers<https://nam06.safelinks.protection.outlook.com/?url=https%3A%2F%2Fdialin.teams"
        ".microsoft.com%2F8551f4c1%3Fid%3D73572842&amp;data=02%7C01&amp;sdata=r4z%3D&amp;reserved=0>",
        "Local numbers<https://dialin.teams.microsoft.com/8551f4c1?id=73572842>",
    ),
    (  # the newer /ap/<x>/ path, upper-case host
        "https://NAM12.SAFELINKS.PROTECTION.OUTLOOK.COM/ap/t-59584e83/?url=https%3A%2F%2Fx.example.com"
        "%2Fa%3Fb%3D1%26c%3D2&data=1",
        "https://x.example.com/a?b=1&c=2",
    ),
    ("no wrapper here https://example.com/?url=x", "no wrapper here https://example.com/?url=x"),
    (  # malformed: no url parameter → unchanged
        "https://eur01.safelinks.protection.outlook.com/?data=05",
        "https://eur01.safelinks.protection.outlook.com/?data=05",
    ),
]

URLDEFENSE = [
    (  # v3, nothing replaced
        "Join: https://urldefense.com/v3/__https://meet.google.com/cde-fghi-jkl__;!!ABcdEfGh!xyz123$ thanks",
        "Join: https://meet.google.com/cde-fghi-jkl thanks",
    ),
    (  # v3: '*' replaced by the base64-coded characters "%#" in order
        "https://urldefense.com/v3/__https://x.example.com/o/owa*2Findex.html?token=02*vicky__;JSM!!Fjc1!sig$",
        "https://x.example.com/o/owa%2Findex.html?token=02#vicky",
    ),
    (  # v3 run: '**A' = the next 2 characters ("&=" base64 "Jj0")
        "https://urldefense.com/v3/__https://x.example.com/?a=1**Ab=2__;Jj0!!C!S$",
        "https://x.example.com/?a=1&=b=2",
    ),
    (  # v3 on urldefense.proofpoint.com
        "<https://urldefense.proofpoint.com/v3/__https://acme.zoom.us/j/9876543210__;!!AbC!dEf$>",
        "<https://acme.zoom.us/j/9876543210>",
    ),
    (  # v2: '-' for '%', '_' for '/'
        "https://urldefense.proofpoint.com/v2/url?u=https-3A__meet.google.com_abc-2Ddefg-2Dhij"
        "&d=DwMFaQ&c=x&r=y&m=z&s=w&e=",
        "https://meet.google.com/abc-defg-hij",
    ),
    (  # v2 inside HTML-derived text with &amp;
        "see <https://urldefense.proofpoint.com/v2/url?u=https-3A__acme.zoom.us_j_9876543210-3Fpwd-3Dx"
        "&amp;d=DwMF&amp;c=x&amp;e=>",
        "see <https://acme.zoom.us/j/9876543210?pwd=x>",
    ),
    (  # v1: percent-encoded
        "https://urldefense.proofpoint.com/v1/url?u=https%3A%2F%2Fexample.com%2Fa&k=abc",
        "https://example.com/a",
    ),
    (  # v3 whose replacement bytes run out → unchanged
        "https://urldefense.com/v3/__https://x.example.com/**Z__;JSM!!C!S$",
        "https://urldefense.com/v3/__https://x.example.com/**Z__;JSM!!C!S$",
    ),
]


@pytest.mark.parametrize(("text", "expected"), SAFELINKS)
def test_safelinks(text: str, expected: str) -> None:
    assert decode_safelinks(text) == expected
    assert decode_wrapped_links(text) == expected


@pytest.mark.parametrize(("text", "expected"), URLDEFENSE)
def test_urldefense(text: str, expected: str) -> None:
    assert decode_urldefense(text) == expected
    assert decode_wrapped_links(text) == expected


def test_v3_parts() -> None:
    assert decode_urldefense_v3_parts("https://a.example/*x", "Iw") == "https://a.example/#x"
    assert decode_urldefense_v3_parts("https://a.example/*", "") is None
    assert decode_urldefense_v3_parts("*", "_w") is None  # 0xFF is not UTF-8


def test_nested_wrappers() -> None:
    inner = "https://urldefense.com/v3/__https://meet.google.com/abc-defg-hij__;!!A!B$"
    from urllib.parse import quote

    outer = f"https://eur01.safelinks.protection.outlook.com/?url={quote(inner, safe='')}&data=1"
    assert decode_wrapped_links(outer) == "https://meet.google.com/abc-defg-hij"
