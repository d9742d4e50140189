"""Assemble transports, transactions, DNS, registrar, licences and the proxy into a gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from guestjoin.cdr import CallRecorder
from guestjoin.clock import Clock, LoopClock
from guestjoin.config import ConfigProvider, GatewayConfig
from guestjoin.conntrack import ConnectionPolicy
from guestjoin.dns import SipResolver
from guestjoin.identity import TlsIdentity
from guestjoin.licences import Licences
from guestjoin.lockout import LockoutPolicy
from guestjoin.media.relay import AlarmSink, MediaRelay, engines_from
from guestjoin.proxy import Proxy, ProxyOptions
from guestjoin.reception.calendar import Calendar
from guestjoin.reception.service import ReceptionService
from guestjoin.registrar import Registrar
from guestjoin.sip.message import Message
from guestjoin.tlscert import client_context, load_pair, self_signed_pem
from guestjoin.transaction.layer import TransactionLayer
from guestjoin.transaction.timers import Timers
from guestjoin.transport.layer import Listener, TransportLayer
from guestjoin.values import Received
from otj.model import GatewaySettings, ListenAddress

log = logging.getLogger(__name__)

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run the gateway's main coroutine on uvloop when it is installed (asyncio otherwise)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(main)
    return uvloop.run(main)


@dataclass(frozen=True, kw_only=True, slots=True)
class GatewayOptions:
    """Process-level options (the rest comes from the configuration store)."""

    proxy: ProxyOptions = field(default_factory=ProxyOptions)
    timers: Timers = field(default_factory=Timers)
    tls_ca_file: str | None = None  # extra trust anchors for outbound TLS (tests, private CAs)
    tls_names: tuple[str, ...] = ("localhost", "127.0.0.1")  # the self-signed default's names
    reload_interval: float = 10.0
    dns_timeout: float = 2.0
    realm: str = "otj"
    connections: ConnectionPolicy = field(default_factory=ConnectionPolicy)  # TCP/TLS limits
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)  # failed REGISTER digests
    # challenge order, most preferred first (RFC 8760); legacy clients answer the first one
    digest_algorithms: tuple[str, ...] = ("SHA-256", "MD5")


def server_certificate(
    settings: GatewaySettings, names: Sequence[str], identity: TlsIdentity | None
) -> tuple[bytes, bytes]:
    """The chain and key presented on inbound TLS: the uploaded identity (``otj gateway
    identity``), else the configured certificate, else a self-signed one for ``names``."""
    if identity is not None:
        return identity.chain_pem, identity.key.reveal().encode()
    if settings.tls_certificate and settings.tls_private_key:
        return (
            settings.tls_certificate.reveal().encode(),
            settings.tls_private_key.reveal().encode(),
        )
    log.warning("no gateway TLS certificate configured: using a generated self-signed one")
    return self_signed_pem(tuple(names))


def tls_server_context(
    settings: GatewaySettings, names: Sequence[str], identity: TlsIdentity | None = None
) -> ssl.SSLContext:
    """A TLS 1.2+ server context with ``server_certificate``'s chain."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    load_pair(ctx, *server_certificate(settings, names, identity))
    return ctx


def tls_client_context(ca_file: str | None, identity: TlsIdentity | None) -> ssl.SSLContext:
    """The verifying client context, presenting the identity when the server asks for one."""
    pair = (identity.chain_pem, identity.key.reveal().encode()) if identity else None
    return client_context(ca_file, certificate=pair)


def _unwired(msg: Message, received: Received) -> None:
    raise RuntimeError("transport used before the transaction layer was attached")


