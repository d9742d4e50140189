"""Exchange (EWS) authentication for real: NTLM and OAuth 2.0 against the EWS fake.

The real exchangelib adapter (requests_ntlm / requests_oauthlib underneath) talks to
``tests.fakes.ews.EwsFake``: NTLM is the connection-bound Negotiate → Challenge → Authenticate
handshake whose NTLMv2 response pyspnego's acceptor verifies against the password; OAuth is the
client credentials grant against the fake's identity platform token endpoint, then bearer tokens
checked for audience, expiry (on the fake's clock) and revocation. Failures must be quick, single
attempts: the ``max_wait`` here is the production default (30 s) and the timeouts are far below it.
"""

from __future__ import annotations

import base64
import http.client
from collections.abc import Iterator
from contextlib import closing
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import spnego
from exchangelib import OAuth2Credentials
from requests_ntlm import HttpNtlmAuth

from calendars.base import (
    CalendarAuthError,
    CalendarEvent,
    CalendarUnavailable,
    SyncResult,
)
from calendars.config import IntegrationConfigError, integration_from_mapping
from calendars.registry import create_source
from calendars.sources.exchange import ExchangeCalendarSource, ExchangeSettings
from calendars.sources.exchange_auth import ClientCredentials, default_scope
from otj.secret import Secret
from tests.fakes.ews import ENDPOINT, EwsFake
from tests.fakes.ews_auth import EXCHANGE_ONLINE_RESOURCE
from tests.integration.calendars.peers import ROOM, WINDOW_END, WINDOW_START, EwsPeer, scenario

EVENTS = 12  # the scenario in the window: singles, five occurrences less one cancelled, ...
PRODUCTION_MAX_WAIT = ExchangeSettings(service_endpoint="https://x").max_wait
FAST = pytest.mark.timeout(15)  # a retry loop under FaultTolerance would sleep 10 s, then 20 s
ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
    'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
    '<s:Header><t:RequestServerVersion Version="Exchange2016"/>'
    "<t:ExchangeImpersonation><t:ConnectingSID>"
    f"<t:PrimarySmtpAddress>{ROOM}</t:PrimarySmtpAddress>"
    "</t:ConnectingSID></t:ExchangeImpersonation></s:Header>"
    "<s:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
    '<m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>'
    "</s:Body></s:Envelope>"
).encode()


def sync(source: ExchangeCalendarSource, state: str | None = None) -> SyncResult:
    return source.sync(ROOM, start=WINDOW_START, end=WINDOW_END, state=state)


def events_of(result: SyncResult) -> list[dict[str, Any]]:
    def key(event: CalendarEvent) -> tuple[datetime, str]:
        return event.start, event.subject

    return [
        {k: v for k, v in asdict(e).items() if k != "id"} for e in sorted(result.events, key=key)
    ]


