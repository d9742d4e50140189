"""The native HTML walk (otj/rules/_lexbor_text.c): in use, bound safely, robust on big trees.

Its text is compared with the Python path and the reference on generated hostile HTML in
test_fast_paths.py (``html_to_text`` is the native walk whenever it is bound).
"""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from html import escape
from urllib.parse import quote

import pytest
import selectolax.lexbor
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from otj.rules import html
from otj.rules.links import decode_wrapped_links_lower
from tests.unit.rules import reference

NATIVE_OFF = os.environ.get("OTJ_NATIVE_HTML") == "0"


def test_the_native_walk_is_in_use() -> None:
    """A build that lost the extension (no compiler, a selectolax it cannot bind) shows here."""
    assert (html._native_body_texts is None) == NATIVE_OFF, (
        "the native HTML walk is not bound: is otj/rules/_lexbor_text.c built "
        "(pip install -e .) and does the installed selectolax export Lexbor's accessors?"
    )


def test_it_can_be_switched_off_and_the_text_stays_the_same() -> None:
    code = (
        "from otj.rules import html; import sys;"
        "sys.stdout.write(repr((html._native_body_texts is None,"
        " html.html_to_text('<p>Join <a href=\"https://x.example/j\">here</a></p><p>b</p>'))))"
    )
    off = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "OTJ_NATIVE_HTML": "0"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert off.stdout == repr((True, "Join here <https://x.example/j>\nb"))


@pytest.mark.skipif(NATIVE_OFF, reason="the native walk is switched off for this run")
class TestBinding:
    def test_a_missing_library_is_an_import_error(self) -> None:
        from otj.rules import _lexbor_text

        with pytest.raises(ImportError, match="cannot open"):
            _lexbor_text.bind("/nonexistent/lexbor.so")

    def test_a_library_without_lexbor_leaves_the_binding_as_it_was(self) -> None:
        from otj.rules import _lexbor_text

        libc = ctypes.util.find_library("c")
        assert libc is not None
        with pytest.raises(ImportError, match="does not export lxb_dom_node_first_child_noi"):
            _lexbor_text.bind(libc)
        assert html.html_to_text("<p>a</p><p>b</p>") == "a\nb"
        _lexbor_text.bind(selectolax.lexbor.__file__)  # binding again is harmless

    def test_a_null_address_is_refused(self) -> None:
        from otj.rules import _lexbor_text

        with pytest.raises(ValueError, match="null node"):
            _lexbor_text.body_texts(0)


@pytest.mark.parametrize("tag", ["div", "span", "a href=x", "b", "table><tr><td"])
def test_deeply_nested_markup(tag: str) -> None:
    """No recursion in C: 20,000 levels convert as the Python path does."""
    name = tag.split(maxsplit=1)[0].split(">", maxsplit=1)[0]
    doc = f"<{tag}>x" * 20_000 + "y" + f"</{name}>" * 20_000
    assert html.html_to_text(doc) == html.python_html_to_text(doc)


def test_a_large_body() -> None:
    row = "<p class=MsoNormal><span>Agenda&nbsp;item <a href='https://ex.example/{0}'>{0}</a></span></p>"
    doc = "".join(row.format(index) for index in range(20_000))  # ~1.7 MB
    text = html.html_to_text(doc)
    assert text == reference.html_to_text(doc)
    assert text.count("\n") == 19_999


@pytest.mark.skipif(NATIVE_OFF, reason="the native walk is switched off for this run")
def test_the_body_is_read_not_changed() -> None:
    parser = LexborHTMLParser("<p>a <b>b</b> <a href='u'>c</a></p><script>x</script>")
    body, walk = parser.body, html._native_body_texts
    assert body is not None
    assert walk is not None
    before = parser.html
    assert walk(body.mem_id) == ("a b c <u>", "a b c <u>")
    assert parser.html == before


@pytest.mark.skipif(NATIVE_OFF, reason="the native walk is switched off for this run")
def test_a_walk_that_disagrees_with_the_python_path_is_not_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from otj.rules import _lexbor_text

    monkeypatch.setattr(_lexbor_text, "body_texts", lambda address: ("not the text", ""))
    assert html._bind_native() is None
    assert "disagrees with selectolax" in caplog.text
    monkeypatch.undo()
    assert html._bind_native() is not None


def test_a_walk_that_fails_is_not_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(address: int) -> str:
        raise AttributeError("mem_id")

    if NATIVE_OFF:
        assert html._bind_native() is None
        return
    from otj.rules import _lexbor_text

    monkeypatch.setattr(_lexbor_text, "body_texts", broken)
    assert html._bind_native() is None
    assert "self-check failed" in caplog.text


