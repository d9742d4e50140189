"""Stopping the worker service while polls are running (SIGTERM/SIGINT of ``otj worker|serve``).

APScheduler 3's ``shutdown(wait=True)`` holds the job store lock while it waits for the running
jobs. A poll that finishes with changes asks the scheduler to run delivery now; before the fix it
waited for that lock forever and the process never exited. The scenario runs in a child process
so that a regression fails this test instead of hanging the test run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCENARIO = textwrap.dedent(
    """
    import threading, time
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from apscheduler.schedulers.base import STATE_STOPPED

    from otj.worker.poller import PollResult
    from otj.worker.service import WorkerService

    started, release = threading.Event(), threading.Event()

    class Plans:
        def refresh(self, force=False):
            return False
        def plans(self):
            return {"room-a": SimpleNamespace(interval=3600.0)}
        def close(self):
            pass

    class Poller:
        owner = "stop-test"
        plans = Plans()
        clock = SimpleNamespace(now=lambda: datetime.now(UTC))
        db = SimpleNamespace(rooms=SimpleNamespace(release_all=lambda owner: 0))
        def poll(self, room, force=False):
            started.set()
            release.wait(20)
            return PollResult(room=room, outcome="ok", changed=True, retry_in=60.0)

    class Deliverer:
        def deliver_pending(self, now):
            return SimpleNamespace(pushed=0, failed=0)
        def close(self):
            pass

    service = WorkerService(Poller(), deliverer=Deliverer(), threads=2)
    service.start()
    service.scheduler.add_job(service._poll_job, args=("room-a",), id="now")
    assert started.wait(20), "the poll did not start"
    stopper = threading.Thread(target=service.stop, daemon=True)
    stopper.start()
    deadline = time.monotonic() + 20
    while service.scheduler.state != STATE_STOPPED and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # shutdown is waiting for the running poll, holding its locks
    release.set()  # the poll ends with changes: reschedule + kick delivery
    stopper.join(20)
    print("stopped" if not stopper.is_alive() else "hung", flush=True)
    """
)


def test_stop_while_a_poll_with_changes_is_running_returns() -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-c", SCENARIO],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # the child's executor threads hang its exit
        raise AssertionError(f"stop() hung:\n{exc.stdout!r}\n{exc.stderr!r}") from exc
    assert done.stdout.strip() == "stopped", done.stdout + done.stderr
    assert done.returncode == 0, done.stderr
