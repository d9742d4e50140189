"""HTML invitation bodies → plain text that keeps every link target (DESIGN.md §4.1).

``Join <https://…>``: each ``<a href>`` is followed by its target in angle brackets, the way
Outlook writes its own text/plain bodies. Entities are unescaped by the parser (Lexbor, through
selectolax's public API), ``<style>``/``<script>`` are dropped, and whitespace is normalised:
runs of spaces become one space, every block (paragraph, ``div``, ``br``, table cell, list item,
…) is a line, blank lines disappear.

How: the common inline elements are unwrapped and adjacent text nodes merged, so that the
remaining text nodes are exactly the block-level runs of text; selectolax joins them with a NUL
marker (the parser never leaves U+0000 in text) that becomes the line break. Rare inline
elements that are not unwrapped only cost an extra line break, never text. Every step is a
selectolax call that walks the tree without recursion in Python.

Hostile input is bounded: markup beyond ``MAX_HTML_CHARS`` is cut, and elements nested deeper
than ``MAX_DEPTH`` lose their tags (not their text) before parsing; the result says what was cut.
An HTML5 parser checks the stack of open elements at every start tag, so 100,000 nested
``<div>``s cost it minutes; 256 levels cost nothing, and real invitations nest a few dozen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

MAX_HTML_CHARS = 512 * 1024
"""HTML beyond this many characters is not converted (real invitations are far smaller)."""
MAX_DEPTH = 256
"""Start tags nested deeper than this are dropped before parsing (with their end tags)."""

_TAGS_WITHOUT_CHECK = 4096
"""Markup with at most this many ``<`` is parsed as it is (bounded however it nests)."""
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^<>]*?(/?)>")
_VOID = ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr")
_IMPLIED_END = ("p", "li", "dt", "dd", "tr", "td", "th", "option", "tbody", "thead", "tfoot")
_NOT_NESTING = frozenset(_VOID + _IMPLIED_END)
"""Elements that never deepen the tree for long: void ones, and those whose end is implied."""

_LINE = "\x00"  # never in parsed text: the HTML parser drops U+0000
_INLINE = ("span", "font", "b", "strong", "i", "em", "u", "o:p", "small")  # and "a", see convert

_HTML_HINT = re.compile(
    r"<(?:a\s[^>]*href|br\s*/?>|p[\s>]|/p>|div[\s>]|/div>|span[\s>]|/span>|b>|/b>|i>|/i>|"
    r"table[\s>]|td[\s>]|tr[\s>]|font[\s>]|strong>|em>|li>|ul>|ol>|html|body|!DOCTYPE)",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Converted:
    """The text of an HTML body; ``cut`` says what was left out (empty when nothing was)."""

    text: str
    cut: str = ""


def looks_like_html(text: str) -> bool:
    """True when a "plain text" body is really markup (Google descriptions often are)."""
    return "<" in text and _HTML_HINT.search(text, 0, MAX_HTML_CHARS) is not None


def html_to_text(html: str) -> str:
    """Convert an HTML body to normalised plain text, keeping link targets as ``<target>``."""
    return convert(html).text


def convert(html: str) -> Converted:
    """``html_to_text``, cutting markup beyond ``MAX_HTML_CHARS`` (and saying so)."""
    cuts = []
    if len(html) > MAX_HTML_CHARS:
        cuts.append(
            f"the HTML body has {len(html):,} characters: only the first "
            f"{MAX_HTML_CHARS:,} were converted to text"
        )
        html = html[:MAX_HTML_CHARS]
    html, dropped = limit_depth(html)
    if dropped:
        cuts.append(f"{dropped:,} tags nested deeper than {MAX_DEPTH} levels were ignored")
    cut = "; ".join(cuts)
    if not html:
        return Converted(text="", cut=cut)
    parser = LexborHTMLParser(html)
    body = parser.body
    if body is None:  # pragma: no cover - Lexbor always creates <body>
        return Converted(text="", cut=cut)
    # ``tags`` walks the document for one tag name; ``css`` would first build a selector engine
    for name in ("style", "script"):
        for node in parser.tags(name):
            node.decompose(recursive=False)  # later matches inside it stay valid
    for link in parser.tags("a"):
        href = (link.attributes.get("href") or "").strip()
        if href and not href.startswith("#"):
            link.insert_after(f" <{href}>")
        link.unwrap()
    for name in _INLINE:
        for node in parser.tags(name):
            node.unwrap()
    body.merge_text_nodes()
    raw = body.text(separator=_LINE, strip=True, skip_empty=True)
    return Converted(text=normalise_whitespace(raw), cut=cut)


def limit_depth(html: str) -> tuple[str, int]:
    """``html`` without the start and end tags nested deeper than ``MAX_DEPTH``; how many.

    Markup with few tags is returned as it is: it cannot nest deep enough to matter.

    Depth is counted as well-formed markup would nest (elements of ``_NOT_NESTING`` and
    self-closed tags do not count); an end tag closes the innermost open element.
    """
    if html.count("<") <= _TAGS_WITHOUT_CHECK:
        return html, 0
    depth = excess = dropped = 0

    def visit(tag: re.Match[str]) -> str:
        nonlocal depth, excess, dropped
        closing, name, self_closing = tag.groups()
        if self_closing or name.lower() in _NOT_NESTING:
            return tag.group(0)
        if closing:
            if excess:
                excess -= 1
                return ""
            depth = max(0, depth - 1)
            return tag.group(0)
        if depth < MAX_DEPTH:
            depth += 1
            return tag.group(0)
        excess += 1
        dropped += 1
        return ""

    return _TAG.sub(visit, html), dropped


def normalise_whitespace(text: str) -> str:
    """Collapse whitespace runs to one space, turn line markers into newlines, drop blank lines."""
    parts = [" ".join(part.split()) for part in text.split(_LINE)]
    return "\n".join([part for part in parts if part])
