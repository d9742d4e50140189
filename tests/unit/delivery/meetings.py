"""Meeting values for delivery tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from otj.model import CallProtocol, Meeting, Platform

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def meeting(**overrides: Any) -> Meeting:
    """A listed Google Meet meeting at T0 for 30 minutes, with any field overridden."""
    start = overrides.pop("start", T0)
    end = overrides.pop("end", start + timedelta(minutes=30))
    values: dict[str, Any] = {
        "room": "fjord@resource.example.com",
        "event_id": "evt-1",
        "subject": "Weekly sync",
        "organizer_name": "Ola Normann",
        "organizer_email": "ola@example.com",
        "start": start,
        "end": end,
        "join_from": start - timedelta(minutes=5),
        "join_until": end,
        "alias": "abc-defg-hij@google.pexip.me",
        "protocol": CallProtocol.SIP,
        "platform": Platform.GOOGLE_MEET,
        "rule": "Google Meet SIP Guest Join",
    }
    values.update(overrides)
    return Meeting(**values)
