"""Checks of the gateway's own features: Virtual Receptions, media relay, display names.

Each is checked as the gateway runs it (the reception's patterns, rtpengine addresses, the
sandboxed display name templates), so a mistake is reported with its line when the
configuration is saved, not at the first call.
"""

from __future__ import annotations

from datetime import UTC, datetime

from otj.config.convert import Checker
from otj.config.references import Positions
from otj.model import GatewaySettings
from otj.store.values import Configuration


def check_gateway_features(
    check: Checker, desired: Configuration, existing: Configuration, positions: Positions
) -> None:
    """Receptions and relayed media of the document."""
    _check_receptions(check, desired, positions)
    _check_media(check, desired, existing, positions)


def check_gateway_settings(check: Checker, gateway: GatewaySettings) -> None:
    """The ``gateway:`` section's display name templates and rtpengine addresses."""
    from guestjoin.attribution import template_problem
    from guestjoin.media.pool import parse_engine

    for key in ("caller_display_name", "unattributed_display_name"):
        problem = template_problem(getattr(gateway, key), now=datetime.now(UTC))
        if problem:
            check.error(("gateway", key), problem)
    for index, engine in enumerate(gateway.rtpengines):
        try:
            parse_engine(engine.address, engine.weight)
        except ValueError as exc:
            check.error(("gateway", "rtpengines", index, "address"), str(exc))


def _check_receptions(check: Checker, desired: Configuration, positions: Positions) -> None:
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
    check: Checker, desired: Configuration, existing: Configuration, positions: Positions
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
