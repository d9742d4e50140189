"""Licences across gateway processes on the real store (SQLite and PostgreSQL), time passed in:
admission counts the others' published licences, a silent process stops counting once its row
expires, a stopping one withdraws at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from guestjoin.cluster_licences import ClusterLicences, HeartbeatPolicy, admits
from otj.store import Database
from tests.conftest import FakeClock

POLICY = HeartbeatPolicy(interval=5.0, expiry=30.0, min_gap=0.2)


def test_admission_adds_the_other_processes_licences(db: Database, clock: FakeClock) -> None:
    a = ClusterLicences(4, db.licences, policy=POLICY, process="a", now=clock.now)
    b = ClusterLicences(4, db.licences, policy=POLICY, process="b", now=clock.now)
    assert a.acquire("call-1")
    a.beat()
    b.beat()
    assert b.others == 2
    assert b.acquire("call-2")  # 2 here + 2 there = 4
    b.beat()
    a.beat()
    assert a.others == 2
    assert not a.acquire("call-3")  # alone, a would have room for it (2 + 2 <= 4)
    assert a.acquire("call-1")  # a call it holds stays admitted
    assert a.cluster_in_use == 4
    assert db.licences.live(now=clock.now()) == {"a": 2, "b": 2}

    # b dies without a word: its licences count until its row expires, then no more
    clock.advance(29)
    a.beat()
    assert not a.acquire("call-3")
    clock.advance(1)
    a.beat()
    assert a.others == 0
    assert a.acquire("call-3")
    a.beat()
    assert db.licences.live(now=clock.now()) == {"a": 4}

    # a process that stops withdraws its row: the others see it at their next heartbeat
    c = ClusterLicences(4, db.licences, policy=POLICY, process="c", now=clock.now)
    c.beat()
    assert c.others == 4
    a.stop()
    c.beat()
    assert c.others == 0


def test_the_heartbeat_thread_publishes_each_change(db: Database) -> None:
    fast = HeartbeatPolicy(interval=5.0, expiry=30.0, min_gap=0.01)
    licences = ClusterLicences(10, db.licences, policy=fast, process="live")
    published = threading.Event()
    board = licences.board

    class Watching:
        def publish(self, process: str, in_use: int, **times: object) -> int:
            others = board.publish(process, in_use, **times)  # type: ignore[arg-type]
            if in_use == 4:
                published.set()
            return others

        def withdraw(self, process: str) -> None:
            board.withdraw(process)

    licences.board = Watching()
    licences.start()
    assert db.licences.live(now=datetime.now(UTC)) == {"live": 0}
    try:
        assert licences.heartbeats == 1
        assert licences.acquire("x")
        assert licences.acquire("y")
        assert published.wait(10), "the change was not published"
    finally:
        licences.stop()
    assert licences.failures == 0
    assert db.licences.live(now=datetime.now(UTC)) == {}  # withdrawn on stop


@pytest.mark.parametrize(
    ("here", "others", "total", "ok"),
    [(0, 0, 2, True), (0, 0, 1, False), (1, 0, 4, True), (1, 2, 4, False), (0, 2, 4, True)],
)
def test_admits(here: int, others: int, total: int, ok: bool) -> None:
    assert admits(here, others, total) is ok


def test_heartbeat_policy_refuses_an_expiry_shorter_than_the_interval() -> None:
    with pytest.raises(ValueError, match="min_gap <= interval < expiry"):
        HeartbeatPolicy(interval=10, expiry=5)
