"""Errors raised at the endpoint adapter edge; each carries a short ``kind`` for alarms."""

from __future__ import annotations

NO_CREDENTIALS = (
    "no API credentials: set api_username on the endpoint or endpoint_api_username on its profile"
)


class EndpointError(Exception):
    """An endpoint could not be reached or did not do what was asked."""

    kind = "error"


class EndpointUnauthorised(EndpointError):
    """The endpoint answered 401/403: wrong credentials or a user without the Admin role."""

    kind = "unauthorised"


class EndpointUnreachable(EndpointError):
    """Connection refused, DNS failure, TLS failure or a timeout."""

    kind = "unreachable"


class EndpointProtocolError(EndpointError):
    """The endpoint answered something that is not the xAPI (garbage, HTML, wrong status)."""

    kind = "protocol"


class EndpointCommandFailed(EndpointError):
    """The xAPI answered with a result ``status`` other than OK (the reason is the message)."""

    kind = "command"


class MissingCredentials(EndpointError):
    """Neither the endpoint nor its profile gives an API username (a configuration error)."""

    kind = "credentials"
