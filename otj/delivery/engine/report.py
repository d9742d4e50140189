"""What one delivery cycle did: a line per endpoint, the cycle's totals, and the outcome of each
endpoint the runner handled (the state it started from and where it ended)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from otj.delivery.devices.errors import EndpointError
from otj.delivery.engine.deliver import DeliveryOutcome
from otj.delivery.engine.plan import Decision, DeliveryState, after_failure
from otj.model import Endpoint


@dataclass(frozen=True, kw_only=True, slots=True)
class EndpointReport:
    """One endpoint's line in a delivery report."""

    endpoint: str
    room: str
    action: str
    reason: str
    bookings: int = 0
    error: str = ""
    #: Bookings sent as RoomOS native (WebRTC) joins.
    webrtc: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryReport:
    """What one delivery cycle did."""

    considered: int = 0
    pushed: int = 0
    verified: int = 0
    skipped: int = 0
    failed: int = 0
    rooms_delivered: tuple[str, ...] = ()
    endpoints: tuple[EndpointReport, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for logs and the admin API)."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True, slots=True)
class Attempt:
    """One endpoint's outcome in a cycle, with the state it started from."""

    endpoint: Endpoint
    before: DeliveryState
    bookings: int
    outcome: DeliveryOutcome

    def report(self) -> EndpointReport:
        """The endpoint's line in the cycle's report."""
        outcome = self.outcome
        return EndpointReport(
            endpoint=self.endpoint.name,
            room=self.endpoint.room_resource_email.lower(),
            action="push" if outcome.pushed else outcome.decision.action,
            reason=outcome.decision.reason,
            bookings=self.bookings,
            error=outcome.error,
            webrtc=outcome.webrtc,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Refused:
    """An endpoint the runner cannot contact as configured (no API credentials)."""

    endpoint: Endpoint
    state: DeliveryState
    error: EndpointError
    now: datetime

    def attempt(self) -> Attempt:
        """A failure outcome, recorded like a device failure with its alarm (once: while the
        configuration stays the same, the state and the alarm stay as they are)."""
        message = str(self.error)
        state = self.state
        recorded = state.failures and (state.error_kind, state.last_error) == (
            self.error.kind,
            message,
        )
        failed = (
            state
            if recorded
            else replace(
                after_failure(state, kind=self.error.kind, message=message, now=self.now),
                retry_at=None,  # retried when the configuration changes, not on a back-off
            )
        )
        return Attempt(
            endpoint=self.endpoint,
            before=self.state,
            bookings=0,
            outcome=DeliveryOutcome(
                endpoint=self.endpoint.name,
                decision=Decision(action="skip", reason="configuration"),
                state=failed,
                error=message,
                error_kind=self.error.kind,
            ),
        )


def summary(
    outcomes: Sequence[DeliveryOutcome],
    attempts: Sequence[Attempt],
    skipped: Sequence[EndpointReport],
    reports: Sequence[EndpointReport],
    delivered: Sequence[str],
) -> DeliveryReport:
    """The cycle's report: ``outcomes`` are the fleet's, ``attempts`` add the refused
    endpoints, ``skipped`` those left out before the fleet ran."""
    return DeliveryReport(
        considered=len(attempts),
        pushed=sum(1 for o in outcomes if o.pushed),
        verified=sum(1 for o in outcomes if o.verified and not o.pushed),
        skipped=len(skipped) + sum(1 for o in outcomes if not (o.pushed or o.verified or o.error)),
        failed=sum(1 for a in attempts if a.outcome.error),
        rooms_delivered=tuple(sorted(delivered)),
        endpoints=tuple(reports),
    )
