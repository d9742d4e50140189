"""The reception's dialogue, driven with an injected clock (seconds)."""

from __future__ import annotations

from datetime import UTC, datetime

from guestjoin.reception import machine
from guestjoin.reception.machine import (
    Action,
    CalendarOffer,
    Hangup,
    Outcome,
    Phrase,
    Play,
    ReceptionState,
    Transfer,
)
from otj.model import IdRule, Platform, VirtualReception

RECEPTION = VirtualReception(
    name="Join",
    aliases=(r"join@vc\.example\.com", "join"),
    id_rules=(
        IdRule(match=r"(\d{9,11})", replace=r"\1@zoomcrc.com"),
        IdRule(match=r"(\d{10,12})", replace=r"\1@vc.example.com"),
    ),
    attempts=3,
    digit_timeout=5,
)
OFFER = CalendarOffer(
    alias="abc-defg-hij@google.pexip.me",
    subject="Weekly sync",
    platform=Platform.GOOGLE_MEET,
    start=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
)


def keys(state: ReceptionState, text: str, now: float) -> tuple[ReceptionState, list[Action]]:
    actions: list[Action] = []
    for key in text:
        state, more = machine.digit(state, key, now)
        actions += more
    return state, actions


def test_the_prompt_offers_the_calendar_key_only_when_there_is_a_meeting() -> None:
    _, with_offer = machine.start(RECEPTION, OFFER)
    _, without = machine.start(RECEPTION, None)
    assert with_offer == [
        Play(phrases=(Phrase.WELCOME, Phrase.PRESS_HASH, Phrase.MEETING, Phrase.OR_ENTER_ID))
    ]
    assert without == [Play(phrases=(Phrase.WELCOME, Phrase.ENTER_ID))]


def test_hash_alone_joins_the_rooms_meeting() -> None:
    state, _ = machine.start(RECEPTION, OFFER)
    state, actions = machine.digit(state, "#", 1.0)
    assert actions[-1] == Transfer(alias=OFFER.alias, outcome=Outcome.CALENDAR_JOIN, digits="#")
    assert state.finished


def test_hash_without_a_meeting_is_a_failed_attempt() -> None:
    state, _ = machine.start(RECEPTION, None)
    state, actions = machine.digit(state, "#", 1.0)
    assert actions == [Play(phrases=(Phrase.NO_MEETING, Phrase.ENTER_ID))]
    assert state.failures == 1
    assert not state.finished


def test_calendar_join_disabled_never_offers_the_meeting() -> None:
    reception = VirtualReception(name="Ids", aliases=("ids",), calendar_join=False)
    state, actions = machine.start(reception, OFFER)
    assert actions == [Play(phrases=(Phrase.WELCOME, Phrase.ENTER_ID))]
    assert state.offer is None


def test_a_zoom_id_maps_by_the_first_full_match() -> None:
    state, _ = machine.start(RECEPTION, OFFER)
    state, actions = keys(state, "1234567890#", 2.0)  # 10 digits: both rules match, first wins
    assert actions[-1] == Transfer(
        alias="1234567890@zoomcrc.com", outcome=Outcome.ID, digits="1234567890"
    )


def test_the_second_rule_takes_what_the_first_does_not_match() -> None:
    state, _ = machine.start(RECEPTION, None)
    state, actions = keys(state, "123456789012#", 2.0)
    assert isinstance(actions[-1], Transfer)
    assert actions[-1].alias == "123456789012@vc.example.com"


def test_star_clears_what_was_typed() -> None:
    state, _ = machine.start(RECEPTION, None)
    state, actions = keys(state, "99*123456789#", 2.0)
    assert isinstance(actions[-1], Transfer)
    assert actions[-1].digits == "123456789"


def test_silence_after_the_prompt_is_a_timeout_attempt_and_the_third_ends_the_call() -> None:
    state, _ = machine.start(RECEPTION, None)
    now = 10.0
    state, _ = machine.prompt_done(state, now)
    assert state.deadline == 15.0
    state, actions = machine.tick(state, 14.9)
    assert actions == []
    for attempt in (1, 2):
        state, actions = machine.tick(state, state.deadline or 0)
        assert actions == [Play(phrases=(Phrase.NO_INPUT, Phrase.ENTER_ID))]
        assert state.failures == attempt
        assert state.deadline is None  # the timer restarts when the re-prompt ends
        now += 20
        state, _ = machine.prompt_done(state, now)
    state, actions = machine.tick(state, now + 5)
    assert actions[-1] == Hangup(outcome=Outcome.TIMEOUT, detail="no digits (3 attempts)")
    assert actions[0] == Play(phrases=(Phrase.NO_INPUT, Phrase.GOODBYE))
    assert state.finished


def test_typed_digits_then_silence_count_as_entered() -> None:
    state, _ = machine.start(RECEPTION, None)
    state, _ = machine.prompt_done(state, 0.0)
    state, _ = keys(state, "123456789", 3.0)
    assert state.deadline == 8.0  # each key restarts the timer
    state, actions = machine.tick(state, 8.0)
    assert isinstance(actions[-1], Transfer)
    assert actions[-1].alias == "123456789@zoomcrc.com"


def test_unknown_ids_are_reprompted_then_the_call_ends_invalid() -> None:
    state, _ = machine.start(RECEPTION, OFFER)
    for _ in range(2):
        state, actions = keys(state, "12#", 1.0)
        assert actions == [
            Play(phrases=(Phrase.INVALID, Phrase.PRESS_HASH, Phrase.MEETING, Phrase.OR_ENTER_ID))
        ]
    state, actions = keys(state, "12#", 1.0)
    assert actions[-1] == Hangup(
        outcome=Outcome.INVALID, detail="no ID rule matches 12 (3 attempts)"
    )
    after, more = machine.digit(state, "#", 2.0)
    assert more == []
    assert after is state


def test_an_unreachable_alias_counts_as_an_attempt() -> None:
    state, _ = machine.start(RECEPTION, OFFER)
    state, _ = machine.digit(state, "#", 1.0)
    state, actions = machine.unreachable(state, 2.0)
    assert actions == [
        Play(phrases=(Phrase.UNREACHABLE, Phrase.PRESS_HASH, Phrase.MEETING, Phrase.OR_ENTER_ID))
    ]
    assert not state.finished
    assert state.failures == 1


def test_too_many_digits_are_invalid_and_other_keys_are_ignored() -> None:
    state, _ = machine.start(RECEPTION, None)
    state, actions = keys(state, "1" * 33, 1.0)
    assert actions == [Play(phrases=(Phrase.INVALID, Phrase.ENTER_ID))]
    same, none = machine.digit(state, "x", 1.0)
    assert none == []
    assert same is state
