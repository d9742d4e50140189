"""The fast text paths give exactly what the straightforward reference implementations give.

``tests/unit/rules/reference.py`` keeps the first, obviously-correct implementations of HTML →
text and link unwrapping; hypothesis feeds both hostile HTML and text and requires identical
output, character for character.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from otj.rules.html import html_to_text, normalise_whitespace
from tests.unit.rules import reference

SPACES = [" ", "  ", "\n", "\r\n", "\t", "\xa0", "\u2003", "\u3000", "\x0b", "\x1f", "\x85"]
WORDS = [
    "Join", "Meeting ID:", "123 456", "sip:1234@example.com", "&amp;", "&nbsp;", "&lt;",
    "&#64;", "é", "İ", "ß", "\U0001f600", "\u200b", "teams@vc.example.com", "x", "",
]  # fmt: skip
HREFS = [
    "https://meet.google.com/abc-defg-hij", " https://x.example.com/?a=1&amp;b=2 ", "#top", "",
    "mailto:a@example.com", "   ",
    "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fzoom.us%2Fj%2F1&amp;data=05",
]  # fmt: skip
INLINE = ["span", "font", "a", "b", "strong", "i", "em", "u", "o:p", "small"]
BLOCK = ["p", "div", "td", "tr", "table", "li", "ul", "h3", "blockquote", "center", "pre"]
OTHER = ["style", "script", "svg", "math", "textarea", "title", "template", "select", "option"]
VOID = ["<br>", "<br/>", "<img src=x>", "<hr>", "<wbr>", "<!-- c -->", "<!---->", "<meta x>"]

TEXT = st.one_of(
    st.sampled_from([word for word in WORDS if word]),
    st.lists(st.sampled_from(SPACES + WORDS), max_size=6).map("".join),
)


TAGS = INLINE * 2 + BLOCK + OTHER
HREF = st.one_of(st.just(""), st.sampled_from(HREFS).map(lambda href: f' href="{href}"'))
OPEN = st.builds(lambda tag, href: f"<{tag}{href}>", st.sampled_from(TAGS), HREF)
CLOSE = st.sampled_from(TAGS).map(lambda tag: f"</{tag}>")
NESTED = st.recursive(
    TEXT,
    lambda inner: st.builds(
        lambda before, tag, href, body, after: f"{before}<{tag}{href}>{body}</{tag}>{after}",
        TEXT,
        st.sampled_from(TAGS),
        HREF,
        st.lists(inner, min_size=1, max_size=3).map("".join),
        TEXT,
    ),
    max_leaves=12,
)
HTML = st.lists(
    st.one_of(NESTED, TEXT, OPEN, CLOSE, st.sampled_from(VOID)), min_size=1, max_size=16
).map("".join)
"""Well-nested elements between token soup (unbalanced, misnested tags the parser repairs)."""


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(html="x<b>y</b>z<o:p></o:p>w<i><!-- c --></i>v")
@example(html="<svg><style><script>x</script>y</style></svg>z<a href=' u '>t</a>")
@given(html=HTML)
def test_html_to_text_matches_reference_on_generated_html(html: str) -> None:
    assert html_to_text(html) == reference.html_to_text(html)


@settings(max_examples=200, deadline=None)
@given(html=st.text(max_size=300))
def test_html_to_text_matches_reference_on_any_text(html: str) -> None:
    assert html_to_text(html) == reference.html_to_text(html)


@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(
        st.one_of(st.sampled_from([*SPACES, "\x00", "\x00\x00", "a", "b c"]), st.text(max_size=5)),
        max_size=20,
    ).map("".join)
)
def test_normalise_whitespace_matches_reference(text: str) -> None:
    assert normalise_whitespace(text) == reference.normalise_whitespace(text)
