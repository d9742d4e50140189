"""Validation of a whole configuration document into a ``Configuration`` (nothing is written).

Every problem carries the YAML path and line. Field types and defaults come from the frozen
values of ``otj.model``; integrations are validated by ``calendars.config``; meeting processing
rules by ``otj.rules``. References between objects (group → profile, endpoint → group, profile
→ integration, rule → profile, call routing rule → SIP proxy) are checked against the state the
store would have after the apply: the file's objects, plus the stored objects that stay (those of
sections the file does not name, and, without ``--prune``, those the file does not list).

Secrets may be inline, ``env:NAME`` or ``file:PATH``. References are stored as references and
resolved when used (the worker's machine, not the admin's, must have the variable or file);
one that cannot be resolved here only earns a warning. ``stored:inline`` (what ``otj config
export`` writes for an inline secret) keeps the value already stored.

Endpoint API settings have profile defaults: an endpoint's own ``api_username``,
``api_password``, ``use_https`` and ``verify_cert`` win; left out (or blank) they are the
profile's ``endpoint_api_username``, ``endpoint_api_password``, ``endpoint_use_https`` and
``endpoint_verify_cert``; ``endpoint_api_auth`` (basic | session) and ``endpoint_feedback_slot``
(1-4) apply to every endpoint of the profile, and a left-out ``api_port`` is the scheme's.
A Cisco endpoint without a username from either place is a warning here and a per-endpoint
delivery error (with an alarm) when the service runs: the service never guesses one.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path as FsPath
from typing import Any, Literal, get_args, get_origin

from otj.config.yamlsrc import Located, Path, Problem
from otj.model import (
    CallRoutingRule,
    Endpoint,
    EndpointGroup,
    GatewaySettings,
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
from otj.store.values import (
    INLINE_KEEP,
    PROFILE_SECRETS,
    ApiSettings,
    Configuration,
    IntegrationSettings,
)

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
#: Endpoint types the service logs in to (their API credentials come from the endpoint or
#: from its profile's ``endpoint_api_username``/``endpoint_api_password``).
CREDENTIAL_TYPES = ("CISCO",)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidatedConfig:
    """The outcome of validation: the configuration (when there are no errors) and problems."""

    configuration: Configuration | None
    problems: tuple[Problem, ...]
    database: str | None = None

    @property
    def errors(self) -> tuple[Problem, ...]:
        """Problems that block the apply."""
        return tuple(p for p in self.problems if not p.warning)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems that do not block the apply."""
        return tuple(p for p in self.problems if p.warning)


class _Invalid:
    """Marker for a value that failed conversion (a problem was recorded)."""


INVALID = _Invalid()


class _Checker:
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
                self.error((*path, str(key)), f"unknown key{_suggest(str(key), known)}")
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


def _suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- integrations ---------------------------------------------------------------------------


def _integration(check: _Checker, data: Mapping[str, Any], path: Path) -> Any:
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


# --- the document ---------------------------------------------------------------------------


