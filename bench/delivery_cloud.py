"""The Webex cloud path of the delivery benchmark (run by ``bench/delivery.py``).

N ``WEBEX`` endpoints, each a device of the Webex fake (``tests/fakes/webex.py``) served by
uvicorn on loopback, delivered by the same DeliveryRunner through the cloud xAPI: the first
delivery (one token refresh, then version + Bookings.Put + Bookings.List per device), a cycle
after a change to every room (Bookings.Put + Bookings.List), and one without a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

from otj.delivery.engine.runner import DeliveryRunner
from otj.model import Endpoint, EndpointGroup, Profile
from otj.secret import Secret
from tests.fakes.webex import WebexFake
from tests.integration.delivery.served import serve

PROFILE = Profile(
    name="Bench cloud",
    start_buffer=5,
    endpoint_webex_client_id="C-otj-test",
    endpoint_webex_client_secret=Secret("client-secret"),
    endpoint_webex_refresh_token=Secret("refresh-1"),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class CloudResult:
    """One cycle's time and the requests that reached Webex."""

    seconds: float
    requests: int
    pushed: int
    failed: int


def _setup(db_url: str, key_file: Path, n: int, room_name: Any) -> Any:
    from otj.store import Database, SecretBox
    from otj.store.values import Configuration

    db = Database(db_url, box=SecretBox(key_file=key_file, environ={}))
    db.upgrade()
    endpoints = tuple(
        Endpoint(
            name=f"cloud{i:05d}",
            group="Bench cloud",
            room_resource_email=room_name(i),
            type="WEBEX",
            webex_device_id=f"dev{i:05d}",
        )
        for i in range(n)
    )
    db.config.apply(
        Configuration(
            sections=frozenset({"profiles", "endpoint_groups", "endpoints"}),
            profiles=(PROFILE,),
            endpoint_groups=(EndpointGroup(name="Bench cloud", profile=PROFILE.name),),
            endpoints=endpoints,
        )
    )
    return db


def run_cloud(
    *,
    n: int,
    concurrency: int,
    workdir: Path,
    now: datetime,
    room_name: Any,
    commit_all: Any,
) -> tuple[CloudResult, CloudResult, CloudResult, bool]:
    """First delivery, after a change, without a change; and whether every device holds 4."""
    fake = WebexFake()
    for i in range(n):
        fake.add_device(f"dev{i:05d}")
    db = _setup(f"sqlite:///{workdir / 'cloud.db'}", workdir / "secret.key", n, room_name)
    commit_all(db, n, now, version=1)
    results = []
    with serve(fake.app) as url:
        runner = DeliveryRunner(
            db, deadline=120.0, webex_base_url=url, webex_concurrency=concurrency
        )
        try:
            for step, version in ((0, None), (30, 2), (60, None)):
                if version is not None:
                    commit_all(db, n, now, version=version)
                before = len(fake.requests)
                started = perf_counter()
                report = runner.deliver_pending(now=now + timedelta(seconds=step))
                results.append(
                    CloudResult(
                        seconds=perf_counter() - started,
                        requests=len(fake.requests) - before,
                        pushed=report.pushed,
                        failed=report.failed,
                    )
                )
        finally:
            runner.close()
    db.close()
    held = all(len(device.bookings) == 4 for device in fake.devices.values())
    return results[0], results[1], results[2], held


def print_cloud(
    *,
    n: int,
    concurrency: int,
    first: CloudResult,
    changed: CloudResult,
    quiet: CloudResult,
    held: bool,
    local_seconds: float,
    local_requests: int,
) -> None:
    """The cloud path's figures next to the local push's of the same run."""
    print()
    print(f"== Webex cloud xAPI to {n} devices (concurrency {concurrency}, fake on loopback) ==")
    print(
        f"first delivery (never pushed): {first.seconds:8.2f} s  requests={first.requests} "
        f"pushed={first.pushed} failed={first.failed}  (1 token refresh + status, "
        "Bookings.Put, Bookings.List per device)"
    )
    print(
        f"after a change to every room:  {changed.seconds:8.2f} s  requests={changed.requests} "
        f"pushed={changed.pushed} failed={changed.failed}  ({n / changed.seconds:,.0f} rooms/s)"
    )
    print(
        f"local push, same change:       {local_seconds:8.2f} s  requests={local_requests}  "
        f"→ cloud/local time = {changed.seconds / local_seconds:.1f}×"
    )
    print(f"cloud cycle without change:    {quiet.seconds:8.3f} s  requests={quiet.requests}")
    print(f"every cloud device holds its 4 bookings: {held}")
