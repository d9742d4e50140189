"""Conversion of one configuration document's values into the frozen values of ``otj.model``.

``Checker`` converts a mapping into a frozen dataclass by its field types (ranges, choices,
time zones, secrets as inline values or ``env:``/``file:`` references) and records every
problem with its YAML path; ``integration_settings`` converts an ``integrations:`` entry
through ``calendars.config``.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, fields
from enum import Enum
from pathlib import Path as FsPath
from typing import Any, Literal, get_args, get_origin

from otj.config.yamlsrc import Located, Path, Problem
from otj.model import (
    CallRoutingRule,
    Endpoint,
    EndpointGroup,
    IdRule,
    ListenAddress,
    MeetingRule,
    Profile,
    RtpEngineAddress,
    SipCredential,
    SipProxy,
    VirtualReception,
)
from otj.secret import Secret
from otj.store.values import INLINE_KEEP, IntegrationSettings

LIST_SECTIONS: dict[str, type[Any]] = {
    "profiles": Profile,
    "integrations": IntegrationSettings,
    "endpoint_groups": EndpointGroup,
    "endpoints": Endpoint,
    "meeting_processing_rules": MeetingRule,
    "call_routing_rules": CallRoutingRule,
    "sip_proxies": SipProxy,
    "sip_credentials": SipCredential,
    "virtual_receptions": VirtualReception,
}
TOP_LEVEL = (*LIST_SECTIONS, "gateway", "api", "database")

RANGES: dict[tuple[str, str], tuple[int, int]] = {
    ("profiles", "display_upcoming_meetings"): (1, 365),
    ("profiles", "start_buffer"): (0, 240),
    ("profiles", "end_buffer"): (0, 240),
    ("profiles", "poll_interval"): (10, 86_400),
    ("profiles", "notification_safety_poll"): (60, 86_400),
    ("profiles", "endpoint_feedback_slot"): (1, 4),  # xCommand HttpFeedback FeedbackSlot
    ("meeting_processing_rules", "priority"): (1, 200),
    ("call_routing_rules", "priority"): (1, 200),
    ("endpoints", "api_port"): (1, 65_535),
    ("sip_proxies", "port"): (1, 65_535),
    ("gateway", "call_licenses"): (0, 1_000_000),
    ("gateway", "max_outbound_kbps"): (64, 100_000),
    ("gateway", "max_calls_per_source"): (0, 100_000),
    ("gateway", "cdr_retention_days"): (1, 36_500),
    ("virtual_receptions", "attempts"): (1, 10),
    ("virtual_receptions", "digit_timeout"): (1, 60),
    ("gateway.rtpengines", "weight"): (1, 1000),
}
#: IANA time zone names (blank: the server's time zone).
TIME_ZONES = {("profiles", "time_zone")}
CASE_INSENSITIVE_CHOICES = {
    ("endpoints", "type"),
    ("profiles", "replace_subject_type"),
    ("profiles", "endpoint_api_auth"),
}


class _Invalid:
    """Marker for a value that failed conversion (a problem was recorded)."""


INVALID = _Invalid()


class Checker:
    """Accumulates problems while converting one document."""

    def __init__(self, doc: Located, environ: Mapping[str, str]) -> None:
        self.doc = doc
        self.environ = environ
        self.problems: list[Problem] = []

    def error(self, path: Path, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def warn(self, path: Path, message: str) -> None:
        self.problems.append(self.doc.problem(path, message, warning=True))

    # --- scalar conversion --------------------------------------------------------------------

    def convert(self, section: str, name: str, hint: Any, value: Any, path: Path) -> Any:
        origin = get_origin(hint)
        args = get_args(hint)
        if origin in (typing.Union, types.UnionType):
            inner = [a for a in args if a is not type(None)]
            if value is None:
                return None
            return self.convert(section, name, inner[0], value, path)
        if hint is Secret:
            return self.secret(value, path)
        if hint is bool:
            if not isinstance(value, bool):
                self.error(path, f"must be true or false, got {value!r}")
                return INVALID
            return value
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                self.error(path, f"must be an integer, got {value!r}")
                return INVALID
            bounds = RANGES.get((section, name))
            if bounds and not bounds[0] <= value <= bounds[1]:
                self.error(path, f"must be between {bounds[0]} and {bounds[1]}, got {value}")
                return INVALID
            return value
        if hint is str:
            if isinstance(value, bool) or not isinstance(value, str | int):
                self.error(path, f"must be a string, got {value!r}")
                return INVALID
            if (section, name) in TIME_ZONES and value and not _is_time_zone(str(value)):
                self.error(path, f"must be an IANA time zone such as Europe/Oslo, got {value!r}")
                return INVALID
            return str(value)
        if isinstance(hint, type) and issubclass(hint, Enum):
            return self.choice(section, name, [m.value for m in hint], value, path, enum=hint)
        if origin is Literal:
            return self.choice(section, name, list(args), value, path, enum=None)
        if origin is tuple:
            return self.sequence(section, name, args[0], value, path)
        raise TypeError(f"no converter for {hint!r}")  # a programming error, not user input

    def choice(
        self,
        section: str,
        name: str,
        options: Sequence[Any],
        value: Any,
        path: Path,
        *,
        enum: type[Enum] | None,
    ) -> Any:
        if isinstance(value, str):
            for option in options:
                same = (
                    option.lower() == value.lower()
                    if (section, name) in CASE_INSENSITIVE_CHOICES
                    else option == value
                )
                if same:
                    return enum(option) if enum else option
        self.error(path, f"must be one of {' | '.join(map(str, options))}, got {value!r}")
        return INVALID

    def sequence(self, section: str, name: str, item: Any, value: Any, path: Path) -> Any:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.error(path, f"must be a list, got {value!r}")
            return INVALID
        if item is ListenAddress:
            out = [self.listen_address(v, (*path, i)) for i, v in enumerate(value)]
        elif item is IdRule:
            out = [self.id_rule(v, (*path, i)) for i, v in enumerate(value)]
        elif item is RtpEngineAddress:
            out = [self.rtpengine(v, (*path, i)) for i, v in enumerate(value)]
        else:
            out = [self.convert(section, name, item, v, (*path, i)) for i, v in enumerate(value)]
        return INVALID if any(v is INVALID for v in out) else tuple(out)

    def listen_address(self, value: Any, path: Path) -> Any:
        data = self.mapping(value, path)
        if data is None:
            return INVALID
        return self.build("gateway.listen", ListenAddress, data, path)

    def id_rule(self, value: Any, path: Path) -> Any:
        data = self.mapping(value, path)
        if data is None:
            return INVALID
        return self.build("virtual_receptions.id_rules", IdRule, data, path)

    def rtpengine(self, value: Any, path: Path) -> Any:
        if isinstance(value, str):  # the short form: just the address
            value = {"address": value}
        data = self.mapping(value, path)
        if data is None:
            return INVALID
        return self.build("gateway.rtpengines", RtpEngineAddress, data, path)

    def secret(self, value: Any, path: Path) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(path, "must be a string: inline, env:NAME or file:PATH")
            return INVALID
        if value == INLINE_KEEP:
            return Secret("", ref=INLINE_KEEP)
        if value.startswith("env:"):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value[4:]):
                self.error(path, f"{value!r} is not a valid environment variable reference")
                return INVALID
            if value[4:] not in self.environ:
                self.warn(
                    path,
                    f"{value[4:]} is not set here; it is stored as a reference and must be "
                    "set where the service runs",
                )
            return Secret("", ref=value)
        if value.startswith("file:"):
            if not value[5:]:
                self.error(path, "file: reference without a path")
                return INVALID
            if not os.access(FsPath(value[5:]), os.R_OK):
                self.warn(
                    path,
                    f"{value[5:]} is not readable here; it is stored as a reference and must "
                    "exist where the service runs",
                )
            return Secret("", ref=value)
        if value == "":
            return None
        return Secret(value)

    # --- structure ----------------------------------------------------------------------------

    def mapping(self, value: Any, path: Path) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping, got {type(value).__name__}")
            return None
        return value

    def build(self, section: str, cls: type[Any], data: Mapping[str, Any], path: Path) -> Any:
        """Convert one mapping into the frozen dataclass ``cls`` (unknown keys are errors)."""
        hints = typing.get_type_hints(cls)
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                self.error((*path, str(key)), f"unknown key{suggest(str(key), known)}")
        values: dict[str, Any] = {}
        ok = True
        for f in fields(cls):
            if f.name not in data or (data[f.name] is None and not _optional(hints[f.name])):
                if f.default is MISSING and f.default_factory is MISSING:
                    self.error(path, f"'{f.name}' is required")
                    ok = False
                continue
            converted = self.convert(section, f.name, hints[f.name], data[f.name], (*path, f.name))
            if converted is INVALID:
                ok = False
            else:
                values[f.name] = converted
        for key in ("name", "room_resource_email", "address", "profile", "group"):
            if key in values and isinstance(values[key], str):
                values[key] = values[key].strip()
                if not values[key] and key != "profile":
                    self.error((*path, key), "must not be empty")
                    ok = False
        return cls(**values) if ok else INVALID


def _is_time_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _optional(hint: Any) -> bool:
    return get_origin(hint) in (typing.Union, types.UnionType) and type(None) in get_args(hint)


def suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def integration_settings(check: Checker, data: Mapping[str, Any], path: Path) -> Any:
    from calendars.config import SCHEMAS, IntegrationConfigError, integration_from_mapping

    kind = data.get("type")
    secret_keys = {
        k for k, spec in SCHEMAS.get(str(kind), {}).items() if getattr(spec, "kind", "") == "secret"
    }
    probe: dict[str, Any] = {}
    secrets: dict[str, Secret] = {}
    ok = True
    for key, value in data.items():
        if key in secret_keys and value not in (None, ""):
            secret = check.secret(value, (*path, key))
            if secret is INVALID:
                ok = False
                continue
            assert isinstance(secret, Secret)
            secrets[key] = secret
            # validate the shape without reading references here (a JSON-looking placeholder
            # satisfies the Google key check; the real value is checked when the worker runs)
            probe[key] = "{}" if secret.ref else secret.reveal()
        else:
            probe[key] = value
    try:
        config = integration_from_mapping(probe, environ={})
    except IntegrationConfigError as exc:
        message = str(exc)
        quoted = re.findall(r"'([a-z_]+)'", message)
        where = next((q for q in quoted if q in data), None)
        check.error((*path, where) if where else path, message)
        return INVALID
    if not ok:
        return INVALID
    options = dict(config.options)
    return IntegrationSettings(
        name=config.name,
        type=config.type,
        daily_request_quota=int(data["daily_request_quota"])
        if "daily_request_quota" in data
        else None,
        options=options,
        secrets=secrets,
    )