def validate_document(
    doc: Located,
    *,
    existing: Configuration,
    prune: bool = False,
    environ: Mapping[str, str] | None = None,
    rules_validator: Callable[[Sequence[MeetingRule]], Sequence[Any]] | None = None,
    profile_validator: Callable[[Profile], Sequence[Any]] | None = None,
) -> ValidatedConfig:
    """Validate a parsed configuration file against the current store contents."""
    check = _Checker(doc, os.environ if environ is None else environ)
    data = doc.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        check.error((), "the configuration must be a mapping of sections")
        return ValidatedConfig(configuration=None, problems=tuple(check.problems))
    for key in data:
        if key not in TOP_LEVEL:
            check.error((str(key),), f"unknown section{_suggest(str(key), TOP_LEVEL)}")

    database = data.get("database")
    if database is not None and not isinstance(database, str):
        check.error(("database",), "must be a database URL string")
        database = None

    lists: dict[str, tuple[Any, ...]] = {}
    positions: dict[tuple[str, str], Path] = {}
    invalid: set[tuple[str, str]] = set()  # entries with errors: no follow-up reference errors
    for section, cls in LIST_SECTIONS.items():
        if section not in data:
            continue
        raw = data[section]
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            check.error((section,), "must be a list")
            continue
        items: list[Any] = []
        seen: dict[str, int] = {}
        for index, entry in enumerate(raw):
            path: Path = (section, index)
            mapping = check.mapping(entry, path)
            if mapping is None:
                continue
            raw_name = str(mapping.get("name", "")).strip()
            if raw_name and raw_name in seen:
                check.error((*path, "name"), f"duplicate name (also entry {seen[raw_name]})")
                continue
            if raw_name:
                seen[raw_name] = index
            if section == "integrations":
                value = _integration(check, mapping, path)
            else:
                value = check.build(section, cls, mapping, path)
            if value is INVALID:
                if raw_name:
                    invalid.add((section, raw_name))
                continue
            if section == "endpoints":
                value = _normalise_endpoint(value)
            positions[(section, value.name)] = path
            items.append(value)
        lists[section] = tuple(items)

    gateway = None
    if "gateway" in data and data["gateway"] is not None:
        mapping = check.mapping(data["gateway"], ("gateway",))
        if mapping is not None:
            built = check.build("gateway", GatewaySettings, mapping, ("gateway",))
            gateway = None if built is INVALID else built
            if gateway is not None:
                _check_gateway(check, gateway)
    api = None
    if "api" in data and data["api"] is not None:
        mapping = check.mapping(data["api"], ("api",))
        if mapping is not None:
            built = check.build("api", ApiSettings, mapping, ("api",))
            if built is not INVALID:
                if not LISTEN.match(built.listen):
                    check.error(("api", "listen"), "must be HOST:PORT, e.g. 127.0.0.1:8080")
                api = built

    sections = frozenset(
        [*lists, *(["gateway"] if gateway is not None else []), *(["api"] if api else [])]
    )
    configuration = Configuration(
        sections=sections,
        gateway=gateway,
        api=api,
        **{s: lists.get(s, ()) for s in LIST_SECTIONS},
    )
    _check_references(
        check,
        configuration,
        existing=existing,
        prune=prune,
        positions=positions,
        invalid=invalid,
    )
    _check_keep_markers(check, configuration, existing, positions)
    _check_endpoint_rules(check, configuration, existing, prune, positions)
    _check_credentials(check, configuration, existing, prune, positions)
    _check_routing(check, configuration, positions)
    _check_receptions(check, configuration, positions)
    _check_media(check, configuration, existing, positions)
    if rules_validator is not None and configuration.meeting_processing_rules:
        for problem in rules_validator(configuration.meeting_processing_rules):
            rule = getattr(problem, "rule", "")
            field_name = getattr(problem, "field", "") or ""
            base = positions.get(
                ("meeting_processing_rules", str(rule)), ("meeting_processing_rules",)
            )
            path = (*base, field_name) if field_name else base
            check.error(path, str(getattr(problem, "message", problem)))
    if profile_validator is not None:
        for profile in configuration.profiles:
            for problem in profile_validator(profile):
                field_name = getattr(problem, "field", "") or ""
                base = positions.get(("profiles", profile.name), ("profiles",))
                path = (*base, field_name) if field_name else base
                check.error(path, str(getattr(problem, "message", problem)))
    errors = [p for p in check.problems if not p.warning]
    return ValidatedConfig(
        configuration=None if errors else configuration,
        problems=tuple(sorted(check.problems, key=lambda p: (p.line, p.path, p.warning))),
        database=database,
    )


def _normalise_endpoint(endpoint: Endpoint) -> Endpoint:
    from dataclasses import replace

    return replace(endpoint, room_resource_email=endpoint.room_resource_email.strip().lower())


def _final(
    section: str, desired: Configuration, existing: Configuration, prune: bool
) -> dict[str, Any]:
    """Name → object of a section after the apply."""
    stored = {v.name: v for v in getattr(existing, section)}
    if section not in desired.sections:
        return stored
    wanted = {v.name: v for v in getattr(desired, section)}
    return wanted if prune else {**stored, **wanted}


def _where(
    positions: Mapping[tuple[str, str], Path], section: str, name: str, key: str
) -> tuple[Path, str]:
    path = positions.get((section, name))
    if path is None:
        return (section,), f"stored {section} {name!r} (not in this file): "
    return (*path, key), ""


