"""Checks across objects, against the state the store would have after the apply.

References (group → profile, endpoint → group, profile → integration, rule → profile, call
routing rule → SIP proxy and SIP credentials), one profile per room, unique SIP usernames,
``stored:inline`` markers that have a stored secret, endpoint addresses, missing API
credentials and Webex settings (warnings), and call routing patterns as the gateway compiles
them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from otj.config.convert import LIST_SECTIONS, Checker, suggest
from otj.config.yamlsrc import Path
from otj.model import Endpoint
from otj.store.values import INLINE_KEEP, PROFILE_SECRETS, Configuration

#: Where each object of the document is: (section, name) → its YAML path.
Positions = Mapping[tuple[str, str], Path]

#: Endpoint types the service logs in to (their API credentials come from the endpoint or
#: from its profile's ``endpoint_api_username``/``endpoint_api_password``).
CREDENTIAL_TYPES = ("CISCO",)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_across_objects(
    check: Checker,
    desired: Configuration,
    *,
    existing: Configuration,
    prune: bool,
    positions: Positions,
    invalid: set[tuple[str, str]],
) -> None:
    """Every check of this module (``invalid``: entries with errors, not referred to again)."""
    _check_references(
        check, desired, existing=existing, prune=prune, positions=positions, invalid=invalid
    )
    _check_keep_markers(check, desired, existing, positions)
    _check_endpoint_rules(check, desired, existing, prune, positions)
    _check_credentials(check, desired, existing, prune, positions)
    _check_routing(check, desired, positions)


def _final(
    section: str, desired: Configuration, existing: Configuration, prune: bool
) -> dict[str, Any]:
    """Name → object of a section after the apply."""
    stored = {v.name: v for v in getattr(existing, section)}
    if section not in desired.sections:
        return stored
    wanted = {v.name: v for v in getattr(desired, section)}
    return wanted if prune else {**stored, **wanted}


def _where(positions: Positions, section: str, name: str, key: str) -> tuple[Path, str]:
    path = positions.get((section, name))
    if path is None:
        return (section,), f"stored {section} {name!r} (not in this file): "
    return (*path, key), ""


def _check_references(
    check: Checker,
    desired: Configuration,
    *,
    existing: Configuration,
    prune: bool,
    positions: Positions,
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
                hint = suggest(ref, list(final[target]))
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
    check: Checker,
    desired: Configuration,
    existing: Configuration,
    positions: Positions,
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
    check: Checker,
    desired: Configuration,
    existing: Configuration,
    prune: bool,
    positions: Positions,
) -> None:
    for endpoint in desired.endpoints:
        path = positions[("endpoints", endpoint.name)]
        if not EMAIL.match(endpoint.room_resource_email):
            check.error((*path, "room_resource_email"), "must be an email address")
        # POLY endpoints read their calendar from otj (EWS): only CISCO ones are contacted
        if endpoint.type == "CISCO" and not endpoint.api_address:
            check.error(path, f"{endpoint.type} endpoints need 'api_address'")


def _check_credentials(
    check: Checker,
    desired: Configuration,
    existing: Configuration,
    prune: bool,
    positions: Positions,
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
    check: Checker,
    endpoint: Endpoint,
    final: Mapping[str, Mapping[str, Any]],
    positions: Positions,
) -> None:
    """Warn about a ``WEBEX`` endpoint without a device id or without its profile's Webex
    authorisation (delivery to it fails with an alarm until the configuration gives them)."""
    from otj.delivery.devices.webex_auth import missing_webex_settings

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


def _check_routing(check: Checker, desired: Configuration, positions: Positions) -> None:
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
