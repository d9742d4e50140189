"""HTML invitation bodies → plain text that keeps every link target (DESIGN.md §4.1).

``Join <https://…>``: each ``<a href>`` is followed by its target in angle brackets, the way
Outlook writes its own text/plain bodies. Entities are unescaped by the parser (Lexbor, through
selectolax), ``<style>``/``<script>`` are dropped, and whitespace is normalised: runs of spaces
become one space, every block (paragraph, ``div``, ``br``, table cell, list item, …) is a line,
blank lines disappear.

Two implementations give the same text. The native one (``otj/rules/_lexbor_text.c``, built
with the package) walks the parsed body once in C through Lexbor's public accessors and writes
the normalised text directly. The Python one, used when the extension is missing, cannot bind to
the installed selectolax, fails its self-check, or ``OTJ_NATIVE_HTML=0`` is set, does the same
with Lexbor's DOM operations: the common inline elements are unwrapped and adjacent text nodes
merged, so that the remaining text nodes are exactly the block-level runs of text; they are
joined with a NUL marker (the parser never leaves U+0000 in text) that becomes the line break.
Rare inline elements that are not unwrapped only cost an extra line break, never text.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable

import selectolax.lexbor
from selectolax.lexbor import LexborCSSSelector, LexborHTMLParser, LexborNode

from otj.rules.links import decode_wrapped_links

_log = logging.getLogger(__name__)

_LINE = "\x00"  # never in parsed text: the HTML parser drops U+0000
_INLINE = "span,font,a,b,strong,i,em,u,o\\:p,small"
_LINKS_AND_DROPPED = "a[href],style,script"

_HTML_HINT = re.compile(
    r"<(?:a\s[^>]*href|br\s*/?>|p[\s>]|/p>|div[\s>]|/div>|span[\s>]|/span>|b>|/b>|i>|/i>|"
    r"table[\s>]|td[\s>]|tr[\s>]|font[\s>]|strong>|em>|li>|ul>|ol>|html|body|!DOCTYPE)",
    re.IGNORECASE,
)


_LOCAL = threading.local()


def _selector() -> LexborCSSSelector:
    """This thread's CSS selector engine.

    selectolax creates a Lexbor CSS parser and selector engine for every document on its first
    ``css()`` call, which costs as much as parsing a 10 KB body; one engine per thread serves
    every document (``find`` takes the node to search from).
    """
    selector: LexborCSSSelector | None = getattr(_LOCAL, "selector", None)
    if selector is None:
        selector = _LOCAL.selector = LexborCSSSelector()  # type: ignore[no-untyped-call]
    return selector


def looks_like_html(text: str) -> bool:
    """True when a "plain text" body is really markup (Google descriptions often are)."""
    return "<" in text and _HTML_HINT.search(text) is not None


def html_to_text(html: str) -> str:
    """Convert an HTML body to normalised plain text, keeping link targets as ``<target>``."""
    return html_to_texts(html)[0]


def html_to_texts(html: str) -> tuple[str, str]:
    """``html_to_text(html)``, and the same text with some Safe Links link targets decoded.

    The second text may differ from the first only where ``otj.rules.links`` would decode a
    Safe Links wrapper anyway (the native walk decodes an ``href`` that is certainly such a
    wrapper, with a final target), so that ``decode_wrapped_links`` gives the same result for
    both and has less left to do on the second. The Python path returns the text twice.
    """
    if not html:
        return "", ""
    parser = LexborHTMLParser(html)
    body = parser.body
    if body is None:  # pragma: no cover - Lexbor always creates <body>
        return "", ""
    if _native_body_texts is not None:
        return _native_body_texts(body.mem_id)  # parser keeps the document alive meanwhile
    text = _python_body_text(body)
    return text, text


def python_html_to_text(html: str) -> str:
    """``html_to_text`` without the native walk (the fallback, and its tests' oracle)."""
    if not html:
        return ""
    body = LexborHTMLParser(html).body
    return "" if body is None else _python_body_text(body)


def _python_body_text(body: LexborNode) -> str:
    find = _selector().find
    # one walk finds both the links and the dropped elements (each selector walks the tree)
    for node in find(_LINKS_AND_DROPPED, body):
        if node.tag != "a":
            node.decompose(recursive=False)  # as strip_tags: nested matches stay valid
            continue
        href = node.attrs.get("href")
        if href:
            href = href.strip()
            if href and not href.startswith("#"):
                node.insert_after(f" <{href}>")
    for inline in find(_INLINE, body):
        inline.unwrap()
    body.merge_text_nodes()
    # Lexbor skips ASCII-whitespace-only text nodes and strips the others (str.strip()).
    return _join_stripped(body.text(separator=_LINE, strip=True, skip_empty=True))


def normalise_whitespace(text: str) -> str:
    """Collapse whitespace runs to one space, turn line markers into newlines, drop blank lines."""
    return "\n".join(
        [" ".join(part.split()) for part in text.split(_LINE) if part and not part.isspace()]
    )


def _join_stripped(text: str) -> str:
    """``normalise_whitespace`` for text whose parts are already stripped.

    Text whose parts hold no whitespace but single spaces is already normal inside its parts,
    and only the empty parts go. ASCII text is checked with a few C-level scans for control
    whitespace; other text with ``str.isprintable`` (every whitespace character but the space
    is unprintable). Anything else goes through split/join part by part.
    """
    if "  " not in text and (
        (
            text.isascii()
            and "\n" not in text
            and "\t" not in text
            and "\r" not in text
            and "\x0b" not in text
            and "\x0c" not in text
            and "\x1c" not in text
            and "\x1d" not in text
            and "\x1e" not in text
            and "\x1f" not in text
        )
        or (not text.isascii() and text.replace(_LINE, " ").isprintable())
    ):
        return "\n".join(filter(None, text.split(_LINE)))
    return "\n".join([" ".join(part.split()) for part in text.split(_LINE) if part])


# Documents whose text shows each rule of the conversion; the native walk must agree on all of
# them with the Python path before it is used (a selectolax whose Lexbor behaves differently
# would fail here, not in production).
_SELF_CHECK = (
    "<p>Join <b>the</b> <a href=' https://meet.google.com/abc-defg-hij '>meeting</a>.</p>",
    "x<b>y</b>z<o:p></o:p>w<i><!-- c --></i>v<span><style>s</style></span>u",
    "<div>a&nbsp; b<br>c\u3000d<table><tr><td>e</td><td>f</td></tr></table></div>",
    "<a href='#top'>t</a><a href=''>u</a><a href='x'></a>y<script>z</script>w",
    "<svg><style><a href='q'>r</a></style></svg>s<font>\u00e9\U0001f600</font>",
    (
        "<a href='https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fzoom.us%2Fj%2F1"
        "&amp;data=05'>Join</a>"
    ),
)


_Walk = Callable[[int], tuple[str, str]]


def _native_agrees(walk: _Walk, html: str) -> bool:
    parser = LexborHTMLParser(html)
    body = parser.body
    if body is None:  # pragma: no cover - Lexbor always creates <body>
        return False
    text, decoded = walk(body.mem_id)
    return text == python_html_to_text(html) and decode_wrapped_links(
        decoded
    ) == decode_wrapped_links(text)


def _bind_native() -> _Walk | None:
    """The native walk, bound to the installed selectolax and checked, or None (see above)."""
    if os.environ.get("OTJ_NATIVE_HTML", "1") == "0":
        return None
    try:
        from otj.rules import _lexbor_text

        _lexbor_text.bind(selectolax.lexbor.__file__)
    except (ImportError, OSError) as exc:
        _log.info("HTML conversion without the native walk: %s", exc)
        return None
    walk = _lexbor_text.body_texts
    try:
        agrees = all(_native_agrees(walk, html) for html in _SELF_CHECK)
    except Exception as exc:  # noqa: BLE001 - e.g. a selectolax without LexborNode.mem_id
        _log.warning("HTML conversion without the native walk: its self-check failed: %r", exc)
        return None
    if not agrees:
        _log.warning(
            "HTML conversion without the native walk: it disagrees with selectolax %s",
            getattr(selectolax, "__version__", "?"),
        )
        return None
    return walk


_native_body_texts = _bind_native()
