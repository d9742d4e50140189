"""What the gateway reads from its configuration, behind a small provider interface.

``GatewayConfig`` is an immutable snapshot; a ``ConfigProvider`` produces snapshots (from the
store in production, from memory in tests) and the gateway reloads it periodically.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Protocol

from guestjoin.identity import TlsIdentity
from otj.model import (
    CallRoutingRule,
    Endpoint,
    GatewaySettings,
    SipCredential,
    SipProxy,
    VirtualReception,
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, kw_only=True, slots=True)
class GatewayConfig:
    """Routing rules, proxies, gateway settings, the endpoints (with SIP credentials), the
    outbound SIP credentials, the gateway's identity certificate and the Virtual Receptions."""

    rules: tuple[CallRoutingRule, ...] = ()
    proxies: tuple[SipProxy, ...] = ()
    settings: GatewaySettings = field(default_factory=GatewaySettings)
    endpoints: tuple[Endpoint, ...] = ()
    credentials: tuple[SipCredential, ...] = ()  # passwords resolved: never logged
    identity: TlsIdentity | None = None  # the uploaded certificate (otj gateway identity)
    receptions: tuple[VirtualReception, ...] = ()

    def credential(self, name: str) -> SipCredential | None:
        """A ``sip_credentials`` entry by name."""
        return next((c for c in self.credentials if c.name == name), None)

    def proxy(self, name: str) -> SipProxy | None:
        """A configured SIP proxy by name."""
        return next((p for p in self.proxies if p.name == name), None)

    def endpoint_by_username(self, username: str) -> Endpoint | None:
        """The endpoint whose ``sip_username`` is ``username``."""
        if not username:
            return None
        return next((e for e in self.endpoints if e.sip_username == username), None)

    def endpoint_by_address(self, ip: str) -> Endpoint | None:
        """The endpoint whose API address is ``ip`` (a known room calling from its own address)."""
        return next((e for e in self.endpoints if e.api_address and e.api_address == ip), None)

    def allowed_networks(self) -> tuple[Network, ...]:
        """``allowed_sources`` parsed (invalid entries are refused when saved)."""
        return tuple(ipaddress.ip_network(s, strict=False) for s in self.settings.allowed_sources)


class ConfigProvider(Protocol):
    """Produces configuration snapshots (may do blocking I/O: called from a worker thread)."""

    def load(self) -> GatewayConfig:
        """The current configuration."""


class StaticConfig:
    """An in-memory provider (tests, embedded demos)."""

    def __init__(self, config: GatewayConfig | None = None) -> None:
        self.config = config or GatewayConfig()

    def load(self) -> GatewayConfig:
        """The configuration given last."""
        return self.config

    def set(self, config: GatewayConfig) -> None:
        """Replace the configuration (picked up at the next reload)."""
        self.config = config
