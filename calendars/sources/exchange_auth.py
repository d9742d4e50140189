"""Exchange Web Services authentication: credentials, OAuth tokens and the 401 retry policy.

HTTP 401 is a refused credential, never retried: exchangelib's ``FaultTolerance`` would treat it as
throttling and repeat the logon until ``max_wait`` (each repeat a failed NTLM/Basic logon that
counts towards the account's lockout). With OAuth (client credentials grant for an app with
``full_access_as_app``, so always impersonation) a 401 means the token expired or was revoked:
the session is renewed with a freshly fetched token and the request repeated, once; a second
refusal is ``CalendarAuthError``. The token comes from ``{authority_host}/{tenant}/oauth2/v2.0/
token`` for the scope ``{EWS host}/.default`` (the audience Exchange Server accepts under hybrid
modern authentication; Exchange Online's own host gives exchangelib's default scope), both
configurable. An expired token is fetched again, never "refreshed": this grant has no refresh
token (RFC 6749 §4.4.3), and exchangelib's refresh attempt fails once per token lifetime
(exchangelib issue #1345). After a refused credential or a failed token fetch the session pool is
discarded (exchangelib loses a pool slot whenever renewing a session fails; with every slot lost
a sync would wait forever), so the next sync starts clean.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from exchangelib import FaultTolerance, OAuth2Credentials
from exchangelib import errors as ews_errors
from oauthlib.oauth2 import OAuth2Error, TokenExpiredError

from calendars.base import CalendarAuthError

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
TOKEN_FETCHES_WITHOUT_SUCCESS = 2  # the first token, and one fetched again after a 401


def token_url(authority_host: str, tenant_id: str) -> str:
    """The Microsoft identity platform v2.0 token endpoint of ``tenant_id``."""
    return f"{authority_host.rstrip('/')}/{tenant_id}/oauth2/v2.0/token"


def default_scope(service_endpoint: str) -> str:
    """``{scheme}://{host}/.default``: the EWS host is the token audience (hybrid modern auth)."""
    parts = urlsplit(service_endpoint)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/.default"


class TokensRefused(CalendarAuthError):
    """EWS refused every freshly fetched token, or they arrived already expired."""


class TokenBudget:
    """Token fetches since EWS last accepted a request; bounds exchangelib's renew-and-retry."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._fetches = 0
        self._lock = threading.Lock()

    def fetched(self) -> None:
        with self._lock:
            self._fetches += 1
            fetches = self._fetches
        if fetches > self._limit:
            raise TokensRefused(
                f"EWS refused {fetches - 1} freshly fetched OAuth tokens in a row (token audience, "
                "the app's full_access_as_app permission, or the token lifetime?)"
            )

    def succeeded(self) -> None:
        with self._lock:
            self._fetches = 0


class ClientCredentials(OAuth2Credentials):  # type: ignore[misc]
    """exchangelib's client credentials grant with our token endpoint, scope and renewal.

    Overrides the members exchangelib documents on its credentials classes: ``token_url`` and
    ``scope`` (properties), ``session_params()`` (no refresh-token auto-refresh: RFC 6749 §4.4.3,
    so an expired token raises ``TokenExpiredError`` and exchangelib renews the session, which
    fetches a new token) and ``on_token_auto_refreshed()`` (counts fetches against the budget).
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        tenant_id: str,
        token_url: str,
        scope: str,
        budget: TokenBudget,
    ) -> None:
        super().__init__(client_id=client_id, client_secret=client_secret, tenant_id=tenant_id)
        self._token_endpoint = token_url
        self._scopes = (scope,)  # a tuple: exchangelib hashes the attributes
        self._budget = budget

    @property
    def token_url(self) -> str:
        return self._token_endpoint

    @property
    def scope(self) -> list[str]:
        return list(self._scopes)

    def session_params(self) -> dict[str, Any]:
        return {"token": self.access_token}

    def on_token_auto_refreshed(self, access_token: Any) -> None:
        super().on_token_auto_refreshed(access_token)
        self._budget.fetched()


class RetryPolicy(FaultTolerance):  # type: ignore[misc]
    """``FaultTolerance`` except for 401: refused credentials, or (OAuth) a token to replace."""

    def __init__(self, *, max_wait: float, budget: TokenBudget | None) -> None:
        super().__init__(max_wait=max_wait)
        self._budget = budget

    def raise_response_errors(self, response: requests.Response) -> None:
        if response.status_code == 401:
            if self._budget is not None:
                # exchangelib retires the session (its token is dropped), renews it with a new
                # token and repeats the request at once; the budget stops a second refusal
                raise TokenExpiredError(description=_diagnostics(response))
            raise ews_errors.UnauthorizedError(f"HTTP 401 from {response.url}")
        if response.status_code == 200 and self._budget is not None:
            self._budget.succeeded()
        super().raise_response_errors(response)


def _diagnostics(response: requests.Response) -> str:
    """Why EWS refused a token (``x-ms-diagnostics``, else ``WWW-Authenticate``)."""
    return str(
        response.headers.get("x-ms-diagnostics") or response.headers.get("WWW-Authenticate") or ""
    )[:200]


def breaks_sessions(exc: BaseException) -> bool:
    """Whether exchangelib may have lost a pooled session: a refused logon or token fetch."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(
            seen,
            (TokensRefused, ews_errors.UnauthorizedError, OAuth2Error, requests.RequestException),
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
