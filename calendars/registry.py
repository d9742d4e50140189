"""Build the ``CalendarSource`` of a validated ``IntegrationConfig`` (one per integration).

Adapters are imported lazily so that importing ``calendars.registry`` stays cheap. Every source
is safe to share between worker threads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from calendars.base import CalendarAuthError, CalendarSource, IntegrationConfig
from calendars.syncstate import DEFAULT_FULL_RESYNC_AFTER


@dataclass(frozen=True, kw_only=True, slots=True)
class _Common:
    """Settings every source takes: HTTP timeout, zone of floating times, full re-read age."""

    timeout: float
    tz: tzinfo
    full_resync_after: timedelta


def create_source(config: IntegrationConfig, *, timeout: float = 20.0) -> CalendarSource:
    """The source for ``config.type`` (google | graph | exchange | caldav | ics)."""
    build = _BUILDERS.get(config.type)
    if build is None:
        raise ValueError(f"integration {config.name!r}: unknown type {config.type!r}")
    opts = config.options
    common = _Common(
        timeout=timeout,
        tz=_timezone(opts.get("timezone")),
        full_resync_after=_resync_after(opts.get("full_resync_after")),
    )
    return build(config, opts, common)


def _google(config: IntegrationConfig, opts: Mapping[str, Any], common: _Common) -> CalendarSource:
    """Google Workspace: a service account key (JSON), optionally impersonating ``subject``."""
    from calendars.sources.google import GoogleCalendarSource, GoogleSettings

    try:
        info = json.loads(config.secrets["service_account_key"].reveal())
    except (KeyError, ValueError) as exc:
        raise CalendarAuthError(
            f"integration {config.name!r}: service_account_key is not a JSON key"
        ) from exc
    return GoogleCalendarSource(
        GoogleSettings(
            service_account_info=info,
            subject=_opt_str(opts.get("subject")),
            api_endpoint=_opt_str(opts.get("api_endpoint")),
            token_uri=_opt_str(opts.get("token_uri")),
            num_retries=int(opts.get("num_retries", 2)),
            timeout=common.timeout,
            default_tz=common.tz,
            full_resync_after=common.full_resync_after,
        )
    )


def _graph(config: IntegrationConfig, opts: Mapping[str, Any], common: _Common) -> CalendarSource:
    """Microsoft 365 through Graph: an app registration's client credentials."""
    from calendars.sources.graph import GraphCalendarSource, GraphSettings

    return GraphCalendarSource(
        GraphSettings(
            tenant_id=str(opts["tenant_id"]),
            client_id=str(opts["client_id"]),
            client_secret=config.secrets["client_secret"],
            authority_host=str(opts.get("authority_host", "https://login.microsoftonline.com")),
            graph_endpoint=str(opts.get("graph_endpoint", "https://graph.microsoft.com/v1.0")),
            body_content_type="text" if opts.get("body_content_type") == "text" else "html",
            page_size=int(opts.get("page_size", 100)),
            ca_file=_opt_str(opts.get("ca_file")),
            timeout=common.timeout,
            default_tz=common.tz,
            full_resync_after=common.full_resync_after,
        )
    )


def _exchange(
    config: IntegrationConfig, opts: Mapping[str, Any], common: _Common
) -> CalendarSource:
    """Exchange Server through EWS: NTLM/basic credentials or OAuth client credentials."""
    from calendars.sources.exchange import ExchangeCalendarSource, ExchangeSettings
    from calendars.sources.exchange_auth import DEFAULT_AUTHORITY_HOST

    return ExchangeCalendarSource(
        ExchangeSettings(
            service_endpoint=str(opts["service_endpoint"]),
            username=_opt_str(opts.get("username")) or "",
            password=config.secrets.get("password"),
            auth=str(opts.get("auth", "ntlm")),
            access=str(opts.get("access", "impersonation")),
            client_id=_opt_str(opts.get("client_id")),
            tenant_id=_opt_str(opts.get("tenant_id")),
            client_secret=config.secrets.get("client_secret"),
            authority_host=_opt_str(opts.get("authority_host")) or DEFAULT_AUTHORITY_HOST,
            oauth_scope=_opt_str(opts.get("oauth_scope")),
            max_wait=float(int(opts.get("max_wait", 30))),
            max_connections=int(opts.get("max_connections", 4)),
            version=_opt_str(opts.get("version")),
            timeout=common.timeout,
            default_tz=common.tz,
            full_resync_after=common.full_resync_after,
        )
    )


def _caldav(config: IntegrationConfig, opts: Mapping[str, Any], common: _Common) -> CalendarSource:
    """CalDAV: one collection per room (``calendar_url_template``, else ``url`` + room)."""
    from calendars.sources.caldav import CalDavCalendarSource, CalDavSettings

    url = _opt_str(opts.get("url"))
    template = _opt_str(opts.get("calendar_url_template")) or (
        url.rstrip("/") + "/{room}/" if url else ""
    )
    return CalDavCalendarSource(
        CalDavSettings(
            url=url or template.split("{room}", 1)[0],
            calendar_url_template=template,
            username=_opt_str(opts.get("username")),
            password=config.secrets.get("password"),
            verify_tls=bool(opts.get("verify_tls", True)),
            timeout=common.timeout,
            default_tz=common.tz,
            full_resync_after=common.full_resync_after,
        )
    )


def _ics(config: IntegrationConfig, opts: Mapping[str, Any], common: _Common) -> CalendarSource:
    """iCalendar files or URLs, one per room."""
    from calendars.sources.ics import IcsCalendarSource, IcsSettings

    return IcsCalendarSource(
        IcsSettings(
            path_template=_opt_str(opts.get("path_template")),
            url_template=_opt_str(opts.get("url_template")),
            username=_opt_str(opts.get("username")),
            password=config.secrets.get("password"),
            verify_tls=bool(opts.get("verify_tls", True)),
            timeout=common.timeout,
            default_tz=common.tz,
            full_resync_after=common.full_resync_after,
        )
    )


_BUILDERS: dict[str, Callable[[IntegrationConfig, Mapping[str, Any], _Common], CalendarSource]] = {
    "google": _google,
    "graph": _graph,
    "exchange": _exchange,
    "caldav": _caldav,
    "ics": _ics,
}


def _opt_str(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _timezone(value: object) -> tzinfo:
    return ZoneInfo(str(value)) if value else UTC


def _resync_after(value: object) -> timedelta:
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return DEFAULT_FULL_RESYNC_AFTER
