"""Validation of one entry of the ``integrations:`` configuration section (DESIGN.md §3, §5).

Each type has its required and optional keys; secrets (``service_account_key``,
``client_secret``, ``password``) are resolved with ``otj.secret.resolve_secret`` (inline text,
``env:NAME`` or ``file:PATH``) and kept as ``Secret`` values, never in ``options``.

Keys every type accepts: ``name``, ``type``, ``daily_request_quota``, ``description``,
``timezone`` (IANA name used for all-day and floating times, default ``UTC``) and
``full_resync_after`` (seconds; an incremental sync is replaced by a full read of the window
once the window has moved this far since the last full read, default 86400 = daily).

Exchange with ``auth: oauth`` (client credentials): ``tenant_id``, ``client_id``,
``client_secret``; optional ``authority_host`` (default ``https://login.microsoftonline.com``;
a national cloud's host) and ``oauth_scope`` (default ``https://{EWS host}/.default``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calendars.base import IntegrationConfig
from otj.secret import Secret, SecretRefError, resolve_secret

IntegrationType = Literal["google", "graph", "exchange", "caldav", "ics"]
Kind = Literal["str", "int", "bool", "secret"]


class IntegrationConfigError(ValueError):
    """An ``integrations:`` entry is invalid; the message names the integration and the key."""


@dataclass(frozen=True, kw_only=True, slots=True)
class _Key:
    kind: Kind = "str"
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None


_COMMON: dict[str, _Key] = {
    "description": _Key(),
    "timezone": _Key(),
    "full_resync_after": _Key(kind="int", minimum=60),
}

SCHEMAS: dict[str, dict[str, _Key]] = {
    "google": {
        "service_account_key": _Key(kind="secret", required=True),
        "subject": _Key(),
        "api_endpoint": _Key(),
        "token_uri": _Key(),
        "num_retries": _Key(kind="int", minimum=0),
    },
    "graph": {
        "tenant_id": _Key(required=True),
        "client_id": _Key(required=True),
        "client_secret": _Key(kind="secret", required=True),
        "authority_host": _Key(),
        "graph_endpoint": _Key(),
        "body_content_type": _Key(choices=("html", "text")),
        "page_size": _Key(kind="int", minimum=1),
        "ca_file": _Key(),
    },
    "exchange": {
        "service_endpoint": _Key(required=True),
        "username": _Key(),
        "password": _Key(kind="secret"),
        "auth": _Key(choices=("basic", "ntlm", "oauth")),
        "access": _Key(choices=("impersonation", "delegate")),
        "client_id": _Key(),
        "tenant_id": _Key(),
        "client_secret": _Key(kind="secret"),
        "authority_host": _Key(),
        "oauth_scope": _Key(),
        "max_wait": _Key(kind="int", minimum=0),
        "max_connections": _Key(kind="int", minimum=1),
        "version": _Key(
            choices=("Exchange2013", "Exchange2013_SP1", "Exchange2016", "Exchange2019")
        ),
    },
    "caldav": {
        "url": _Key(),
        "calendar_url_template": _Key(),
        "username": _Key(),
        "password": _Key(kind="secret"),
        "verify_tls": _Key(kind="bool"),
    },
    "ics": {
        "path_template": _Key(),
        "url_template": _Key(),
        "username": _Key(),
        "password": _Key(kind="secret"),
        "verify_tls": _Key(kind="bool"),
    },
}


def integration_from_mapping(
    data: Mapping[str, object], *, environ: Mapping[str, str] | None = None
) -> IntegrationConfig:
    """Validate one ``integrations:`` entry and resolve its secrets into an IntegrationConfig."""
    if not isinstance(data, Mapping):
        raise IntegrationConfigError(f"an integration must be a mapping, got {type(data).__name__}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise IntegrationConfigError("integration: 'name' is required and must be a string")
    where = f"integration {name!r}"
    kind = data.get("type")
    if kind not in SCHEMAS:
        raise IntegrationConfigError(
            f"{where}: 'type' must be one of {', '.join(SCHEMAS)}, got {kind!r}"
        )
    schema = {**_COMMON, **SCHEMAS[str(kind)]}
    allowed = {"name", "type", "daily_request_quota", *schema}
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise IntegrationConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} for type {kind}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    quota = data.get("daily_request_quota", 1_000_000)
    if isinstance(quota, bool) or not isinstance(quota, int) or quota < 1:
        raise IntegrationConfigError(
            f"{where}: 'daily_request_quota' must be a positive integer, got {quota!r}"
        )
    options: dict[str, str | int | bool] = {}
    secrets: dict[str, Secret] = {}
    for key, spec in schema.items():
        value = data.get(key)
        if value is None or value == "":
            if spec.required:
                raise IntegrationConfigError(f"{where}: {kind} integrations need '{key}'")
            continue
        if spec.kind == "secret":
            secrets[key] = _secret(where, key, value, environ)
        else:
            options[key] = _value(where, key, spec, value)
    _check_type_rules(where, str(kind), options, secrets)
    return IntegrationConfig(
        name=name.strip(),
        type=cast(IntegrationType, kind),
        daily_request_quota=quota,
        options=options,
        secrets=secrets,
    )


def _secret(where: str, key: str, value: object, environ: Mapping[str, str] | None) -> Secret:
    if not isinstance(value, str):
        raise IntegrationConfigError(f"{where}: '{key}' must be a string or env:/file: reference")
    try:
        return resolve_secret(value, environ=environ)
    except SecretRefError as exc:
        raise IntegrationConfigError(f"{where}: '{key}': {exc}") from exc


def _value(where: str, key: str, spec: _Key, value: object) -> str | int | bool:
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise IntegrationConfigError(f"{where}: '{key}' must be true or false, got {value!r}")
        return value
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise IntegrationConfigError(f"{where}: '{key}' must be an integer, got {value!r}")
        if spec.minimum is not None and value < spec.minimum:
            raise IntegrationConfigError(f"{where}: '{key}' must be ≥ {spec.minimum}, got {value}")
        return value
    if not isinstance(value, str):
        raise IntegrationConfigError(f"{where}: '{key}' must be a string, got {value!r}")
    if spec.choices and value not in spec.choices:
        raise IntegrationConfigError(
            f"{where}: '{key}' must be one of {', '.join(spec.choices)}, got {value!r}"
        )
    return value


def _check_type_rules(
    where: str, kind: str, options: Mapping[str, object], secrets: Mapping[str, Secret]
) -> None:
    """Rules spanning several keys (one of two keys, credentials that belong together)."""
    tz = options.get("timezone")
    if isinstance(tz, str):
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise IntegrationConfigError(f"{where}: unknown timezone {tz!r}") from exc
    if kind == "ics" and ("path_template" in options) == ("url_template" in options):
        raise IntegrationConfigError(
            f"{where}: ics integrations need exactly one of 'path_template' or 'url_template'"
        )
    if kind == "caldav" and "url" not in options and "calendar_url_template" not in options:
        raise IntegrationConfigError(
            f"{where}: caldav integrations need 'calendar_url_template' (or 'url')"
        )
    for key in ("path_template", "url_template", "calendar_url_template"):
        template = options.get(key)
        if isinstance(template, str) and "{room}" not in template:
            raise IntegrationConfigError(f"{where}: '{key}' must contain {{room}}")
    if kind == "exchange":
        auth = options.get("auth", "ntlm")
        if auth == "oauth":
            missing = [k for k in ("client_id", "tenant_id") if k not in options]
            if "client_secret" not in secrets:
                missing.append("client_secret")
            if missing:
                raise IntegrationConfigError(
                    f"{where}: exchange auth 'oauth' needs {', '.join(missing)}"
                )
            _check_exchange_oauth(where, options)
        elif "username" not in options or "password" not in secrets:
            raise IntegrationConfigError(
                f"{where}: exchange auth {auth!r} needs 'username' and 'password'"
            )
    if kind == "google":
        key = secrets["service_account_key"].reveal()
        if not key.lstrip().startswith("{"):
            raise IntegrationConfigError(
                f"{where}: 'service_account_key' must be the JSON key (inline, env: or file:)"
            )


def _check_exchange_oauth(where: str, options: Mapping[str, object]) -> None:
    """OAuth 2.0 runs over HTTPS only (RFC 6749 §3.1, §3.2); an app-only token impersonates."""
    for key in ("service_endpoint", "authority_host"):
        value = options.get(key)
        if isinstance(value, str) and not value.lower().startswith("https://"):
            raise IntegrationConfigError(f"{where}: exchange auth 'oauth' needs an https:// {key}")
    if options.get("access", "impersonation") != "impersonation":
        raise IntegrationConfigError(
            f"{where}: exchange auth 'oauth' uses an app-only token, which needs "
            "'access: impersonation' (the app's full_access_as_app permission)"
        )
    scope = options.get("oauth_scope")
    if isinstance(scope, str) and (" " in scope.strip() or not scope.endswith("/.default")):
        raise IntegrationConfigError(
            f"{where}: 'oauth_scope' must be one resource's '/.default' scope, e.g. "
            "https://mail.example.com/.default"
        )
