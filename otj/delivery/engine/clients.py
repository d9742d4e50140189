"""The runner's device clients: one per endpoint, kept between cycles so that httpx keeps its
connections to the codecs (Cisco HTTP xAPI) and to the Webex cloud xAPI, and replaced when an
endpoint's connection settings change (a different device may answer: its list is pushed
again)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from otj.delivery.devices.cisco import (
    CiscoConnection,
    CiscoDefaults,
    CiscoXapiClient,
    connection_for,
)
from otj.delivery.devices.errors import MissingCredentials
from otj.delivery.devices.webex_auth import credentials_for
from otj.delivery.devices.webex_cloud import WebexCloud, WebexDeviceClient
from otj.delivery.engine.deliver import BookingsClient
from otj.model import Endpoint, Profile

TransportFactory = Callable[[CiscoConnection], httpx.AsyncBaseTransport | None]


class DeviceClients:
    """Clients by endpoint name; every call runs on the runner's event loop."""

    def __init__(
        self,
        *,
        defaults: CiscoDefaults,
        transport_factory: TransportFactory | None,
        webex_base_url: str,
        webex_transport: httpx.AsyncBaseTransport | None,
        webex_concurrency: int,
    ) -> None:
        self.defaults = defaults
        self.webex_base_url = webex_base_url
        self._transport_factory = transport_factory
        self._webex_transport = webex_transport
        self._webex_concurrency = webex_concurrency
        self._cisco: dict[str, CiscoXapiClient] = {}
        self._webex_devices: dict[str, WebexDeviceClient] = {}
        self._closing: set[asyncio.Task[None]] = set()
        #: The Webex cloud (its token cache and rate limit), made for the first WEBEX endpoint.
        self.webex: WebexCloud | None = None

    def for_endpoint(self, endpoint: Endpoint, profile: Profile) -> tuple[BookingsClient, bool]:
        """The endpoint's client (Webex cloud for ``WEBEX``, else the codec's own xAPI) and
        whether its connection settings changed."""
        if endpoint.type == "WEBEX":
            return self.webex_device(endpoint, profile)
        return self.cisco(endpoint, profile)

    def cisco(self, endpoint: Endpoint, profile: Profile) -> tuple[CiscoXapiClient, bool]:
        """The endpoint's client, and whether its connection settings changed (a different
        device may answer now: its list must be pushed again).

        Raises ``MissingCredentials`` (and drops the endpoint's client) when neither the
        endpoint nor its profile gives an API username.
        """
        client = self._cisco.get(endpoint.name)
        try:
            connection = connection_for(endpoint, self.defaults.for_profile(profile))
        except MissingCredentials:
            if client is not None:
                self._close_later(self._cisco.pop(endpoint.name))
            raise
        moved = client is not None and client.connection != connection
        if client is None or moved:
            if client is not None:
                self._close_later(client)
            transport = self._transport_factory(connection) if self._transport_factory else None
            client = CiscoXapiClient(connection, transport=transport)
            self._cisco[endpoint.name] = client
        return client, moved

    def webex_device(self, endpoint: Endpoint, profile: Profile) -> tuple[WebexDeviceClient, bool]:
        """A cloud device's client, and whether its device id or authorisation changed.

        Raises ``MissingCredentials`` (naming what is missing) without a device id or without
        the profile's Webex client id, secret and refresh token.
        """
        try:
            credentials = credentials_for(endpoint, profile)
        except MissingCredentials:
            self._webex_devices.pop(endpoint.name, None)
            raise
        if self.webex is None:
            self.webex = WebexCloud(
                self.webex_base_url,
                transport=self._webex_transport,
                concurrency=self._webex_concurrency,
            )
        client = self._webex_devices.get(endpoint.name)
        moved = client is not None and (
            client.connection.device_id != endpoint.webex_device_id
            or client.connection.credentials != credentials
        )
        if client is None or moved:
            client = self.webex.device(
                endpoint.name,
                endpoint.webex_device_id,
                credentials,
                room=endpoint.room_resource_email,
            )
            self._webex_devices[endpoint.name] = client
        return client, moved

    def _close_later(self, client: CiscoXapiClient) -> None:
        task = asyncio.get_running_loop().create_task(client.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close every connection (the clients are made again when needed)."""
        clients, self._cisco = list(self._cisco.values()), {}
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
        self._webex_devices = {}
        if self.webex is not None:
            await self.webex.aclose()
            self.webex = None