def _check_references(
    check: _Checker,
    desired: Configuration,
    *,
    existing: Configuration,
    prune: bool,
    positions: Mapping[tuple[str, str], Path],
    invalid: set[tuple[str, str]],
) -> None:
    final = {s: _final(s, desired, existing, prune) for s in LIST_SECTIONS}
    links = (
        ("profiles", "integration", "integrations", True),
        ("endpoint_groups", "profile", "profiles", False),
        ("endpoints", "group", "endpoint_groups", False),
        ("meeting_processing_rules", "profile", "profiles", True),
        ("call_routing_rules", "outbound_credentials", "sip_credentials", True),
    )
    for section, key, target, optional in links:
        for name, obj in final[section].items():
            ref = getattr(obj, key)
            if optional and not ref:
                continue
            if ref not in final[target] and (target, ref) not in invalid:
                path, prefix = _where(positions, section, name, key)
                gone = (
                    " (it would be pruned)"
                    if ref in {v.name for v in getattr(existing, target)}
                    else ""
                )
                hint = _suggest(ref, list(final[target]))
                check.error(path, f"{prefix}{key} {ref!r} does not exist{gone}{hint}")
    for name, rule in final["call_routing_rules"].items():
        if (
            rule.sip_proxy != "dns"
            and rule.sip_proxy not in final["sip_proxies"]
            and ("sip_proxies", rule.sip_proxy) not in invalid
        ):
            path, prefix = _where(positions, "call_routing_rules", name, "sip_proxy")
            check.error(
                path,
                f"{prefix}sip_proxy {rule.sip_proxy!r} is neither 'dns' nor a configured proxy",
            )
    for name, profile in final["profiles"].items():
        if not profile.integration and len(final["integrations"]) > 1:
            uses = any(
                final["endpoint_groups"].get(e.group) is not None
                and final["endpoint_groups"][e.group].profile == name
                for e in final["endpoints"].values()
            )
            if uses:
                path, prefix = _where(positions, "profiles", name, "integration")
                check.error(
                    path, f"{prefix}several integrations exist: name the one this profile uses"
                )
    rooms: dict[str, tuple[str, str]] = {}
    sip_users: dict[str, str] = {}
    for name, endpoint in final["endpoints"].items():
        group = final["endpoint_groups"].get(endpoint.group)
        if group is None:
            continue
        other = rooms.get(endpoint.room_resource_email)
        if other is not None and other[1] != group.profile:
            path, prefix = _where(positions, "endpoints", name, "group")
            check.error(
                path,
                f"{prefix}room {endpoint.room_resource_email} is also shown by endpoint "
                f"{other[0]!r} with profile {other[1]!r}; endpoints of one room must share "
                "a profile",
            )
        rooms.setdefault(endpoint.room_resource_email, (name, group.profile))
        if endpoint.sip_username:
            if endpoint.sip_username in sip_users:
                path, prefix = _where(positions, "endpoints", name, "sip_username")
                first = sip_users[endpoint.sip_username]
                check.error(path, f"{prefix}sip_username also used by endpoint {first!r}")
            sip_users.setdefault(endpoint.sip_username, name)


