"""Graph push tests: the Graph fake, the otj HTTP API over TLS (uvicorn) and a worker."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from otj.api.app import create_app
from otj.store import Database
from otj.worker.notifications import NotificationHub
from otj.worker.service import WorkerService
from otj.worker.setup import make_poller
from otj.worker.subscriptions import PushManager
from tests.fakes.graph import GraphFake
from tests.integration.delivery.served import serve
from tests.integration.service.support import apply

ROOM = "fjord@example.com"


@contextmanager
def serve_tls(app: Any, tls: tuple[Path, Path]) -> Iterator[str]:
    """Run ``app`` over HTTPS on 127.0.0.1 until the block ends; yields its base URL."""
    with serve(
        app, ssl_certfile=str(tls[0]), ssl_keyfile=str(tls[1]), timeout_graceful_shutdown=2
    ) as url:
        yield url


def graph_config(fake: GraphFake, ca: Path, rooms: list[str], *, poll_interval: int) -> str:
    doc = {
        "integrations": [
            {
                "name": "M365",
                "type": "graph",
                "tenant_id": fake.tenant_id,
                "client_id": fake.client_id,
                "client_secret": fake.client_secret,
                "authority_host": fake.authority_host,
                "graph_endpoint": fake.graph_endpoint,
                "ca_file": str(ca),
            }
        ],
        "profiles": [
            {
                "name": "Rooms",
                "integration": "M365",
                "poll_interval": poll_interval,
                "notification_safety_poll": 1200,
            }
        ],
        "endpoint_groups": [{"name": "All", "profile": "Rooms"}],
        "endpoints": [
            {"name": r.split("@")[0], "group": "All", "room_resource_email": r, "type": "PULL"}
            for r in rooms
        ],
        "meeting_processing_rules": [
            {"name": "Meet", "meeting_type": "googlemeetsipguestjoin", "priority": 10}
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


@dataclass
class Running:
    db: Database
    fake: Any
    hub: NotificationHub
    push: PushManager
    service: WorkerService
    base_url: str


@contextmanager
def running(
    db: Database,
    fake: Any,
    tls: tuple[Path, Path],
    *,
    rooms: list[str],
    public_url: str | None = None,
    poll_interval: int = 600,
    config: str | None = None,
) -> Iterator[Running]:
    """Configure the rooms (``config``, else Graph's), serve the API over TLS and start a
    worker with push enabled."""
    apply(db, config or graph_config(fake, tls[0], rooms, poll_interval=poll_interval))
    hub = NotificationHub()
    app = create_app(db, router_options={"otj.api.notifications": {"hub": hub}})
    with serve_tls(app, tls) as base_url:
        poller = make_poller(db, owner="push-test", timeout=15)
        push = PushManager(
            db, poller.plans, hub, public_url=public_url or base_url, clock=poller.clock
        )
        service = WorkerService(poller, push=push, threads=4)
        service.start()
        try:
            yield Running(db, fake, hub, push, service, base_url)
        finally:
            service.stop()


def eventually(predicate: Callable[[], object], *, timeout: float = 15.0) -> float:
    """Seconds until ``predicate()`` held (AssertionError after ``timeout``)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if predicate():
            return time.monotonic() - began
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s: {predicate}")
