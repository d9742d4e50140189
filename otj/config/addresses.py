"""Checks of the addresses in the ``gateway:`` and ``api:`` sections (IP, port, network)."""

from __future__ import annotations

import ipaddress
import re

from otj.config.convert import Checker
from otj.config.yamlsrc import Path
from otj.model import GatewaySettings
from otj.store.values import ApiSettings

LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")


def check_api(check: Checker, api: ApiSettings) -> None:
    """The API's ``listen`` is HOST:PORT."""
    if not LISTEN.match(api.listen):
        check.error(("api", "listen"), "must be HOST:PORT, e.g. 127.0.0.1:8080")


def check_gateway(check: Checker, gateway: GatewaySettings) -> None:
    """Listen addresses, DNS servers and allowed source networks."""
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