def _check_keep_markers(
    check: _Checker,
    desired: Configuration,
    existing: Configuration,
    positions: Mapping[tuple[str, str], Path],
) -> None:
    stored_profiles = {p.name: p for p in existing.profiles}
    for profile in desired.profiles:
        for key in PROFILE_SECRETS:
            secret = getattr(profile, key)
            if secret is not None and secret.ref == INLINE_KEEP:
                stored_profile = stored_profiles.get(profile.name)
                current = getattr(stored_profile, key) if stored_profile else None
                if current is None or current.ref != INLINE_KEEP:
                    path, _ = _where(positions, "profiles", profile.name, key)
                    check.error(path, f"{INLINE_KEEP} but no inline secret is stored for it")
    stored_endpoints = {e.name: e for e in existing.endpoints}
    for endpoint in desired.endpoints:
        for key in ("api_password", "sip_password"):
            secret = getattr(endpoint, key)
            if secret is not None and secret.ref == INLINE_KEEP:
                old = stored_endpoints.get(endpoint.name)
                current = getattr(old, key) if old else None
                if current is None or current.ref != INLINE_KEEP:
                    path, _ = _where(positions, "endpoints", endpoint.name, key)
                    check.error(path, f"{INLINE_KEEP} but no inline secret is stored for it")
    stored_integrations = {i.name: i for i in existing.integrations}
    for integration in desired.integrations:
        for key, secret in integration.secrets.items():
            if secret.ref == INLINE_KEEP:
                stored = stored_integrations.get(integration.name)
                current = stored.secrets.get(key) if stored else None
                if current is None or current.ref != INLINE_KEEP:
                    path, _ = _where(positions, "integrations", integration.name, key)
                    check.error(path, f"{INLINE_KEEP} but no inline secret is stored for it")
    if desired.gateway is not None:
        for key in ("tls_certificate", "tls_private_key"):
            secret = getattr(desired.gateway, key)
            if secret is not None and secret.ref == INLINE_KEEP:
                current = getattr(existing.gateway, key) if existing.gateway else None
                if current is None or current.ref != INLINE_KEEP:
                    check.error(
                        ("gateway", key), f"{INLINE_KEEP} but no inline secret is stored for it"
                    )


def _check_endpoint_rules(
    check: _Checker,
    desired: Configuration,
    existing: Configuration,
    prune: bool,
    positions: Mapping[tuple[str, str], Path],
) -> None:
    for endpoint in desired.endpoints:
        path = positions[("endpoints", endpoint.name)]
        if not EMAIL.match(endpoint.room_resource_email):
            check.error((*path, "room_resource_email"), "must be an email address")
        # POLY endpoints read their calendar from otj (EWS): only CISCO ones are contacted
        if endpoint.type == "CISCO" and not endpoint.api_address:
            check.error(path, f"{endpoint.type} endpoints need 'api_address'")


def _check_credentials(
    check: _Checker,
    desired: Configuration,
    existing: Configuration,
    prune: bool,
    positions: Mapping[tuple[str, str], Path],
) -> None:
    """Warn about endpoints that neither they nor their profile give an API username for.

    Not an error: delivery records it per endpoint with an alarm, and the other endpoints
    are not held back. Endpoints of this file and endpoints whose profile this file changes.
    """
    final = {s: _final(s, desired, existing, prune) for s in ("profiles", "endpoint_groups")}
    endpoints = _final("endpoints", desired, existing, prune)
    for name, endpoint in sorted(endpoints.items()):
        if endpoint.type == "WEBEX":
            _check_webex(check, endpoint, final, positions)
            continue
        if endpoint.type not in CREDENTIAL_TYPES or endpoint.api_username:
            continue
        group = final["endpoint_groups"].get(endpoint.group)
        profile = final["profiles"].get(group.profile) if group else None
        if profile is None or profile.endpoint_api_username:
            continue
        if ("endpoints", name) not in positions and ("profiles", profile.name) not in positions:
            continue
        path, prefix = _where(positions, "endpoints", name, "api_username")
        check.warn(
            path,
            f"{prefix}no API credentials: set api_username on the endpoint or "
            f"endpoint_api_username on its profile {profile.name!r} (delivery to it fails "
            "until then)",
        )


def _check_webex(
    check: _Checker,
    endpoint: Endpoint,
    final: Mapping[str, Mapping[str, Any]],
    positions: Mapping[tuple[str, str], Path],
) -> None:
    """Warn about a ``WEBEX`` endpoint without a device id or without its profile's Webex
    authorisation (delivery to it fails with an alarm until the configuration gives them)."""
    from otj.delivery.webex_cloud import missing_webex_settings

    group = final["endpoint_groups"].get(endpoint.group)
    profile = final["profiles"].get(group.profile) if group else None
    if profile is None:
        return
    if ("endpoints", endpoint.name) not in positions and (
        "profiles",
        profile.name,
    ) not in positions:
        return
    problem = missing_webex_settings(endpoint, profile)
    if problem:
        path, prefix = _where(positions, "endpoints", endpoint.name, "webex_device_id")
        check.warn(path, f"{prefix}{problem} (delivery to it fails until then)")


