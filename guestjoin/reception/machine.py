"""PURE: the Virtual Reception's dialogue with a caller, time passed in (seconds, monotonic).

The reception plays its prompt, collects digits and decides: ``#`` alone joins the room's
current or next meeting (when the reception offers calendar joins and there is one); digits
then ``#`` (or digits then ``digit_timeout`` seconds of silence) are a meeting ID mapped by the
reception's ID rules; ``*`` clears what was typed. Every failure (no such ID, nothing typed
within ``digit_timeout``, ``#`` without a meeting to join, an alias no call routing rule
reaches) is one attempt; after ``attempts`` failures the call ends.

``start``, ``digit``, ``prompt_done``, ``tick`` and ``unreachable`` take the state and return
the next state with the actions for the edge to carry out (play phrases, transfer, hang up).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from guestjoin.reception.aliases import MAX_DIGITS, map_digits
from otj.model import Platform, VirtualReception

DIGITS = frozenset("0123456789*#ABCD")


class Outcome(StrEnum):
    """How the digits ended (the CDR's ``digits_outcome``)."""

    CALENDAR_JOIN = "calendar_join"
    ID = "id"
    INVALID = "invalid"
    TIMEOUT = "timeout"


class Phrase(StrEnum):
    """Prompt phrases: one audio file per phrase and language (``prompts/<lang>/<name>.wav``)."""

    WELCOME = "welcome"
    PRESS_HASH = "press_hash"  # "Press hash to join this room's meeting"
    MEETING = "meeting"  # the meeting spoken at run time ("Weekly sync, on Zoom, at 9:30")
    ENTER_ID = "enter_id"  # "Please enter a meeting ID, followed by hash"
    OR_ENTER_ID = "or_enter_id"  # "or enter a meeting ID, followed by hash"
    INVALID = "invalid"
    NO_INPUT = "no_input"
    NO_MEETING = "no_meeting"
    UNREACHABLE = "unreachable"
    CONNECTING = "connecting"
    GOODBYE = "goodbye"


@dataclass(frozen=True, kw_only=True, slots=True)
class CalendarOffer:
    """The calling room's meeting that ``#`` joins."""

    alias: str
    subject: str
    platform: Platform
    start: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Play:
    """Play these phrases (after what is playing; ``interrupt`` stops it first)."""

    phrases: tuple[Phrase, ...]
    interrupt: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class Transfer:
    """Transfer the caller to ``alias`` (route it, then REFER or 3pcc)."""

    alias: str
    outcome: Outcome
    digits: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Hangup:
    """End the call after the phrases playing: the caller gave up or failed too often."""

    outcome: Outcome
    detail: str


Action = Play | Transfer | Hangup


@dataclass(frozen=True, kw_only=True, slots=True)
class ReceptionState:
    """Where the dialogue is; ``deadline`` is when silence counts as input (None: no timer)."""

    reception: VirtualReception
    offer: CalendarOffer | None
    digits: str = ""
    failures: int = 0
    deadline: float | None = None
    prompting: bool = True
    finished: bool = False


def menu(state: ReceptionState) -> tuple[Phrase, ...]:
    """The phrases that ask for input: the calendar key when there is a meeting, then the ID."""
    if state.offer is not None and state.reception.calendar_join:
        return (Phrase.PRESS_HASH, Phrase.MEETING, Phrase.OR_ENTER_ID)
    return (Phrase.ENTER_ID,)


def start(
    reception: VirtualReception, offer: CalendarOffer | None
) -> tuple[ReceptionState, list[Action]]:
    """The call is answered: welcome and menu; the timer starts when the prompt ends."""
    state = ReceptionState(reception=reception, offer=offer if reception.calendar_join else None)
    return state, [Play(phrases=(Phrase.WELCOME, *menu(state)))]


def prompt_done(state: ReceptionState, now: float) -> tuple[ReceptionState, list[Action]]:
    """The prompt finished playing: the caller has ``digit_timeout`` seconds to type."""
    if state.finished or not state.prompting:
        return state, []
    return replace(state, prompting=False, deadline=now + state.reception.digit_timeout), []


def digit(state: ReceptionState, key: str, now: float) -> tuple[ReceptionState, list[Action]]:
    """One key pressed (``0-9 * # A-D``); other keys are ignored."""
    if state.finished or key not in DIGITS:
        return state, []
    deadline = now + state.reception.digit_timeout
    if key == "*":
        return replace(state, digits="", deadline=deadline), []
    if key == "#":
        return _complete(replace(state, deadline=None), now)
    if key in "ABCD":
        return replace(state, deadline=deadline), []
    if len(state.digits) >= MAX_DIGITS:
        return _fail(state, Outcome.INVALID, now, "too many digits")
    return replace(state, digits=state.digits + key, deadline=deadline, prompting=False), []


def tick(state: ReceptionState, now: float) -> tuple[ReceptionState, list[Action]]:
    """Time passed: silence past the deadline completes typed digits or counts as no input."""
    if state.finished or state.deadline is None or now < state.deadline:
        return state, []
    if state.digits:
        return _complete(replace(state, deadline=None), now)
    return _fail(state, Outcome.TIMEOUT, now, "no digits")


def unreachable(
    state: ReceptionState, now: float, why: str = "cannot be reached"
) -> tuple[ReceptionState, list[Action]]:
    """The chosen alias matched no call routing rule (or the transfer failed): try again."""
    state = replace(state, finished=False)
    return _fail(state, Outcome.INVALID, now, why, phrase=Phrase.UNREACHABLE)


def _complete(state: ReceptionState, now: float) -> tuple[ReceptionState, list[Action]]:
    typed = state.digits
    if not typed:
        if state.offer is None:
            return _fail(state, Outcome.INVALID, now, "# without a meeting", Phrase.NO_MEETING)
        done = replace(state, finished=True, deadline=None)
        return done, [
            Play(phrases=(Phrase.CONNECTING,)),
            Transfer(alias=state.offer.alias, outcome=Outcome.CALENDAR_JOIN, digits="#"),
        ]
    alias = map_digits(state.reception, typed)
    if alias is None:
        return _fail(state, Outcome.INVALID, now, f"no ID rule matches {typed}")
    done = replace(state, finished=True, deadline=None)
    return done, [
        Play(phrases=(Phrase.CONNECTING,)),
        Transfer(alias=alias, outcome=Outcome.ID, digits=typed),
    ]


def _fail(
    state: ReceptionState,
    outcome: Outcome,
    now: float,
    detail: str,
    phrase: Phrase | None = None,
) -> tuple[ReceptionState, list[Action]]:
    failures = state.failures + 1
    said = phrase or (Phrase.NO_INPUT if outcome is Outcome.TIMEOUT else Phrase.INVALID)
    if failures >= state.reception.attempts:
        ended = replace(
            state,
            digits="",
            failures=failures,
            deadline=None,
            finished=True,
        )
        return ended, [
            Play(phrases=(said, Phrase.GOODBYE)),
            Hangup(outcome=outcome, detail=f"{detail} ({failures} attempts)"),
        ]
    again = replace(
        state,
        digits="",
        failures=failures,
        deadline=None,
        prompting=True,
    )
    return again, [Play(phrases=(said, *menu(again)))]
