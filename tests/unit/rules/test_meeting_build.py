"""``Meeting.build`` (the rule engine's constructor) makes exactly what ``Meeting(...)`` makes."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otj.model import CallProtocol, Meeting, Platform, TraceStep

TEXT = st.text(max_size=12)
WHEN = st.datetimes(timezones=st.just(UTC))
STEP = st.builds(
    TraceStep,
    rule=TEXT,
    meeting_type=TEXT,
    outcome=st.sampled_from(["matched", "no_match", "error", "disabled"]),
    detail=TEXT,
)
FIELDS = st.fixed_dictionaries(
    {
        "room": TEXT,
        "event_id": TEXT,
        "subject": TEXT,
        "organizer_name": TEXT,
        "organizer_email": TEXT,
        "start": WHEN,
        "end": WHEN,
        "join_from": WHEN,
        "join_until": WHEN,
        "alias": st.none() | TEXT,
        "protocol": st.sampled_from(CallProtocol),
        "platform": st.sampled_from(Platform),
        "rule": st.none() | TEXT,
        "private": st.booleans(),
        "listed": st.booleans(),
        "unlisted_reason": TEXT,
        "ical_uid": TEXT,
        "trace": st.lists(STEP, max_size=3).map(tuple),
    }
)


def test_build_takes_every_field_in_order() -> None:
    parameters = list(inspect.signature(Meeting.build).parameters)
    assert parameters == [item.name for item in dataclasses.fields(Meeting)]


@settings(max_examples=300, deadline=None)
@given(values=FIELDS)
def test_build_equals_the_dataclass_constructor(values: dict[str, Any]) -> None:
    built, made = Meeting.build(**values), Meeting(**values)
    assert type(built) is Meeting
    assert built == made
    assert hash(built) == hash(made)
    assert repr(built) == repr(made)
    assert dataclasses.asdict(built) == dataclasses.asdict(made)
    assert {name: getattr(built, name) for name in values} == values
    assert pickle.loads(pickle.dumps(built)) == made
    assert dataclasses.replace(built, subject="x") == dataclasses.replace(made, subject="x")


def test_built_meeting_is_frozen() -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    built = Meeting.build(
        room="r", event_id="e", subject="s", organizer_name="", organizer_email="",
        start=when, end=when, join_from=when, join_until=when, alias=None,
        protocol=CallProtocol.SIP, platform=Platform.OTHER, rule=None, private=False,
        listed=True, unlisted_reason="", ical_uid="", trace=(),
    )  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.subject = "changed"  # type: ignore[misc]
    assert built.subject == "s"
    made = dataclasses.replace(built)
    for meeting in (built, made):  # an unknown name fails the same way on both
        with pytest.raises(TypeError):
            meeting.extra = 1  # type: ignore[attr-defined]
