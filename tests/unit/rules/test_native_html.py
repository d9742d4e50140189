"""The native HTML walk (otj/rules/_lexbor_text.c): in use, bound safely, robust on big trees.

Its text is compared with the Python path and the reference on generated hostile HTML in
test_fast_paths.py (``html_to_text`` is the native walk whenever it is bound).
"""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys

import pytest
import selectolax.lexbor
from selectolax.lexbor import LexborHTMLParser

from otj.rules import html
from tests.unit.rules import reference

NATIVE_OFF = os.environ.get("OTJ_NATIVE_HTML") == "0"


def test_the_native_walk_is_in_use() -> None:
    """A build that lost the extension (no compiler, a selectolax it cannot bind) shows here."""
    assert (html._native_body_text is None) == NATIVE_OFF, (
        "the native HTML walk is not bound: is otj/rules/_lexbor_text.c built "
        "(pip install -e .) and does the installed selectolax export Lexbor's accessors?"
    )


def test_it_can_be_switched_off_and_the_text_stays_the_same() -> None:
    code = (
        "from otj.rules import html; import sys;"
        "sys.stdout.write(repr((html._native_body_text is None,"
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
            _lexbor_text.body_text(0)


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
    body, walk = parser.body, html._native_body_text
    assert body is not None
    assert walk is not None
    before = parser.html
    assert walk(body.mem_id) == "a b c <u>"
    assert parser.html == before


@pytest.mark.skipif(NATIVE_OFF, reason="the native walk is switched off for this run")
def test_a_walk_that_disagrees_with_the_python_path_is_not_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from otj.rules import _lexbor_text

    monkeypatch.setattr(_lexbor_text, "body_text", lambda address: "not the text")
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

    monkeypatch.setattr(_lexbor_text, "body_text", broken)
    assert html._bind_native() is None
    assert "self-check failed" in caplog.text
