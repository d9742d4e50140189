"""Deliver to many codecs at once: bounded concurrency and a hard deadline per endpoint.

One slow or dead codec holds one concurrency slot for at most its deadline, so it never delays
the others; every endpoint gets an outcome (a timeout counts as unreachable).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from otj.delivery.devices.bookings import Booking
from otj.delivery.engine.deliver import BookingsClient, DeliveryOutcome, deliver
from otj.delivery.engine.plan import DEFAULT_VERIFY_EVERY, Decision, DeliveryState, after_failure

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryJob:
    """One endpoint's work for a cycle."""

    client: BookingsClient
    state: DeliveryState
    bookings: tuple[Booking, ...]
    feedback_url: str = ""


async def deliver_fleet(
    jobs: Sequence[DeliveryJob],
    *,
    now: datetime,
    concurrency: int = 50,
    deadline: float = 30.0,
    verify_every: timedelta | None = DEFAULT_VERIFY_EVERY,
) -> list[DeliveryOutcome]:
    """Run :func:`otj.delivery.engine.deliver.deliver` for every job, ``concurrency`` at a time."""
    slots = asyncio.Semaphore(max(1, concurrency))

    async def one(job: DeliveryJob) -> DeliveryOutcome:
        async with slots:
            try:
                return await asyncio.wait_for(
                    deliver(
                        job.client,
                        job.state,
                        job.bookings,
                        now=now,
                        feedback_url=job.feedback_url,
                        verify_every=verify_every,
                    ),
                    timeout=deadline,
                )
            except TimeoutError:
                name = job.client.connection.endpoint
                message = f"no answer within {deadline:g} s"
                log.warning("%s: delivery abandoned: %s", name, message)
                return DeliveryOutcome(
                    endpoint=name,
                    decision=Decision(action="push", reason="deadline"),
                    state=after_failure(job.state, kind="unreachable", message=message, now=now),
                    error=message,
                    error_kind="unreachable",
                )

    return list(await asyncio.gather(*(one(job) for job in jobs)))
