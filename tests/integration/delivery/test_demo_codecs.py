"""The demo's simulated codecs: started in a thread, reachable, showing what they hold."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from otj.delivery import demo_codecs


@pytest.fixture
def demo() -> Iterator[list[tuple[str, str]]]:
    try:
        yield demo_codecs.start(["fjord@rooms.example.com", "berg@rooms.example.com"],
                                password="demo-pw")
    finally:
        demo_codecs.stop()


def test_demo_codecs_answer_and_show_bookings(demo: list[tuple[str, str]]) -> None:
    assert [room for room, _ in demo] == ["fjord@rooms.example.com", "berg@rooms.example.com"]
    room, url = demo[0]
    status = httpx.get(f"{url}/status.xml", auth=(demo_codecs.USERNAME, "demo-pw"))
    assert status.status_code == 200
    assert b"<Version>" in status.content
    assert httpx.get(f"{url}/status.xml").status_code == 401
    page = httpx.get(url + "/", auth=(demo_codecs.USERNAME, "demo-pw"))
    assert page.headers["content-type"].startswith("text/html")
    assert "Simulated codec fjord" in page.text
    endpoint = demo_codecs.endpoint_for(room, url, name="Fjord", group="Demo", password="demo-pw")
    assert endpoint.api_port == int(url.rsplit(":", 1)[1])
    assert endpoint.use_https is False
