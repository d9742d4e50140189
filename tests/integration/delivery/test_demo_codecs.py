"""The demo's simulated codecs: started in a thread, reachable, showing what they hold."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from otj.demo import codecs as demo_codecs
from otj.store import Database


@pytest.fixture
def demo() -> Iterator[list[tuple[str, str]]]:
    try:
        yield demo_codecs.start(
            ["fjord@rooms.example.com", "berg@rooms.example.com"], password="demo-pw"
        )
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


def test_the_overview_lists_the_dial_requests_received(demo: list[tuple[str, str]]) -> None:
    _, url = demo[0]
    before = httpx.get(url + "/", auth=(demo_codecs.USERNAME, "demo-pw"))
    assert "Dial requests (0)" in before.text
    command = (
        "<Command><Dial><Number>abc-defg-hij@google.pexip.me</Number><Protocol>Sip</Protocol>"
        "<BookingId>meet-now&lt;1&gt;</BookingId></Dial></Command>"
    )
    answer = httpx.post(url + "/putxml", content=command, auth=(demo_codecs.USERNAME, "demo-pw"))
    assert 'DialResult status="OK"' in answer.text
    page = httpx.get(url + "/", auth=(demo_codecs.USERNAME, "demo-pw")).text
    assert "Dial requests (1)" in page
    assert "<td>abc-defg-hij@google.pexip.me</td><td>Sip</td><td>meet-now&lt;1&gt;</td>" in page


async def test_attach_gives_every_demo_room_a_codec_that_receives_its_bookings(
    db: Database,
) -> None:
    from otj.commands.serve import install_demo
    from otj.delivery.engine.runner import DeliveryRunner
    from otj.worker.cycle import run_cycle
    from otj.worker.setup import make_poller
    from tests.integration.delivery.storehelp import deliver

    install_demo(db, db_dir(db))
    try:
        attached = demo_codecs.attach(db)
        rooms = {room for room, _, _ in attached}
        cisco = [e for e in db.config.endpoints() if e.type == "CISCO"]
        assert {e.room_resource_email for e in cisco} == rooms
        runner = DeliveryRunner(db)
        try:
            # before the first read of the calendars nothing is pushed (it would wipe codecs)
            early = await deliver(runner, now=datetime.now(UTC))
            assert early.pushed == 0
            poll = await asyncio.to_thread(
                run_cycle, make_poller(db, owner="test"), deliverer=None, force=True
            )
            assert poll.ok
            report = await deliver(runner, now=datetime.now(UTC))
        finally:
            runner.close()
        assert report.failed == 0
        assert report.pushed == len(rooms)
        _, url, password = attached[0]
        async with httpx.AsyncClient() as client:
            page = await client.get(url + "/")  # the demo's overview needs no login
            assert (await client.get(url + "/status.xml")).status_code == 401
            assert (
                await client.get(url + "/status.xml", auth=(demo_codecs.USERNAME, password))
            ).status_code == 200
        assert "booking(s)" in page.text
        assert "1 push(es)" in page.text
    finally:
        demo_codecs.stop()


def db_dir(db: Database) -> Path:
    url = db.url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).parent
    return Path(tempfile.mkdtemp(prefix="otj-demo-"))
