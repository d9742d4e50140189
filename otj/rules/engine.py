"""The rule engine: compile meeting processing rules once, turn events into ``Meeting`` values.

Enabled rules in ascending ``priority`` (ties by name), first match wins; none → the fallback
(``sip:``/``sips:``/``h323:`` in body then location). A rule that fails (bad regex, template
error, timeout, sandbox violation) counts as no match, is recorded in the trace, and the next
rule is tried. Processing is pure: the clock is the ``now`` argument, nothing is read or written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from jinja2.environment import Template

from calendars.base import CalendarEvent
from calendars.text import one_line
from otj.model import (
    CallProtocol,
    Meeting,
    MeetingRule,
    Platform,
    Profile,
    ReplaceSubject,
    TraceStep,
)
from otj.rules.compiled import CompiledRule, Hit, error_text
from otj.rules.explain import subject_step, unlisted_step
from otj.rules.meeting_types import find_fallback, platform_of
from otj.rules.sandbox import compile_template, render
from otj.rules.text import EventText

FALLBACK = "fallback"

_FALLBACK_MISS = TraceStep(
    rule=FALLBACK, meeting_type=FALLBACK, outcome="no_match",
    detail="no sip:, sips: or h323: URI in body or location",
)  # fmt: skip


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

    def process(self, event: CalendarEvent, profile: Profile, *, now: datetime) -> Meeting:
        """Apply the rules, the fallback and the profile's privacy/listing settings to one event."""
        text = EventText.of(event)
        trace: list[TraceStep] = []
        if text.cut:
            trace.append(
                TraceStep(rule="body", meeting_type="input", outcome="error", detail=text.cut)
            )
        hit: Hit | None = None
        rule_name: str | None = None
        for compiled in self.rules:
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
                        detail=error_text(exc),
                    )
                )  # fmt: skip
                continue
            if isinstance(result, str):
                trace.append(
                    TraceStep(
                        rule=step_rule, meeting_type=step_type, outcome="no_match", detail=result
                    )
                )
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
                hit = Hit(
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
        hit: Hit | None,
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
            join_from=event.start - timedelta(minutes=profile.start_buffer),
            join_until=event.end + timedelta(minutes=profile.end_buffer),
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
                    template = error_text(exc)
                if len(self._subject_templates) > 64:
                    self._subject_templates.clear()
                self._subject_templates[source] = template
            if isinstance(template, Template):
                try:
                    output, _ = render(
                        template, {"calendar_event": text.template_event()}, now=now,
                        seed=f"subject\x00{event.id}",
                    )  # fmt: skip
                    replacement = one_line(output)  # a subject, as a calendar's is
                except Exception:  # noqa: BLE001 - fall back to the organizer's name
                    replacement = ""
        return replacement or event.organizer_name or event.organizer_email