class Gateway:
    """One gateway process."""

    def __init__(
        self,
        provider: ConfigProvider,
        recorder: CallRecorder,
        *,
        options: GatewayOptions | None = None,
        clock: Clock | None = None,
        licences: Licences | None = None,
        calendar: Calendar | None = None,
        alarms: AlarmSink | None = None,
    ) -> None:
        self.provider = provider
        self.calendar = calendar  # where Virtual Receptions find a calling room's meeting
        self.recorder = recorder
        self.options = options or GatewayOptions()
        self.media = MediaRelay((), alarms=alarms)  # rtpengines of rules with media: relay
        self._clock = clock
        self._licences = licences  # e.g. ClusterLicences; a process-local count by default
        self._tls_server: ssl.SSLContext | None = None
        self.config = GatewayConfig()
        self._reloader: asyncio.Task[None] | None = None
        self.transport: TransportLayer | None = None
        self.proxy: Proxy | None = None
        self.receptions: ReceptionService | None = None
        self.listeners: list[Listener] = []

    async def start(self, listen: Sequence[ListenAddress] | None = None) -> list[Listener]:
        """Load the configuration, bind every listen address and start serving."""
        loop = asyncio.get_running_loop()
        self.config = await loop.run_in_executor(None, self.provider.load)
        settings = self.config.settings
        self.media.configure(engines_from(settings.rtpengines))
        self.media.start()
        clock = self._clock or LoopClock(loop)
        addresses = tuple(listen) if listen is not None else settings.listen
        tls_server = None
        if any(a.transport == "tls" for a in addresses):
            tls_server = tls_server_context(settings, self.options.tls_names, self.config.identity)
        self._tls_server = tls_server
        transport = TransportLayer(
            _unwired,
            tls_server=tls_server,
            tls_client=tls_client_context(self.options.tls_ca_file, self.config.identity),
            server_header=self.options.proxy.server_name,
            policy=self.options.connections,
        )
        transactions = TransactionLayer(transport, clock, self.options.timers)
        transport.handler = transactions.handle
        resolver = SipResolver(clock, settings.dns_servers, timeout=self.options.dns_timeout)
        licences = self._licences or Licences(settings.call_licenses)
        licences.total = settings.call_licenses
        self.proxy = Proxy(
            transport=transport,
            transactions=transactions,
            resolver=resolver,
            registrar=Registrar(
                clock,
                realm=self.options.realm,
                algorithms=self.options.digest_algorithms,
                lockout=self.options.lockout,
            ),
            licences=licences,
            recorder=self.recorder,
            clock=clock,
            config=lambda: self.config,
            options=self.options.proxy,
            media=self.media,
        )
        self.receptions = ReceptionService(self.proxy, self.calendar)
        self.transport = transport
        try:
            for address in addresses:
                self.listeners.append(
                    await transport.listen(address.transport, address.address, address.port)
                )
        except OSError:
            await transport.close()
            raise
        if self.options.reload_interval > 0:
            self._reloader = loop.create_task(self._reload_forever())
        return self.listeners

    def apply(self, config: GatewayConfig) -> None:
        """Use a new configuration snapshot (licence total, DNS servers and the identity
        certificate follow it)."""
        old = self.config.settings
        old_identity = self.config.identity
        self.config = config
        proxy = self.proxy
        if proxy is None:
            return
        if config.identity != old_identity:
            self._use_identity(config)
        proxy.licences.total = config.settings.call_licenses
        if config.settings.rtpengines != old.rtpengines:
            self.media.configure(engines_from(config.settings.rtpengines))
        if config.settings.dns_servers != old.dns_servers:
            proxy.resolver = SipResolver(
                proxy.clock, config.settings.dns_servers, timeout=self.options.dns_timeout
            )

    def _use_identity(self, config: GatewayConfig) -> None:
        """Present the new identity on connections opened from now on (no restart)."""
        if self.transport is None:
            return
        try:
            if self._tls_server is not None:
                names = self.options.tls_names
                load_pair(
                    self._tls_server, *server_certificate(config.settings, names, config.identity)
                )
            self.transport.tls_client = tls_client_context(
                self.options.tls_ca_file, config.identity
            )
        except (ssl.SSLError, ValueError):
            log.exception("cannot use the new gateway certificate, keeping the old one")
            return
        log.info("gateway TLS identity changed: new connections present the new certificate")

    async def reload(self) -> None:
        """Read the configuration again (in a worker thread: the provider may block)."""
        loop = asyncio.get_running_loop()
        try:
            config = await loop.run_in_executor(None, self.provider.load)
        except Exception:
            log.exception("cannot reload the gateway configuration; keeping the current one")
            return
        self.apply(config)

    async def _reload_forever(self) -> None:
        while True:
            await asyncio.sleep(self.options.reload_interval)
            await self.reload()

    async def stop(self) -> None:
        """Stop serving and close every socket."""
        if self._reloader is not None:
            self._reloader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reloader
        if self.transport is not None:
            await self.transport.close()
        await self.media.close()

    def listener(self, transport: str) -> Listener:
        """The bound listener of a transport."""
        for lst in self.listeners:
            if lst.transport == transport:
                return lst
        raise KeyError(transport)
