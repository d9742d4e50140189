"""The rule engine: compile meeting processing rules once, turn events into ``Meeting`` values.

Enabled rules in ascending ``priority`` (ties by name), first match wins; none → the fallback
(``sip:``/``sips:``/``h323:`` in body then location). A rule that fails (bad regex, template
error, timeout, sandbox violation) counts as no match, is recorded in the trace, and the next
rule is tried. Processing is pure: the clock is the ``now`` argument, nothing is read or written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import re2
import regex
from jinja2 import TemplateSyntaxError
from jinja2.environment import Template

from calendars.base import CalendarEvent
from otj.model import (
    CallProtocol,
    Meeting,
    MeetingRule,
    Platform,
    Profile,
    ReplaceSubject,
    TraceStep,
)
from otj.rules.explain import subject_step, unlisted_step
from otj.rules.filters import SEEDED_NAMES
from otj.rules.limits import MAX_ALIAS_CHARS, REGEX_SECONDS
from otj.rules.sandbox import compile_template, render
from otj.rules.text import BODY, CONFERENCE, FREE_TEXT, LOCATION, EventText
from otj.rules.types import (
    MEETING_TYPES,
    Found,
    Missed,
    TypeSettings,
    find_fallback,
    platform_of,
)

FALLBACK = "fallback"

_BLANK_EVENT = CalendarEvent(
    id="",
    room="",
    start=datetime(2000, 1, 1, tzinfo=UTC),
    end=datetime(2000, 1, 1, tzinfo=UTC),
)
"""An event without any text: what a gated type answers when none of its needles occurs."""


_FALLBACK_MISS = TraceStep(
    rule=FALLBACK, meeting_type=FALLBACK, outcome="no_match",
    detail="no sip:, sips: or h323: in body or location",
)  # fmt: skip

_MISS_STEPS = 64
"""No-match trace steps a rule keeps for reuse (its finder's details are nearly always fixed)."""


def _minutes(count: int) -> timedelta:
    delta = _DELTAS.get(count)
    if delta is None:
        if len(_DELTAS) > 64:
            _DELTAS.clear()
        delta = _DELTAS[count] = timedelta(minutes=count)
    return delta


_DELTAS: dict[int, timedelta] = {}


class RuleError(Exception):
    """A rule failed on an event (the message goes into the trace)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class _Hit:
    alias: str
    protocol: CallProtocol
    platform: Platform
    detail: str


def _error_text(exc: BaseException) -> str:
    name = type(exc).__name__
    message = str(exc).strip()
    if isinstance(exc, TemplateSyntaxError):
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    if isinstance(exc, TimeoutError):
        return f"regex timed out after {REGEX_SECONDS * 1000:.0f} ms"
    return f"{name}: {message}" if message else name


def _split_scheme(alias: str) -> tuple[str, CallProtocol]:
    lowered = alias.lower()
    if lowered.startswith("h323:"):
        return alias[5:], CallProtocol.H323
    if lowered.startswith("sips:"):
        return alias[5:], CallProtocol.SIP
    if lowered.startswith("sip:"):
        return alias[4:], CallProtocol.SIP
    return alias, CallProtocol.SIP


def _clean_output(output: str, what: str) -> str:
    alias = output.strip()
    if len(alias.split(maxsplit=1)) > 1:  # whitespace inside (it is stripped at both ends)
        raise RuleError(f"{what} output contains whitespace: {alias[:80]!r}")
    if len(alias) > MAX_ALIAS_CHARS:
        raise RuleError(f"{what} output is longer than {MAX_ALIAS_CHARS} characters")
    return alias


class CompiledRule:
    """One meeting processing rule with its regex/templates compiled (or its compile error)."""

    def __init__(self, rule: MeetingRule) -> None:
        self.rule = rule
        self.name = rule.name
        self.meeting_type = rule.meeting_type
        self.error = ""
        self._type = MEETING_TYPES.get(rule.meeting_type)
        self._settings = TypeSettings(
            domain=rule.domain, company_id=rule.company_id, include_pin=rule.include_pin
        )
        self._template: Template | None = None
        self._transform: Template | None = None
        self._regex: Any = None
        self._re2 = False
        source = rule.custom_template if rule.meeting_type == "custom" else rule.transform_rule
        self._seeded = any(name in source for name in SEEDED_NAMES)
        try:
            self._compile()
        except Exception as exc:  # noqa: BLE001 - any compile failure is reported per event
            self.error = _error_text(exc)
        self._gate: frozenset[str] = frozenset()
        self._gate_free_text = False
        self._gate_conference = False
        self.miss_step: TraceStep | None = None
        if not self.error and rule.enabled:
            self._compile_gate()
        self._miss_steps: dict[str, TraceStep] = {}

    def no_match(self, detail: str) -> TraceStep:
        """The ``no_match`` trace step with ``detail`` (equal steps are shared: they are frozen)."""
        step = self._miss_steps.get(detail)
        if step is None:
            if len(self._miss_steps) >= _MISS_STEPS:
                self._miss_steps.clear()
            step = self._miss_steps[detail] = TraceStep(
                rule=self.name, meeting_type=self.meeting_type, outcome="no_match", detail=detail
            )
        return step

    def _compile_gate(self) -> None:
        """Precompute the fixed miss of a type whose needles are all absent (same trace text)."""
        kind = self._type
        if kind is None or kind.finder is None or not kind.gated(self._settings):
            return
        missed = kind.finder(self._settings, EventText(_BLANK_EVENT))
        if not isinstance(missed, Missed):  # pragma: no cover - a blank event never matches
            return
        if set(kind.needle_sources) not in ({CONFERENCE, LOCATION, BODY}, {LOCATION, BODY}):
            return  # pragma: no cover - every gated type searches all sources or the free text
        self._gate = frozenset(kind.needles)
        self._gate_free_text = CONFERENCE not in kind.needle_sources
        self._gate_conference = kind.reads_conference
        self.miss_step = TraceStep(
            rule=self.name, meeting_type=self.meeting_type, outcome="no_match", detail=missed.detail
        )

    def cannot_match(self, text: EventText) -> bool:
        """True when none of the type's needles occurs: ``miss_step`` is then the answer."""
        if not self._gate or (self._gate_conference and text.event.conference is not None):
            return False
        hits = text.hits_free_text if self._gate_free_text else text.hits_anywhere
        return hits.isdisjoint(self._gate)

    def _compile(self) -> None:
        rule = self.rule
        if self._type is None:
            raise RuleError(f"unknown meeting type {rule.meeting_type!r}")
        for required in self._type.requires:
            if not str(getattr(rule, required)).strip():
                raise RuleError(f"{required} is required for meeting type {rule.meeting_type}")
        if rule.meeting_type == "custom":
            self._template = compile_template(rule.custom_template)
        elif rule.meeting_type == "regex":
            self._regex = regex.compile(rule.match_string, regex.VERSION0)
        elif rule.meeting_type == "regex_re2":
            options = re2.Options()
            options.log_errors = False
            options.max_mem = 8 << 20
            self._regex = re2.compile(rule.match_string, options)
            self._re2 = True
        if not rule.default_processing_enabled and rule.meeting_type != "custom":
            if not rule.transform_rule.strip():
                raise RuleError("transform_rule is required when default processing is disabled")
            self._transform = compile_template(rule.transform_rule)

    # --- applying the rule -----------------------------------------------------------------

    def apply(self, text: EventText, *, now: datetime) -> _Hit | str:
        """The hit, or the reason for no match. Raises ``RuleError`` and friends on failure."""
        if self.error:
            raise RuleError(self.error)
        assert self._type is not None
        if self.meeting_type == "custom":
            return self._apply_custom(text, now=now)
        if self.meeting_type in ("regex", "regex_re2"):
            found: Found | Missed = self._apply_regex(text)
        else:
            assert self._type.finder is not None
            found = self._type.finder(self._settings, text)
        if isinstance(found, Missed):
            return found.detail
        platform = self._type.platform
        alias = found.alias
        detail = f"{found.summary} in {found.source}"
        if self._transform is not None:
            context: dict[str, Any] = {
                "calendar_event": text.template_event,
                "domain": self.rule.domain,
                "company_id": self.rule.company_id,
                "default_alias": found.alias,
                **found.variables,
            }
            output, debug = render(self._transform, context, now=now, seed=self._seed(text))
            alias = _clean_output(output, "transform_rule")
            if debug:
                detail += f"; debug: {' | '.join(debug)}"
            if not alias:
                return f"{detail}, but transform_rule produced no alias"
            detail += " (transform_rule)"
        alias, protocol = (
            _split_scheme(alias)
            if alias.lower().startswith(("sip:", "sips:", "h323:"))
            else (alias, found.protocol)
        )
        return _Hit(alias=alias, protocol=protocol, platform=platform, detail=detail)

    def _seed(self, text: EventText) -> str:
        if not self._seeded:
            return ""
        event = text.event
        return hashlib.sha256(f"{event.id}\x00{event.ical_uid}\x00{self.name}".encode()).hexdigest()

    def _apply_custom(self, text: EventText, *, now: datetime) -> _Hit | str:
        assert self._template is not None
        context = {
            "calendar_event": text.template_event,
            "domain": self.rule.domain,
            "company_id": self.rule.company_id,
        }
        output, debug = render(self._template, context, now=now, seed=self._seed(text))
        suffix = f"; debug: {' | '.join(debug)}" if debug else ""
        alias = _clean_output(output, "template")
        if not alias:
            return "template output was empty" + suffix
        alias, protocol = _split_scheme(alias)
        if not alias:
            return "template output was only a URI scheme" + suffix
        return _Hit(
            alias=alias,
            protocol=protocol,
            platform=platform_of(alias),
            detail=f"template output {alias}{suffix}",
        )

    def _apply_regex(self, text: EventText) -> Found | Missed:
        for source in FREE_TEXT:
            body = text.text(source)
            if not body:
                continue
            if self._re2:
                match = self._regex.search(body)
            else:
                match = self._regex.search(body, timeout=REGEX_SECONDS)
            if match is None:
                continue
            replace = self.rule.replace_string
            alias = match.expand(replace) if replace else match.group(0)
            groups = tuple("" if g is None else g for g in match.groups())
            return Found(
                alias=alias,
                source=source,
                summary=f"match {match.group(0)[:80]!r}",
                variables={"match": match.group(0), "groups": groups},
            )
        return Missed(detail="match_string not found in location or body")


def prepare(events: Sequence[CalendarEvent]) -> list[EventText]:
    """The events' texts, normalised stage by stage over all of them (see ``process_many``).

    A stage that fails for an event is left undone: ``process`` meets the same error there and
    handles it exactly as it would have without preparation.
    """
    texts = [EventText(event) for event in events]
    for stage in (_convert, _unwrap, _find_needles):
        for text in texts:
            try:
                stage(text)
            except Exception:  # noqa: BLE001, S112 - process() raises it again for this event
                continue
    return texts


def _convert(text: EventText) -> None:
    text.body_raw  # noqa: B018 - computes and caches the converted body


def _unwrap(text: EventText) -> None:
    text.body_lower  # noqa: B018 - computes and caches the decoded body and its lower case
    text.location_lower  # noqa: B018


def _find_needles(text: EventText) -> None:
    text.hits_anywhere  # noqa: B018 - computes and caches the needle hits of every source


class RuleSet:
    """Compiled meeting processing rules in evaluation order."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self.rules = tuple(rules)
        self._subject_templates: dict[str, Template | str] = {}

    @classmethod
    def compile(cls, rules: Sequence[MeetingRule]) -> RuleSet:
        """Compile regexes and templates once; a bad rule becomes an error in each trace."""
        ordered = sorted(rules, key=lambda rule: (rule.priority, rule.name))
        return cls([CompiledRule(rule) for rule in ordered])

    def process_many(
        self, events: Sequence[CalendarEvent], profile: Profile, *, now: datetime
    ) -> list[Meeting]:
        """``[process(event) for event in events]``, with the text work done stage by stage.

        Every body is converted, then every body's links are unwrapped, then every text's
        needles are found, and only then are the rules applied: each stage runs over all the
        events while its code and data are warm (a room's window of events is the natural
        batch). The Meetings are the same; raises what ``process`` raises, for the first event
        that fails (``prepare`` + ``process(…, text=)`` keep failures per event).
        """
        texts = prepare(events)
        return [
            self.process(event, profile, now=now, text=text)
            for event, text in zip(events, texts, strict=True)
        ]

    def process(
        self,
        event: CalendarEvent,
        profile: Profile,
        *,
        now: datetime,
        text: EventText | None = None,
    ) -> Meeting:
        """Apply the rules, the fallback and the profile's privacy/listing settings to one event.

        ``text`` is the event's ``EventText`` when ``prepare`` made it already.
        """
        if text is None or text.event is not event:
            text = EventText(event)
        trace: list[TraceStep] = []
        hit: _Hit | None = None
        rule_name: str | None = None
        for compiled in self.rules:
            if compiled.miss_step is not None and compiled.cannot_match(text):
                trace.append(compiled.miss_step)
                continue
            step_rule, step_type = compiled.name, compiled.meeting_type
            if not compiled.rule.enabled:
                trace.append(
                    TraceStep(
                        rule=step_rule, meeting_type=step_type, outcome="disabled",
                        detail="rule is disabled",
                    )
                )  # fmt: skip
                continue
            try:
                result = compiled.apply(text, now=now)
            except Exception as exc:  # noqa: BLE001 - a failing rule never stops processing
                trace.append(
                    TraceStep(
                        rule=step_rule, meeting_type=step_type, outcome="error",
                        detail=_error_text(exc),
                    )
                )  # fmt: skip
                continue
            if isinstance(result, str):
                trace.append(compiled.no_match(result))
                continue
            trace.append(
                TraceStep(
                    rule=step_rule, meeting_type=step_type, outcome="matched",
                    detail=f"{result.detail} → {result.alias}",
                )
            )  # fmt: skip
            hit, rule_name = result, compiled.name
            break
        if hit is None:
            fallback = find_fallback(text)
            if fallback is None:
                trace.append(_FALLBACK_MISS)
            else:
                hit = _Hit(
                    alias=fallback.alias,
                    protocol=fallback.protocol,
                    platform=platform_of(fallback.alias),
                    detail=f"{fallback.summary} in {fallback.source}",
                )
                rule_name = FALLBACK
                trace.append(
                    TraceStep(
                        rule=FALLBACK, meeting_type=FALLBACK, outcome="matched",
                        detail=f"{hit.detail} → {hit.alias}",
                    )
                )  # fmt: skip
        return self._meeting(
            event, profile, text, hit=hit, rule_name=rule_name, trace=trace, now=now
        )

    # --- privacy and listing (DESIGN.md §4.4) -------------------------------------------------

    def _meeting(
        self,
        event: CalendarEvent,
        profile: Profile,
        text: EventText,
        *,
        hit: _Hit | None,
        rule_name: str | None,
        trace: list[TraceStep],
        now: datetime,
    ) -> Meeting:
        listed, reason = True, ""
        if event.status == "cancelled":
            listed, reason = False, "cancelled"
        elif event.room_response == "declined":
            listed, reason = False, "declined by the room"
        elif event.private and not profile.enable_private_meetings:
            listed, reason = False, "private meetings are disabled"
        elif hit is None and not profile.enable_non_video_meetings:
            listed, reason = False, "non-video meetings are disabled"
        subject = self._subject(event, profile, text, now=now)
        if subject != event.subject:
            shown_as = (event.organizer_name, event.organizer_email)
            trace.append(
                subject_step(
                    private=event.private, empty=not event.subject.strip(), profile=profile,
                    template_used=subject not in shown_as,
                )
            )  # fmt: skip
        if hit is not None and event.private and not profile.process_alias_private_meetings:
            trace.append(
                TraceStep(
                    rule="privacy", meeting_type="privacy", outcome="disabled",
                    detail=f"alias {hit.alias} hidden: private meeting and "
                    "process_alias_private_meetings is off",
                )
            )  # fmt: skip
            hit, rule_name = None, None
        if not listed:
            trace.append(unlisted_step(reason, profile))
        return Meeting(
            room=event.room,
            event_id=event.id,
            subject=subject,
            organizer_name=event.organizer_name,
            organizer_email=event.organizer_email,
            start=event.start,
            end=event.end,
            join_from=event.start - _minutes(profile.start_buffer),
            join_until=event.end + _minutes(profile.end_buffer),
            alias=None if hit is None else hit.alias,
            protocol=CallProtocol.SIP if hit is None else hit.protocol,
            platform=Platform.OTHER if hit is None else hit.platform,
            rule=rule_name,
            private=event.private,
            listed=listed,
            unlisted_reason=reason,
            ical_uid=event.ical_uid,
            trace=tuple(trace),
        )

    def _subject(
        self, event: CalendarEvent, profile: Profile, text: EventText, *, now: datetime
    ) -> str:
        kind = profile.replace_subject_type
        replace = kind == ReplaceSubject.ALL or (kind == ReplaceSubject.PRIVATE and event.private)
        if not replace and not (profile.replace_empty_subject and not event.subject.strip()):
            return event.subject
        replacement = ""
        source = profile.replace_subject_template
        if source.strip():
            template = self._subject_templates.get(source)
            if template is None:
                try:
                    template = compile_template(source)
                except Exception as exc:  # noqa: BLE001 - validate_profile reports it
                    template = _error_text(exc)
                if len(self._subject_templates) > 64:
                    self._subject_templates.clear()
                self._subject_templates[source] = template
            if isinstance(template, Template):
                try:
                    output, _ = render(
                        template, {"calendar_event": text.template_event}, now=now,
                        seed=f"subject\x00{event.id}",
                    )  # fmt: skip
                    replacement = " ".join(output.split())
                except Exception:  # noqa: BLE001 - fall back to the organizer's name
                    replacement = ""
        return replacement or event.organizer_name or event.organizer_email
