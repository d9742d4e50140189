"""One compiled meeting processing rule: its type, regex or templates, applied to one event.

A rule that fails (bad regex, template error, timeout, sandbox violation) raises; the rule set
records the error in the trace and tries the next rule.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import re2
import regex
from jinja2 import TemplateSyntaxError
from jinja2.environment import Template

from otj.model import CallProtocol, MeetingRule, Platform
from otj.rules.limits import MAX_ALIAS_CHARS, REGEX_SECONDS
from otj.rules.meeting_types import MEETING_TYPES, Found, Missed, TypeSettings, platform_of
from otj.rules.sandbox import compile_template, render
from otj.rules.text import FREE_TEXT, EventText


class RuleError(Exception):
    """A rule failed on an event (the message goes into the trace)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Hit:
    alias: str
    protocol: CallProtocol
    platform: Platform
    detail: str


def visible(text: str) -> str:
    """``text`` for a trace line: control and invisible characters (which a template, a
    replacement or an exception may produce) shown as their escapes, ``\\x00`` for a NUL."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def error_text(exc: BaseException) -> str:
    """What a rule's failure says in the trace."""
    name = type(exc).__name__
    message = str(exc).strip()
    if isinstance(exc, TemplateSyntaxError):
        return visible(f"template syntax error on line {exc.lineno}: {exc.message}")
    if isinstance(exc, TimeoutError):
        return f"regex timed out after {REGEX_SECONDS * 1000:.0f} ms"
    return visible(f"{name}: {message}" if message else name)


def _debug_suffix(debug: list[str]) -> str:
    return f"; debug: {' | '.join(visible(line) for line in debug)}" if debug else ""


def _dialable(alias: str, what: str) -> str:
    """``alias`` when every character can be dialled; a control or invisible character (a
    template's ``"\\x00"``, a replacement's ``\\0``) fails the rule, named in the trace."""
    if not alias.isprintable():
        bad = next(c for c in alias if not c.isprintable())
        raise RuleError(f"{what} output contains {visible(bad)}, which a dial string cannot hold")
    return alias


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
            self.error = error_text(exc)

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

    def apply(self, text: EventText, *, now: datetime) -> Hit | str:
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
            detail += _debug_suffix(debug)
            if not alias:
                return f"{detail}, but transform_rule produced no alias"
            detail += " (transform_rule)"
        alias = _dialable(alias, self._output_name())
        alias, protocol = (
            _split_scheme(alias)
            if alias.lower().startswith(("sip:", "sips:", "h323:"))
            else (alias, found.protocol)
        )
        return Hit(alias=alias, protocol=protocol, platform=platform, detail=detail)

    def _output_name(self) -> str:
        """What made a hit's alias, as the trace names it."""
        if self._transform is not None:
            return "transform_rule"
        if self._regex is not None:
            return "replace_string" if self.rule.replace_string else "match_string"
        return self.meeting_type

    def _seed(self, text: EventText) -> str:
        """What makes ``pex_uuid4`` stable: the event and the rule."""
        event = text.event
        return hashlib.sha256(f"{event.id}\x00{event.ical_uid}\x00{self.name}".encode()).hexdigest()

    def _apply_custom(self, text: EventText, *, now: datetime) -> Hit | str:
        assert self._template is not None
        context = {
            "calendar_event": text.template_event(),
            "domain": self.rule.domain,
            "company_id": self.rule.company_id,
        }
        output, debug = render(self._template, context, now=now, seed=self._seed(text))
        suffix = _debug_suffix(debug)
        alias = _dialable(_clean_output(output, "template"), "template")
        if not alias:
            return "template output was empty" + suffix
        alias, protocol = _split_scheme(alias)
        if not alias:
            return "template output was only a URI scheme" + suffix
        return Hit(
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
