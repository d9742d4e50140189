"""The demo home page links each demo room's panel (the link pairs it); never outside the demo."""

from otj.api.home import render_home

LINK = "/panel/fjord@demo.example?token=otj_abc&x=<1>"


def test_demo_rooms_link_their_panels() -> None:
    page = render_home(
        rooms=[("fjord@demo.example", []), ("berg@demo.example", [])],
        codecs=[("fjord@demo.example", "http://127.0.0.1:4000")],
        panels=[("fjord@demo.example", LINK)],
        demo=True,
    )
    assert (
        '<a href="/panel/fjord@demo.example?token=otj_abc&amp;x=&lt;1&gt;">room panel</a>' in page
    )
    assert page.count(">room panel</a>") == 1, "only rooms with a paired panel get a link"


def test_outside_the_demo_no_panel_link() -> None:
    page = render_home(
        rooms=[("fjord@demo.example", [])],
        codecs=[],
        panels=[("fjord@demo.example", LINK)],
        demo=False,
    )
    assert "otj_abc" not in page
    assert ">room panel</a>" not in page
