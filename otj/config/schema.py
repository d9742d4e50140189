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

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from otj.config.addresses import check_api, check_gateway
from otj.config.convert import (
    INVALID,
    LIST_SECTIONS,
    TOP_LEVEL,
    Checker,
    integration_settings,
    suggest,
)
from otj.config.gateway_checks import check_gateway_features, check_gateway_settings
from otj.config.references import Positions, check_across_objects
from otj.config.yamlsrc import Located, Path, Problem
from otj.model import Endpoint, GatewaySettings, MeetingRule, Profile
from otj.store.config_rows import column_problems
from otj.store.values import ApiSettings, Configuration

RulesValidator = Callable[[Sequence[MeetingRule]], Sequence[Any]]
ProfileValidator = Callable[[Profile], Sequence[Any]]


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


def validate_document(
    doc: Located,
    *,
    existing: Configuration,
    prune: bool = False,
    environ: Mapping[str, str] | None = None,
    rules_validator: RulesValidator | None = None,
    profile_validator: ProfileValidator | None = None,
) -> ValidatedConfig:
    """Validate a parsed configuration file against the current store contents."""
    check = Checker(doc, os.environ if environ is None else environ)
    data = doc.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        check.error((), "the configuration must be a mapping of sections")
        return ValidatedConfig(configuration=None, problems=tuple(check.problems))
    for key in data:
        if key not in TOP_LEVEL:
            check.error((str(key),), f"unknown section{suggest(str(key), TOP_LEVEL)}")
    database = data.get("database")
    if database is not None and not isinstance(database, str):
        check.error(("database",), "must be a database URL string")
        database = None

    lists, positions, invalid = _read_lists(check, data)
    gateway = _read_gateway(check, data)
    api = _read_api(check, data)
    sections = frozenset(
        [*lists, *(["gateway"] if gateway is not None else []), *(["api"] if api else [])]
    )
    configuration = Configuration(
        sections=sections,
        gateway=gateway,
        api=api,
        **{s: lists.get(s, ()) for s in LIST_SECTIONS},
    )
    check_across_objects(
        check, configuration, existing=existing, prune=prune, positions=positions, invalid=invalid
    )
    check_gateway_features(check, configuration, existing, positions)
    _run_validators(check, configuration, positions, rules_validator, profile_validator)
    errors = [p for p in check.problems if not p.warning]
    return ValidatedConfig(
        configuration=None if errors else configuration,
        problems=tuple(sorted(check.problems, key=lambda p: (p.line, p.path, p.warning))),
        database=database,
    )


def _read_lists(
    check: Checker, data: Mapping[str, Any]
) -> tuple[dict[str, tuple[Any, ...]], dict[tuple[str, str], Path], set[tuple[str, str]]]:
    """The list sections' objects, where each is, and the (section, name) of invalid entries
    (those get no follow-up reference errors)."""
    lists: dict[str, tuple[Any, ...]] = {}
    positions: dict[tuple[str, str], Path] = {}
    invalid: set[tuple[str, str]] = set()
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
                value = integration_settings(check, mapping, path)
            else:
                value = check.build(section, cls, mapping, path)
            if value is INVALID:
                if raw_name:
                    invalid.add((section, raw_name))
                continue
            if section == "endpoints":
                value = _normalise_endpoint(value)
            for field_name, problem in column_problems(section, value):
                check.error((*path, field_name), problem)
            positions[(section, value.name)] = path
            items.append(value)
        lists[section] = tuple(items)
    return lists, positions, invalid


def _read_gateway(check: Checker, data: Mapping[str, Any]) -> GatewaySettings | None:
    if data.get("gateway") is None:
        return None
    mapping = check.mapping(data["gateway"], ("gateway",))
    if mapping is None:
        return None
    built = check.build("gateway", GatewaySettings, mapping, ("gateway",))
    if built is INVALID:
        return None
    assert isinstance(built, GatewaySettings)
    for field_name, problem in column_problems("gateway", built):
        check.error(("gateway", field_name), problem)
    check_gateway(check, built)
    check_gateway_settings(check, built)
    return built


def _read_api(check: Checker, data: Mapping[str, Any]) -> ApiSettings | None:
    if data.get("api") is None:
        return None
    mapping = check.mapping(data["api"], ("api",))
    if mapping is None:
        return None
    built = check.build("api", ApiSettings, mapping, ("api",))
    if built is INVALID:
        return None
    assert isinstance(built, ApiSettings)
    check_api(check, built)
    return built


def _run_validators(
    check: Checker,
    configuration: Configuration,
    positions: Positions,
    rules_validator: RulesValidator | None,
    profile_validator: ProfileValidator | None,
) -> None:
    """The rule engine's and the profile's own checks, placed at their object's line."""
    if rules_validator is not None and configuration.meeting_processing_rules:
        for problem in rules_validator(configuration.meeting_processing_rules):
            base = positions.get(
                ("meeting_processing_rules", str(getattr(problem, "rule", ""))),
                ("meeting_processing_rules",),
            )
            _report(check, base, problem)
    if profile_validator is not None:
        for profile in configuration.profiles:
            for problem in profile_validator(profile):
                _report(check, positions.get(("profiles", profile.name), ("profiles",)), problem)


def _report(check: Checker, base: Path, problem: Any) -> None:
    field_name = getattr(problem, "field", "") or ""
    path = (*base, field_name) if field_name else base
    check.error(path, str(getattr(problem, "message", problem)))


def _normalise_endpoint(endpoint: Endpoint) -> Endpoint:
    return replace(endpoint, room_resource_email=endpoint.room_resource_email.strip().lower())
