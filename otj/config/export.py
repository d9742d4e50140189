"""``otj config export``: the stored configuration as YAML that ``otj config apply`` accepts.

Secret references are written back as they were given (``env:NAME``, ``file:PATH``); inline
secrets are never written: they appear as ``stored:inline``, which ``apply`` reads as "keep the
value already stored", so exporting and re-applying changes nothing and leaks nothing.
"""

from __future__ import annotations

from dataclasses import fields
from enum import Enum
from typing import Any

import yaml

from otj.model import GatewaySettings
from otj.secret import Secret
from otj.store.values import INLINE_KEEP, Configuration, IntegrationSettings

HEADER = f"""\
# otj configuration exported by `otj config export` (apply it with `otj config apply FILE`).
# Secrets given as env:NAME or file:PATH are references, resolved where the service runs.
# `{INLINE_KEEP}` stands for a secret given inline: its value stays encrypted in the database
# and is never exported; applying this file keeps it. Replace it to set a new value.
"""

ORDER = (
    "profiles",
    "integrations",
    "endpoint_groups",
    "endpoints",
    "meeting_processing_rules",
    "call_routing_rules",
    "sip_proxies",
    "sip_credentials",
    "virtual_receptions",
)


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.ref or INLINE_KEEP
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def _integration(value: IntegrationSettings) -> dict[str, Any]:
    out: dict[str, Any] = {"name": value.name, "type": value.type}
    if value.daily_request_quota is not None:
        out["daily_request_quota"] = value.daily_request_quota
    out.update(value.options)
    for key, secret in sorted(value.secrets.items()):
        out[key] = secret.ref or INLINE_KEEP
    return out


def _gateway(value: GatewaySettings) -> dict[str, Any]:
    out = _plain(value)
    assert isinstance(out, dict)
    return {k: v for k, v in out.items() if v is not None}


def to_document(config: Configuration) -> dict[str, Any]:
    """The configuration as plain data, sections in the order of the example file."""
    doc: dict[str, Any] = {}
    for section in ORDER:
        items = getattr(config, section)
        if section == "integrations":
            doc[section] = [_integration(i) for i in items]
        else:
            doc[section] = [{k: v for k, v in _plain(i).items() if v is not None} for i in items]
    if config.gateway is not None:
        doc["gateway"] = _gateway(config.gateway)
    if config.api is not None:
        doc["api"] = {"listen": config.api.listen}
    return doc


def to_yaml(config: Configuration) -> str:
    """The export text (header comment + YAML)."""
    body = yaml.safe_dump(
        to_document(config), sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return HEADER + body
