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
from datetime import datetime, timedelta
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
from otj.rules.limits import MAX_ALIAS_CHARS, REGEX_SECONDS
from otj.rules.meeting_types import (
    MEETING_TYPES,
    Found,
    Missed,
    TypeSettings,
    find_fallback,
    platform_of,
)
from otj.rules.sandbox import compile_template, render
from otj.rules.text import FREE_TEXT, EventText

FALLBACK = "fallback"

_FALLBACK_MISS = TraceStep(
    rule=FALLBACK, meeting_type=FALLBACK, outcome="no_match",
    detail="no sip:, sips: or h323: URI in body or location",
)  # fmt: skip


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
        try:
            self._compile()
        except Exception as exc:  # noqa: BLE001 - any compile failure is reported per event
            self.error = _error_text(exc)

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
                "calendar_event": text.template_event(),
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
        """What makes ``pex_uuid4`` stable: the event and the rule."""
        event = text.event
        return hashlib.sha256(f"{event.id}\x00{event.ical_uid}\x00{self.name}".encode()).hexdigest()

    def _apply_custom(self, text: EventText, *, now: datetime) -> _Hit | str:
        assert self._template is not None
        context = {
            "calendar_event": text.template_event(),
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
        hit: _Hit | None = None
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
                        detail=_error_text(exc),
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
        if hit is not None and event.private and not profile.process_alias_private_meetings:
            trace.append(
                TraceStep(
                    rule="privacy", meeting_type="privacy", outcome="disabled",
                    detail=f"alias {hit.alias} hidden: private meeting and "
                    "process_alias_private_meetings is off",
                )
            )  # fmt: skip
            hit, rule_name = None, None
        return Meeting(
            room=event.room,
            event_id=event.id,
            subject=self._subject(event, profile, text, now=now),
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
                    template = _error_text(exc)
                if len(self._subject_templates) > 64:
                    self._subject_templates.clear()
                self._subject_templates[source] = template
            if isinstance(template, Template):
                try:
                    output, _ = render(
                        template, {"calendar_event": text.template_event()}, now=now,
                        seed=f"subject\x00{event.id}",
                    )  # fmt: skip
                    replacement = " ".join(output.split())
                except Exception:  # noqa: BLE001 - fall back to the organizer's name
                    replacement = ""
        return replacement or event.organizer_name or event.organizer_email