# --- Safe Links hrefs decoded during the walk ------------------------------------------------

SCHEMES = ["https://", "http://", "HTTPS://", "https://x.http", "hxxps://", "", "https://http"]
REGIONS = ["eur01.", "nam12.", "EUR01.", "a" * 40 + ".", "", "x_y."]
HOSTS = [
    "safelinks.protection.outlook.com/",
    "SAFELINKS.protection.outlook.com/",
    "safelinks.protection.outlook.com",
]
QUERIES = [
    "?url=",
    "/ap/x/?url=",
    "?a=1&url=",
    "?a=1&amp;url=",
    "?URL=",
    "?data=1",
    "?url",
    "&url=",
]
TARGETS = [
    quote("https://zoom.us/j/123", safe=""),
    quote("https://meet.google.com/abc-defg-hij", safe=""),
    "https://meet.google.com/abc-defg-hij",
    quote("sip:1@x.example", safe=""),
    quote("https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fa.b", safe=""),
    quote("https://urldefense.com/v3/__https://a.b__;!!x$", safe=""),
    quote("https://caf\u00e9.example/", safe=""),
    "a+b:c",
    "nocolon",
    "Safe%3Ax",
    "urldefense%3Ax",
    "%G1https%3A%2F%2Fa.b",
    "https%3A%2F%2Fa.b%2F%2B",
    "https%3A%2F%2Fa.b%4",
    "",
    "h%20ttps://a",
    "HTTPS%3A%2F%2FA.B",
]
TAILS = ["", "&data=05%7C02%7Cx", "#frag", "&amp;data=1", "'q", "%7C"]
SPACE = st.sampled_from(["", " ", "\u3000", "\n"])
HREF = st.builds(
    lambda *parts: "".join(parts),
    SPACE,
    st.sampled_from(SCHEMES),
    st.sampled_from(REGIONS),
    st.sampled_from(HOSTS),
    st.sampled_from(QUERIES),
    st.sampled_from(TARGETS),
    st.sampled_from(TAILS),
    SPACE,
)
LABEL = st.one_of(st.sampled_from(["Join", "\u0130stanbul", "x", ""]), HREF)
LINK = st.builds(
    lambda href, label, before: f'{before}<a href="{escape(href)}">{escape(label)}</a>',
    HREF,
    LABEL,
    st.sampled_from(["", "See ", "<p>", "http", " <"]),
)
DOC = st.lists(LINK, min_size=1, max_size=5).map("".join)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(
    doc='<a href="https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fzoom.us%2Fj%2F1&amp;data=05">J</a>'
)
@given(doc=DOC)
def test_decoded_link_targets_decode_to_the_same_text(doc: str) -> None:
    """Whatever the walk decodes, decoding the rest gives what decoding everything gives."""
    text, decoded = html.html_to_texts(doc)
    assert text == reference.html_to_text(doc)
    assert decode_wrapped_links_lower(decoded) == decode_wrapped_links_lower(text)
    assert decode_wrapped_links_lower(text)[0] == reference.decode_wrapped_links(text)


@pytest.mark.skipif(NATIVE_OFF, reason="the native walk is switched off for this run")
@pytest.mark.parametrize(
    ("href", "decoded"),
    [
        (
            (
                "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fzoom.us%2Fj%2F1"
                "&data=05%7C02"
            ),
            "https://zoom.us/j/1",
        ),
        (
            (
                " https://nam12.safelinks.protection.outlook.com/ap/t-59584e83/?url=https%3A%2F%2F"
                "teams.microsoft.com%2Fl%2Fmeetup-join%2F19&amp;data=x "
            ),
            "https://teams.microsoft.com/l/meetup-join/19",
        ),
        # left for the text decoder: a nested wrapper, a non-ASCII target, an upper-case host
        (
            "https://eur01.safelinks.protection.outlook.com/?url="
            + quote(
                "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fa.b", safe=""
            ),
            None,
        ),
        ("https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fcaf%C3%A9.fr", None),
        ("https://eur01.SAFELINKS.protection.outlook.com/?url=https%3A%2F%2Fa.b", None),
    ],
)
def test_which_hrefs_the_walk_decodes(href: str, decoded: str | None) -> None:
    text, predecoded = html.html_to_texts(f'<p>Join <a href="{escape(href)}">here</a></p>')
    assert text == f"Join here <{href.strip()}>"
    assert predecoded == (text if decoded is None else f"Join here <{decoded}>")