@pytest.fixture
def ca_bundle(tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake's certificate as the trust store (the adapter honours REQUESTS_CA_BUNDLE)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files[0]))
    return tls_files[0]


@pytest.fixture
def ntlm_fake() -> Iterator[EwsFake]:
    with EwsFake(auth=("ntlm",)) as fake:
        EwsPeer(fake).load(scenario())
        yield fake


@pytest.fixture
def ntlm_tls_fake(tls_files: tuple[Path, Path], ca_bundle: Path) -> Iterator[EwsFake]:
    with EwsFake(auth=("ntlm",), tls=tls_files) as fake:
        EwsPeer(fake).load(scenario())
        yield fake


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 20, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def oauth_fake(tls_files: tuple[Path, Path], ca_bundle: Path, clock: _Clock) -> Iterator[EwsFake]:
    with EwsFake(auth=("bearer",), tls=tls_files, now=clock) as fake:
        EwsPeer(fake).load(scenario())
        yield fake


def ntlm_source(fake: EwsFake, **overrides: Any) -> ExchangeCalendarSource:
    settings: dict[str, Any] = {"auth": "ntlm", "max_wait": PRODUCTION_MAX_WAIT, **overrides}
    return EwsPeer(fake).source(**settings)


def oauth_source(fake: EwsFake, **overrides: Any) -> ExchangeCalendarSource:
    settings: dict[str, Any] = {
        "auth": "oauth",
        "username": "",
        "password": None,
        "tenant_id": fake.tokens.tenant_id,
        "client_id": fake.tokens.client_id,
        "client_secret": Secret(fake.tokens.client_secret),
        "authority_host": fake.authority_host,
        "max_wait": PRODUCTION_MAX_WAIT,
        **overrides,
    }
    return EwsPeer(fake).source(**settings)


# ------------------------------------------------------------------------------------ NTLM
@FAST
def test_ntlm_sync_authenticates_once_per_connection(ntlm_fake: EwsFake) -> None:
    with closing(ntlm_source(ntlm_fake)) as source:
        first = sync(source)
        assert len(first.events) == EVENTS
        assert (ntlm_fake.ntlm.negotiations, ntlm_fake.ntlm.authentications) == (1, 1)
        assert ntlm_fake.ntlm.failures == []
        # the anonymous try and the Negotiate leg are the only requests that did no operation
        assert ntlm_fake.total_requests == first.requests
        assert ntlm_fake.total_requests - len(ntlm_fake.operations) == 2
        again = sync(source, first.sync_state)
        assert again.full is False
        assert ntlm_fake.ntlm.negotiations == 1  # the connection stayed authenticated


@FAST
def test_ntlm_wrong_password_is_one_failed_logon(ntlm_fake: EwsFake) -> None:
    with (
        closing(ntlm_source(ntlm_fake, password=Secret("not-the-password"))) as source,
        pytest.raises(CalendarAuthError, match="401"),
    ):
        sync(source)
    # exactly one Authenticate message, verified and refused: no retry (account lockout)
    assert ntlm_fake.ntlm.authentications == 1
    assert len(ntlm_fake.ntlm.failures) == 1
    assert "Invalid NTLM response" in ntlm_fake.ntlm.failures[0]
    assert ntlm_fake.operations == []


@FAST
def test_ntlm_unknown_user_is_auth_error(ntlm_fake: EwsFake) -> None:
    with (
        closing(ntlm_source(ntlm_fake, username="EXAMPLE\\nobody", password=Secret("x"))) as source,
        pytest.raises(CalendarAuthError),
    ):
        sync(source)
    assert ntlm_fake.ntlm.authentications == 1
    assert "credential" in ntlm_fake.ntlm.failures[0].lower()


@FAST
def test_ntlm_new_connection_logs_on_with_the_current_password(ntlm_fake: EwsFake) -> None:
    first = ntlm_source(ntlm_fake)
    sync(first)
    first.close()  # the authenticated connection is gone
    ntlm_fake.users["EXAMPLE\\svc-otj"] = "changed-by-the-admin"
    with closing(ntlm_source(ntlm_fake)) as source, pytest.raises(CalendarAuthError):
        sync(source)
    assert ntlm_fake.ntlm.authentications == 2
    assert len(ntlm_fake.ntlm.failures) == 1


@FAST
def test_ntlm_upn_user_logs_on_with_empty_domain(ntlm_fake: EwsFake) -> None:
    ntlm_fake.users["svc-otj@example.com"] = "upn-password"
    ntlm_fake.impersonators.add("svc-otj@example.com")
    with closing(
        ntlm_source(ntlm_fake, username="svc-otj@example.com", password=Secret("upn-password"))
    ) as source:
        assert len(sync(source).events) == EVENTS
    assert ntlm_fake.ntlm.failures == []


@FAST
def test_ntlm_and_basic_and_oauth_read_the_same_events(
    tls_files: tuple[Path, Path], ca_bundle: Path
) -> None:
    with EwsFake(auth=("basic", "ntlm", "bearer"), tls=tls_files) as fake:
        EwsPeer(fake).load(scenario())
        # another account for Basic: exchangelib shares one session pool per endpoint and
        # credentials, whatever the auth type
        fake.users["EXAMPLE\\svc-basic"] = "basic-password"
        fake.impersonators.add("example\\svc-basic")
        results = []
        for source in (
            ntlm_source(
                fake, auth="basic", username="EXAMPLE\\svc-basic", password=Secret("basic-password")
            ),
            ntlm_source(fake),
            oauth_source(fake),
        ):
            try:
                results.append(events_of(sync(source)))
            finally:
                source.close()
        assert fake.ntlm.authentications == 1
        assert fake.tokens.issued == 1
    assert results[0] == results[1] == results[2]
    assert len(results[0]) == EVENTS


@FAST
def test_ntlm_over_tls_sends_and_checks_the_channel_binding(ntlm_tls_fake: EwsFake) -> None:
    with closing(ntlm_source(ntlm_tls_fake)) as source:
        assert len(sync(source).events) == EVENTS
    assert ntlm_tls_fake.ntlm.failures == []
    # a client that leaves the channel binding out is refused (Extended Protection)
    answer = requests.post(
        ntlm_tls_fake.service_endpoint,
        data=ENVELOPE,
        headers={"Content-Type": "text/xml; charset=utf-8"},
        auth=HttpNtlmAuth("EXAMPLE\\svc-otj", "ews-password", send_cbt=False),
        timeout=5,
    )
    assert answer.status_code == 401
    assert "BadBindingsError" in ntlm_tls_fake.ntlm.failures[-1]


@FAST
def test_ntlm_v1_response_is_refused(ntlm_fake: EwsFake, monkeypatch: pytest.MonkeyPatch) -> None:
    # LM_COMPAT_LEVEL 2 makes pyspnego's initiator answer with NTLMv1 (as old Windows clients did)
    monkeypatch.setenv("LM_COMPAT_LEVEL", "2")
    answer = requests.post(
        ntlm_fake.service_endpoint,
        data=ENVELOPE,
        headers={"Content-Type": "text/xml; charset=utf-8"},
        auth=HttpNtlmAuth("EXAMPLE\\svc-otj", "ews-password"),
        timeout=5,
    )
    assert answer.status_code == 401
    assert "NTv1" in ntlm_fake.ntlm.failures[-1]
    monkeypatch.setenv("LM_COMPAT_LEVEL", "3")
    answer = requests.post(
        ntlm_fake.service_endpoint,
        data=ENVELOPE,
        headers={"Content-Type": "text/xml; charset=utf-8"},
        auth=HttpNtlmAuth("EXAMPLE\\svc-otj", "ews-password"),
        timeout=5,
    )
    assert answer.status_code == 200, answer.text


def _post(connection: http.client.HTTPConnection, authorization: str) -> http.client.HTTPResponse:
    headers = {"Content-Type": "text/xml; charset=utf-8", "Authorization": authorization}
    connection.request("POST", ENDPOINT, body=ENVELOPE, headers=headers)
    response = connection.getresponse()
    response.read()
    return response


@pytest.mark.parametrize("same_connection", [True, False])
@FAST
def test_ntlm_handshake_is_bound_to_its_connection(
    ntlm_fake: EwsFake, same_connection: bool
) -> None:
    client = spnego.client(
        "EXAMPLE\\svc-otj",
        "ews-password",
        protocol="ntlm",
        options=spnego.NegotiateOptions.use_ntlm,
    )
    first = http.client.HTTPConnection("127.0.0.1", ntlm_fake.port, timeout=5)
    other = http.client.HTTPConnection("127.0.0.1", ntlm_fake.port, timeout=5)
    try:
        negotiate = base64.b64encode(client.step() or b"").decode()
        challenge = _post(first, f"NTLM {negotiate}")
        assert challenge.status == 401
        offered = challenge.getheader("WWW-Authenticate") or ""
        assert offered.startswith("NTLM ")
        authenticate = client.step(base64.b64decode(offered[5:]))
        final = _post(
            first if same_connection else other,
            f"NTLM {base64.b64encode(authenticate or b'').decode()}",
        )
        assert final.status == (200 if same_connection else 401)
        if same_connection:
            # IIS keeps the connection authenticated: no Authorization header needed any more
            first.request("POST", ENDPOINT, body=ENVELOPE, headers={"Content-Type": "text/xml"})
            later = first.getresponse()
            later.read()
            assert later.status == 200
    finally:
        first.close()
        other.close()


@FAST
def test_ntlm_only_server_refuses_basic(ntlm_fake: EwsFake) -> None:
    with closing(ntlm_source(ntlm_fake, auth="basic")) as source, pytest.raises(CalendarAuthError):
        sync(source)


# ----------------------------------------------------------------------------------- OAuth
@FAST
def test_oauth_client_credentials_sync(oauth_fake: EwsFake) -> None:
    with closing(oauth_source(oauth_fake)) as source:
        first = sync(source)
        again = sync(source, first.sync_state)
    assert len(first.events) == EVENTS
    assert again.full is False
    assert oauth_fake.tokens.issued == 1  # one token for both syncs
    (request,) = oauth_fake.tokens.requests
    assert request.grant_type == "client_credentials"
    assert request.client_id == oauth_fake.tokens.client_id
    assert request.scope == f"{oauth_fake.resource}/.default"  # the EWS host is the audience
    assert request.client_auth == "client_secret_post"
    # app-only tokens impersonate the room on every request
    assert all("ExchangeImpersonation" in body for body in oauth_fake.request_bodies)


@FAST
def test_oauth_wrong_secret_is_auth_error_before_any_ews_request(oauth_fake: EwsFake) -> None:
    with (
        closing(oauth_source(oauth_fake, client_secret=Secret("not-the-secret"))) as source,
        pytest.raises(CalendarAuthError, match="invalid_client"),
    ):
        sync(source)
    assert oauth_fake.tokens.issued == 0
    assert oauth_fake.request_bodies == []


@FAST
def test_oauth_unknown_tenant_or_app_is_auth_error(oauth_fake: EwsFake) -> None:
    for overrides, reason in (
        ({"tenant_id": "99999999-9999-9999-9999-999999999999"}, "AADSTS90002"),
        ({"client_id": "99999999-9999-9999-9999-999999999999"}, "unauthorized_client"),
    ):
        with (
            closing(oauth_source(oauth_fake, **overrides)) as source,
            pytest.raises(CalendarAuthError, match=reason),
        ):
            sync(source)


@FAST
def test_oauth_revoked_token_is_fetched_again(oauth_fake: EwsFake) -> None:
    with closing(oauth_source(oauth_fake)) as source:
        first = sync(source)
        oauth_fake.tokens.revoke_all()
        again = sync(source)
    assert events_of(again) == events_of(first)
    assert oauth_fake.tokens.issued == 2


@FAST
def test_oauth_token_expired_on_the_server_clock_is_fetched_again(
    oauth_fake: EwsFake, clock: _Clock
) -> None:
    with closing(oauth_source(oauth_fake)) as source:
        first = sync(source)
        clock.now += timedelta(hours=1, minutes=5)  # the server sees the token expire
        again = sync(source, first.sync_state)
    assert again.full is False
    assert oauth_fake.tokens.issued == 2


@FAST
def test_oauth_token_expired_on_the_client_is_fetched_not_refreshed(oauth_fake: EwsFake) -> None:
    # The first token arrives with a lifetime already over, as after an hour of polling. Client
    # credentials have no refresh token (RFC 6749 4.4.3): exchangelib's own refresh attempt sends
    # grant_type=refresh_token without one and fails the sync (exchangelib issue #1345).
    oauth_fake.tokens.next_expires_in(-1)
    with closing(oauth_source(oauth_fake)) as source:
        assert len(sync(source).events) == EVENTS
    assert [r.grant_type for r in oauth_fake.tokens.requests] == [
        "client_credentials",
        "client_credentials",
    ]


@FAST
def test_stock_exchangelib_credentials_fail_on_client_side_expiry(
    oauth_fake: EwsFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why ClientCredentials drops the auto-refresh: the library's own behaviour, same fake."""
    monkeypatch.setattr(ClientCredentials, "session_params", OAuth2Credentials.session_params)
    oauth_fake.tokens.next_expires_in(-1)
    with (
        closing(oauth_source(oauth_fake)) as source,
        pytest.raises(CalendarAuthError, match="AADSTS900144"),
    ):
        sync(source)
    assert "refresh_token" in [r.grant_type for r in oauth_fake.tokens.requests]


@FAST
def test_oauth_tokens_ews_never_accepts_fail_after_one_retry(oauth_fake: EwsFake) -> None:
    # a token the identity platform issues for Exchange Online, which this server refuses
    scope = f"{EXCHANGE_ONLINE_RESOURCE}/.default"
    with (
        closing(oauth_source(oauth_fake, oauth_scope=scope)) as source,
        pytest.raises(CalendarAuthError, match="refused 2 freshly fetched"),
    ):
        sync(source)
    assert oauth_fake.tokens.issued == 3  # exchangelib renews the session after each refusal
    assert oauth_fake.request_bodies == []  # none got past authentication
    assert oauth_fake.total_requests - len(oauth_fake.tokens.requests) == 2


@FAST
def test_oauth_tokens_that_arrive_expired_do_not_spin(oauth_fake: EwsFake) -> None:
    oauth_fake.tokens.next_expires_in(-1, -1, -1, -1, -1)
    with (
        closing(oauth_source(oauth_fake)) as source,
        pytest.raises(CalendarAuthError, match="freshly fetched"),
    ):
        sync(source)
    assert oauth_fake.tokens.issued == 3
    assert oauth_fake.request_bodies == []


@FAST
def test_oauth_unknown_scope_is_auth_error(oauth_fake: EwsFake) -> None:
    with (
        closing(
            oauth_source(oauth_fake, oauth_scope="https://elsewhere.example.com/.default")
        ) as source,
        pytest.raises(CalendarAuthError, match="invalid_resource"),
    ):
        sync(source)


@FAST
def test_oauth_app_without_full_access_is_denied(oauth_fake: EwsFake) -> None:
    oauth_fake.impersonators.discard(f"app:{oauth_fake.tokens.client_id}")
    with (
        closing(oauth_source(oauth_fake)) as source,
        pytest.raises(CalendarAuthError, match="ErrorImpersonateUserDenied"),
    ):
        sync(source)


@pytest.mark.parametrize("outage", ["secret rotated", "token endpoint down"])
@FAST
def test_oauth_failed_token_fetch_mid_run_never_hangs_and_recovers(
    oauth_fake: EwsFake, outage: str
) -> None:
    # exchangelib renews a session whose token EWS refused; when that renewal's token fetch
    # fails the pool loses the slot for good. With one slot, the next sync would wait forever.
    expected: type[Exception] = CalendarAuthError
    with closing(oauth_source(oauth_fake, max_connections=1)) as source:
        sync(source)
        oauth_fake.tokens.revoke_all()
        if outage == "secret rotated":
            oauth_fake.tokens.client_secret = "rotated-in-entra"
        else:
            oauth_fake.fail(503, path_contains="/oauth2/", times=None, body=b"")
            expected = CalendarUnavailable
        for _ in range(3):
            with pytest.raises(expected):
                sync(source)
        oauth_fake.tokens.client_secret = "fake-ews-app-secret"
        oauth_fake.clear_failures()
        assert len(sync(source).events) == EVENTS


@FAST
def test_fake_token_endpoint_speaks_rfc_6749(oauth_fake: EwsFake) -> None:
    """The fake's own wire rules: client_secret_basic too, one .default scope, bearer on EWS."""
    token_url = f"{oauth_fake.authority_host}/{oauth_fake.tokens.tenant_id}/oauth2/v2.0/token"
    scope = f"{oauth_fake.resource}/.default"
    tokens = oauth_fake.tokens
    granted = requests.post(
        token_url,
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(tokens.client_id, tokens.client_secret),
        timeout=5,
    )
    assert granted.status_code == 200
    assert granted.headers["Cache-Control"] == "no-store"  # RFC 6749 5.1
    body = granted.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert tokens.requests[-1].client_auth == "client_secret_basic"
    for data, error in (
        ({"grant_type": "password", "scope": scope}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": f"{scope} openid"}, "invalid_scope"),
        (
            {"grant_type": "client_credentials", "scope": "https://x/EWS.AccessAsUser.All"},
            "invalid_scope",
        ),
    ):
        refused = requests.post(
            token_url, data=data, auth=(tokens.client_id, tokens.client_secret), timeout=5
        )
        assert (refused.status_code, refused.json()["error"]) == (400, error)
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    ews = oauth_fake.service_endpoint
    good = {**headers, "Authorization": f"Bearer {body['access_token']}"}
    assert requests.post(ews, data=ENVELOPE, headers=good, timeout=5).status_code == 200
    forged = {**headers, "Authorization": "Bearer eyJ0eXAiOiJKV1QifQ.fake-ews.forged"}
    refused = requests.post(ews, data=ENVELOPE, headers=forged, timeout=5)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    anonymous = requests.post(ews, data=ENVELOPE, headers=headers, timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer ")


@FAST
def test_oauth_from_configuration(oauth_fake: EwsFake) -> None:
    """The `integrations:` entry → registry → adapter: token URL and scope from the config."""
    config = integration_from_mapping(
        {
            "name": "Hybrid Exchange",
            "type": "exchange",
            "service_endpoint": oauth_fake.service_endpoint,
            "auth": "oauth",
            "tenant_id": oauth_fake.tokens.tenant_id,
            "client_id": oauth_fake.tokens.client_id,
            "client_secret": "env:OTJ_EWS_APP_SECRET",
            "authority_host": oauth_fake.authority_host,
            "version": "Exchange2016",
        },
        environ={"OTJ_EWS_APP_SECRET": oauth_fake.tokens.client_secret},
    )
    source = create_source(config, timeout=5.0)
    assert isinstance(source, ExchangeCalendarSource)
    try:
        result = source.sync(ROOM, start=WINDOW_START, end=WINDOW_END, state=None)
    finally:
        source.close()
    assert len(result.events) == EVENTS
    assert oauth_fake.tokens.requests[0].scope == f"{oauth_fake.resource}/.default"


@pytest.mark.parametrize(
    ("endpoint", "scope"),
    [
        ("https://mail.example.com/EWS/Exchange.asmx", "https://mail.example.com/.default"),
        (
            "https://mail.example.com:8443/EWS/Exchange.asmx",
            "https://mail.example.com:8443/.default",
        ),
        (
            "https://outlook.office365.com/EWS/Exchange.asmx",
            OAuth2Credentials(client_id="c", client_secret="s").scope[0],
        ),
    ],
)
def test_default_scope_is_the_ews_host(endpoint: str, scope: str) -> None:
    assert default_scope(endpoint) == scope


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"service_endpoint": "http://mail.example.com/EWS/Exchange.asmx"}, "https:// service"),
        ({"authority_host": "http://login.example.com"}, "https:// authority_host"),
        ({"access": "delegate"}, "access: impersonation"),
        ({"oauth_scope": "https://mail.example.com/EWS.AccessAsUser.All"}, "/.default"),
        ({"client_secret": None}, "needs client_secret"),
    ],
)
def test_oauth_configuration_errors(changes: dict[str, Any], message: str) -> None:
    entry: dict[str, Any] = {
        "name": "Hybrid Exchange",
        "type": "exchange",
        "service_endpoint": "https://mail.example.com/EWS/Exchange.asmx",
        "auth": "oauth",
        "tenant_id": "t",
        "client_id": "c",
        "client_secret": "s",
    }
    entry.update(changes)
    with pytest.raises(IntegrationConfigError, match=message):
        integration_from_mapping({k: v for k, v in entry.items() if v is not None})
