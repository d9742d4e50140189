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

Hostile input is bounded: markup beyond ``MAX_HTML_CHARS`` is cut before parsing (the result
says how much), so that time and memory stay bounded whatever the nesting or the size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

MAX_HTML_CHARS = 1_000_000
"""HTML beyond this many characters is not converted (real invitations are far smaller)."""

_LINE = "\x00"  # never in parsed text: the HTML parser drops U+0000
_INLINE = "span,font,a,b,strong,i,em,u,o\\:p,small"

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
    cut = ""
    if len(html) > MAX_HTML_CHARS:
        cut = (
            f"the HTML body has {len(html):,} characters: only the first "
            f"{MAX_HTML_CHARS:,} were converted to text"
        )
        html = html[:MAX_HTML_CHARS]
    if not html:
        return Converted(text="", cut=cut)
    body = LexborHTMLParser(html).body
    if body is None:  # pragma: no cover - Lexbor always creates <body>
        return Converted(text="", cut=cut)
    for node in body.css("a[href],style,script"):  # one walk for both
        if node.tag != "a":
            node.decompose(recursive=False)  # nested matches stay valid
            continue
        href = (node.attributes.get("href") or "").strip()
        if href and not href.startswith("#"):
            node.insert_after(f" <{href}>")
    for node in body.css(_INLINE):
        node.unwrap()
    body.merge_text_nodes()
    raw = body.text(separator=_LINE, strip=True, skip_empty=True)
    return Converted(text=normalise_whitespace(raw), cut=cut)


def normalise_whitespace(text: str) -> str:
    """Collapse whitespace runs to one space, turn line markers into newlines, drop blank lines."""
    parts = (" ".join(part.split()) for part in text.split(_LINE))
    return "\n".join(part for part in parts if part)
