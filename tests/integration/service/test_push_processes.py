"""Several processes on one PostgreSQL database: push subscriptions leased per room, and a
notification received by any API process reaching the worker holding the room.

Real processes: ``otj serve --no-worker`` (the API, behind a TLS proxy as ``OTJ_PUBLIC_URL``)
and two ``otj worker`` processes; the Graph fake sends its validation requests and change
notifications to the proxy as Graph does.
"""

from __future__ import annotations

import signal
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from otj.store import Database, SecretBox
from tests.fakes.google_calendar_http import self_signed_certificate
from tests.fakes.graph import GraphFake
from tests.fakes.graph_store import FakeEvent
from tests.integration.service.push_support import graph_config
from tests.integration.service.support import apply
from tests.integration.service.test_serve import Process, otj_env
from tests.integration.service.tls_proxy import tls_proxy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOMS = [f"room{i}@example.com" for i in range(4)]
LEASE_TTL = 3


def eventually(what: str, predicate: Callable[[], object], timeout: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if predicate():
            return time.monotonic() - began
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


class Estate:
    """The Graph fake, the store, and the otj processes started so far."""

    def __init__(self, tmp: Path, url: str) -> None:
        self.tmp = tmp
        self.url = url
        self.key = tmp / "secret.key"
        self.db = Database(
            url, box=SecretBox(key_file=self.key, environ={}), application_name="otj-test"
        )
        self.db.upgrade()
        self.processes: list[Process] = []
        self.events: dict[str, str] = {}

    def env(self, public_url: str) -> dict[str, str]:
        env = otj_env(self.tmp / "var")
        env["OTJ_SECRET_KEY_FILE"] = str(self.key)
        env["OTJ_PUBLIC_URL"] = public_url
        return env

    def start(self, args: list[str], public_url: str) -> Process:
        process = Process(
            [sys.executable, "-m", "otj", *args, "--database", self.url],
            cwd=self.tmp,
            env=self.env(public_url),
        )
        self.processes.append(process)
        return process

    def worker(self, name: str, public_url: str) -> Process:
        args = ["worker", "--worker-id", name, "--lease-ttl", str(LEASE_TTL), "--threads", "4"]
        return self.start(args, public_url)

    def owners(self) -> dict[str, str | None]:
        return {room: lease.owner for room, lease in self.db.push.leases().items()}

    def close(self) -> None:
        for process in self.processes:
            if process.proc.poll() is None:
                process.proc.kill()
                process.proc.wait()
        self.db.close()


@pytest.fixture
def estate(tmp_path: Path, pg_url: str) -> Iterator[Estate]:
    run = Estate(tmp_path, pg_url)
    try:
        yield run
    finally:
        run.close()


def subject(estate: Estate, room: str) -> str | None:
    stored = estate.db.meetings.get(room, estate.events[room])
    return stored.subject if stored is not None else None


def test_each_room_subscribed_once_notifications_forwarded_and_a_dead_worker_replaced(
    estate: Estate, tmp_path: Path
) -> None:
    tls = self_signed_certificate(tmp_path)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    with GraphFake(tls=tls, notification_ca=tls[0]) as fake:
        for room in ROOMS:
            estate.events[room] = fake.add_event(
                room, FakeEvent(subject="v0", start=start, end=start + timedelta(hours=1))
            )
        apply(estate.db, graph_config(fake, tls[0], ROOMS, poll_interval=600))
        with tls_proxy(tls) as proxy:
            public = proxy.url
            api = estate.start(["serve", "--no-worker", "--listen", "127.0.0.1:0"], public)
            match = api.wait_for(r"otj listening on http://127\.0\.0\.1:(\d+) \(HTTP API only")
            proxy.backend_port = int(match[1])
            first = estate.worker("w1", public)
            eventually(
                "w1 holds and subscribed every room",
                lambda: (
                    estate.owners() == dict.fromkeys(ROOMS, "w1")
                    and all(len(fake.subscriptions.active(r)) == 1 for r in ROOMS)
                    and all(subject(estate, r) == "v0" for r in ROOMS)
                ),
                60,
            )
            second = estate.worker("w2", public)
            second.wait_for(r"worker w2 started")
            time.sleep(LEASE_TTL * 2)  # several ticks of both workers
            assert estate.owners() == dict.fromkeys(ROOMS, "w1")
            assert all(len(fake.subscriptions.active(r)) == 1 for r in ROOMS)

            # a change: Graph → the API process (which holds nothing) → queue → w1 syncs
            fake.store.update(ROOMS[0], estate.events[ROOMS[0]], subject="v1")
            took = eventually(
                "the change in the store", lambda: subject(estate, ROOMS[0]) == "v1", 10
            )
            assert took < 10  # rooms are polled every 1,200 s: only the notification did it

            # a forged notification changes nothing and is refused
            with httpx.Client(
                verify=ssl.create_default_context(cafile=str(tls[0])), timeout=10
            ) as http:
                forged = {"value": [{"subscriptionId": "x", "clientState": "y"}]}
                assert http.post(f"{public}/notifications/graph", json=forged).status_code == 403

            old = {r: fake.subscriptions.active(r)[0].id for r in ROOMS}
            first.proc.kill()  # dies: its leases expire, w2 takes the rooms over
            first.proc.wait()
            moved = eventually(
                "w2 holds every room, each subscribed exactly once afresh",
                lambda: (
                    estate.owners() == dict.fromkeys(ROOMS, "w2")
                    and all(
                        [s.id for s in fake.subscriptions.active(r)] not in ([], [old[r]])
                        and len(fake.subscriptions.active(r)) == 1
                        for r in ROOMS
                    )
                ),
                30,
            )
            assert moved < LEASE_TTL * 5
            fake.store.update(ROOMS[1], estate.events[ROOMS[1]], subject="v2")
            eventually("a change after the takeover", lambda: subject(estate, ROOMS[1]) == "v2", 10)

            assert second.stop(signal.SIGTERM) == 0
            assert all(not fake.subscriptions.active(r) for r in ROOMS)  # closed on the way out
            assert set(estate.owners().values()) == {None}
            assert api.stop(signal.SIGTERM) == 0