def _check_routing(
    check: _Checker, desired: Configuration, positions: Mapping[tuple[str, str], Path]
) -> None:
    """Call routing regexes as the gateway runs them (the ``regex`` module, case-insensitive)."""
    from guestjoin.routing import validate_call_routing_rules

    rules = {rule.name: rule for rule in desired.call_routing_rules}
    for problem in validate_call_routing_rules(desired.call_routing_rules):
        rule = rules.get(problem.rule)
        if rule is None or problem.field not in ("match_string", "replace_string", "match_source"):
            continue  # names, priorities and proxies are checked with the other references
        if problem.field == "match_string" and not rule.match_string and not rule.enabled:
            continue  # a disabled rule may be kept without a pattern
        check.error((*positions[("call_routing_rules", rule.name)], problem.field), problem.message)
    for proxy in desired.sip_proxies:
        if not proxy.address:
            check.error((*positions[("sip_proxies", proxy.name)], "address"), "must not be empty")
    for credential in desired.sip_credentials:
        path = positions[("sip_credentials", credential.name)]
        if not credential.username:
            check.error((*path, "username"), "username must not be empty")
        if credential.password is None:
            check.error((*path, "password"), "password is required (inline, env:NAME or file:PATH)")


def _check_receptions(
    check: _Checker, desired: Configuration, positions: Mapping[tuple[str, str], Path]
) -> None:
    """Virtual Reception patterns as the gateway runs them; a language needs its prompts."""
    from guestjoin.reception.aliases import validate_reception

    for reception in desired.virtual_receptions:
        base = positions[("virtual_receptions", reception.name)]
        for problem in validate_reception(reception):
            where = (*base, *problem.path)
            if problem.warning:
                check.warn(where, problem.message)
            else:
                check.error(where, problem.message)


def _check_media(
    check: _Checker,
    desired: Configuration,
    existing: Configuration,
    positions: Mapping[tuple[str, str], Path],
) -> None:
    """``media: relay`` needs an rtpengine; encryption applies to relayed media only."""
    gateway = desired.gateway or existing.gateway or GatewaySettings()
    for rule in desired.call_routing_rules:
        path = positions[("call_routing_rules", rule.name)]
        if rule.media == "relay" and not gateway.rtpengines:
            check.error(
                (*path, "media"),
                "media: relay needs at least one rtpengine in gateway.rtpengines",
            )
        if rule.media == "direct" and rule.outbound_media_encryption != "none":
            check.warn(
                (*path, "outbound_media_encryption"),
                "applies to media: relay only; with direct media the endpoints negotiate it",
            )


def _check_gateway(check: _Checker, gateway: GatewaySettings) -> None:
    from guestjoin.attribution import template_problem

    for key in ("caller_display_name", "unattributed_display_name"):
        problem = template_problem(getattr(gateway, key), now=datetime.now(UTC))
        if problem:
            check.error(("gateway", key), problem)
    from guestjoin.media.pool import parse_engine

    for index, engine in enumerate(gateway.rtpengines):
        try:
            parse_engine(engine.address, engine.weight)
        except ValueError as exc:
            check.error(("gateway", "rtpengines", index, "address"), str(exc))
    for index, address in enumerate(gateway.listen):
        path: Path = ("gateway", "listen", index)
        try:
            ipaddress.ip_address(address.address)
        except ValueError:
            check.error((*path, "address"), f"must be an IP address, got {address.address!r}")
        if not 0 <= address.port <= 65_535:
            check.error((*path, "port"), f"must be a port number, got {address.port}")
    for index, server in enumerate(gateway.dns_servers):
        if not _ip_port(server):
            check.error(("gateway", "dns_servers", index), f"must be IP[:PORT], got {server!r}")
    for index, source in enumerate(gateway.allowed_sources):
        try:
            ipaddress.ip_network(source, strict=False)
        except ValueError:
            check.error(
                ("gateway", "allowed_sources", index), f"must be an IP network, got {source!r}"
            )


def _ip_port(text: str) -> bool:
    """``192.0.2.1``, ``192.0.2.1:53``, ``2001:db8::1`` or ``[2001:db8::1]:53``."""
    host, port = text, ""
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return not port or (port.isdigit() and 0 < int(port) <= 65_535)
