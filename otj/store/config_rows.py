"""How the configuration's sections map between frozen values and rows, and how the secret
columns' envelopes are opened (``SecretMode``). Shared by reading (``otj.store.config_repo``)
and writing (``otj.store.config_apply``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, cast

from calendars.text import clean_text
from otj.model import (
    CallRoutingRule,
    Endpoint,
    EndpointGroup,
    GatewaySettings,
    IdRule,
    ListenAddress,
    MeetingRule,
    Profile,
    ReplaceSubject,
    RtpEngineAddress,
    SipCredential,
    SipProxy,
    VirtualReception,
)
from otj.secret import Secret, SecretRefError
from otj.store.tables.base import Base
from otj.store.tables.configuration import (
    CallRoutingRuleRow,
    EndpointGroupRow,
    EndpointRow,
    GatewaySettingsRow,
    IntegrationRow,
    MeetingRuleRow,
    ProfileRow,
    SipCredentialRow,
    SipProxyRow,
    VirtualReceptionRow,
)
from otj.store.values import INLINE_KEEP, PROFILE_SECRETS, IntegrationSettings

if TYPE_CHECKING:
    from otj.store.secrets import SecretBox

log = logging.getLogger(__name__)

SecretMode = Literal["resolve", "refs", "sealed"]
"""How secrets are read back: resolved values; references unresolved (inline decrypted);
or sealed (references as written, inline ones as ``stored:inline`` without decrypting)."""

Envelope = dict[str, Any] | None

Opener = Callable[[Envelope], Secret | None]
"""Opens a secret column's envelope (how depends on the ``SecretMode``)."""


@dataclass(frozen=True, slots=True)
class SectionSpec:
    """How one list section maps between frozen values and rows."""

    section: str
    row: type[Base]
    secret_fields: tuple[str, ...]
    to_columns: Callable[[Any], dict[str, Any]]
    to_value: Callable[[Any, Opener], Any]


def _columns(
    value: Any, *, nulls: tuple[str, ...] = (), skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(value):
        if f.name in skip:
            continue
        v = getattr(value, f.name)
        if f.name in nulls and v == "":
            v = None
        if isinstance(v, ReplaceSubject):
            v = v.value
        out[f.name] = v
    return out


def _row_dict(row: Base, names: Iterable[str]) -> dict[str, Any]:
    return {n: getattr(row, n) for n in names}


def profile_value(row: ProfileRow, open_: Opener) -> Profile:
    data = _row_dict(row, (f.name for f in fields(Profile)))
    data["integration"] = data["integration"] or ""
    data["replace_subject_type"] = ReplaceSubject(data["replace_subject_type"])
    for name in PROFILE_SECRETS:
        data[name] = open_(getattr(row, name))
    return Profile(**data)


def _group_value(row: EndpointGroupRow, _open: Opener) -> EndpointGroup:
    return EndpointGroup(name=row.name, profile=row.profile, description=row.description)


def endpoint_value(row: EndpointRow, open_: Opener) -> Endpoint:
    data = _row_dict(row, (f.name for f in fields(Endpoint)))
    data["api_password"] = open_(row.api_password)
    data["sip_password"] = open_(row.sip_password)
    return Endpoint(**data)


def _rule_value(row: MeetingRuleRow, _open: Opener) -> MeetingRule:
    data = _row_dict(row, (f.name for f in fields(MeetingRule)))
    data["profile"] = data["profile"] or ""
    return MeetingRule(**data)


def proxy_value(row: SipProxyRow, _open: Opener) -> SipProxy:
    return SipProxy(
        name=row.name, address=row.address, port=row.port, transport=cast(Any, row.transport)
    )


def credential_value(row: SipCredentialRow, open_: Opener) -> SipCredential:
    return SipCredential(
        name=row.name, username=row.username, password=open_(row.password), realm=row.realm
    )


def routing_value(row: CallRoutingRuleRow, _open: Opener) -> CallRoutingRule:
    data = _row_dict(row, (f.name for f in fields(CallRoutingRule)))
    data["match_source"] = tuple(data["match_source"] or ())
    return CallRoutingRule(**data)


def _routing_columns(value: CallRoutingRule) -> dict[str, Any]:
    columns = _columns(value)
    columns["match_source"] = list(value.match_source)
    return columns


def _reception_columns(value: VirtualReception) -> dict[str, Any]:
    out = _columns(value)
    out["aliases"] = list(value.aliases)
    out["id_rules"] = [{"match": r.match, "replace": r.replace} for r in value.id_rules]
    return out


def reception_value(row: VirtualReceptionRow, _open: Opener) -> VirtualReception:
    data = _row_dict(row, (f.name for f in fields(VirtualReception)))
    data["aliases"] = tuple(row.aliases)
    data["id_rules"] = tuple(IdRule(match=r["match"], replace=r["replace"]) for r in row.id_rules)
    return VirtualReception(**data)


def _integration_columns(value: IntegrationSettings) -> dict[str, Any]:
    return {
        "name": value.name,
        "type": value.type,
        "daily_request_quota": value.daily_request_quota,
        "options": dict(value.options),
        "secrets": dict(value.secrets),
    }


GATEWAY_ID = 1
REVISION_KEY = "config_revision"


def secret_opener(box: SecretBox, mode: SecretMode) -> Opener:
    """Opens envelopes from ``box`` the way ``mode`` says."""

    def open_(envelope: Envelope) -> Secret | None:
        if envelope is None:
            return None
        if "ref" in envelope:
            ref = str(envelope["ref"])
            if mode != "resolve":
                return Secret("", ref=ref)
            try:
                return box.open(envelope)
            except SecretRefError as exc:
                log.warning("secret %s cannot be resolved: %s", ref, exc)
                return Secret("", ref=ref)
        if mode == "sealed":
            return Secret("", ref=INLINE_KEEP)
        return box.open(envelope)

    return open_


def integration_value(row: IntegrationRow, open_: Opener) -> IntegrationSettings:
    secrets = {k: open_(v) for k, v in sorted(row.secrets.items())}
    return IntegrationSettings(
        name=row.name,
        type=cast(Any, row.type),
        daily_request_quota=row.daily_request_quota,
        options=dict(row.options),
        secrets={k: v for k, v in secrets.items() if v is not None},
    )


def sort_key(value: Any) -> tuple[Any, ...]:
    priority = getattr(value, "priority", None)
    return (0 if priority is None else priority, value.name)


def gateway_value(row: GatewaySettingsRow, open_: Opener) -> GatewaySettings:
    return GatewaySettings(
        listen=tuple(
            ListenAddress(transport=a["transport"], address=a["address"], port=int(a["port"]))
            for a in row.listen
        ),
        tls_certificate=open_(row.tls_certificate),
        tls_private_key=open_(row.tls_private_key),
        dns_servers=tuple(row.dns_servers),
        call_licenses=row.call_licenses,
        max_outbound_kbps=row.max_outbound_kbps,
        allowed_sources=tuple(row.allowed_sources),
        max_calls_per_source=row.max_calls_per_source,
        cdr_retention_days=row.cdr_retention_days,
        caller_display_name=row.caller_display_name,
        unattributed_display_name=row.unattributed_display_name,
        organisation=row.organisation,
        rtpengines=tuple(
            RtpEngineAddress(address=e["address"], weight=int(e.get("weight", 1)))
            for e in row.rtpengines or ()
        ),
    )


SPECS: tuple[SectionSpec, ...] = (
    SectionSpec("integrations", IntegrationRow, (), _integration_columns, integration_value),
    SectionSpec(
        "profiles",
        ProfileRow,
        PROFILE_SECRETS,
        lambda v: _columns(v, nulls=("integration",)),
        profile_value,
    ),
    SectionSpec("endpoint_groups", EndpointGroupRow, (), _columns, _group_value),
    SectionSpec(
        "endpoints", EndpointRow, ("api_password", "sip_password"), _columns, endpoint_value
    ),
    SectionSpec(
        "meeting_processing_rules",
        MeetingRuleRow,
        (),
        lambda v: _columns(v, nulls=("profile",)),
        _rule_value,
    ),
    SectionSpec("sip_proxies", SipProxyRow, (), _columns, proxy_value),
    SectionSpec("sip_credentials", SipCredentialRow, ("password",), _columns, credential_value),
    SectionSpec("call_routing_rules", CallRoutingRuleRow, (), _routing_columns, routing_value),
    SectionSpec("virtual_receptions", VirtualReceptionRow, (), _reception_columns, reception_value),
)
"""Every list section, in the order apply creates them (dependants after what they name)."""


def gateway_columns(value: GatewaySettings) -> dict[str, Any]:
    """The gateway settings row's columns but its secrets (sealed by the writer)."""
    return {
        "listen": [
            {"transport": a.transport, "address": a.address, "port": a.port} for a in value.listen
        ],
        "dns_servers": list(value.dns_servers),
        "call_licenses": value.call_licenses,
        "max_outbound_kbps": value.max_outbound_kbps,
        "allowed_sources": list(value.allowed_sources),
        "max_calls_per_source": value.max_calls_per_source,
        "cdr_retention_days": value.cdr_retention_days,
        "caller_display_name": value.caller_display_name,
        "unattributed_display_name": value.unattributed_display_name,
        "organisation": value.organisation,
        "rtpengines": [{"address": e.address, "weight": e.weight} for e in value.rtpengines],
    }


SPEC_OF = {spec.section: spec for spec in SPECS}


def column_problems(section: str, value: Any) -> Iterator[tuple[str, str]]:
    """The fields of one section's value (a list section's entry, or ``gateway``) that no row
    can hold, as (field, why): longer than the column (PostgreSQL refuses the row) or holding a
    character text may not carry anywhere (a NUL, another control character but tab and line
    breaks, a lone surrogate: PostgreSQL, UTF-8 or XML refuse them). The configuration is refused
    before anything is written."""
    if section == "gateway":
        row: type[Base] = GatewaySettingsRow
        values = gateway_columns(value)
    else:
        row, values = SPEC_OF[section].row, SPEC_OF[section].to_columns(value)
    columns = row.__table__.columns
    for name, column_value in values.items():
        column = columns.get(name)
        limit = getattr(column.type, "length", None) if column is not None else None
        if isinstance(column_value, str) and limit is not None and len(column_value) > limit:
            yield name, f"{len(column_value)} characters; at most {limit}"
        bad = next(_uncarried(column_value), None)
        if bad is not None:
            yield name, f"holds {bad.encode('unicode_escape').decode()}, which no text may hold"


def _uncarried(value: Any) -> Iterator[str]:
    """The characters in ``value`` (a string, or strings in lists and mappings) text cannot
    carry: what ``calendars.text.clean_text`` would drop or replace."""
    if isinstance(value, str):
        if clean_text(value) != value:
            yield from (c for c in value if clean_text(c) != c)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _uncarried(key)
            yield from _uncarried(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _uncarried(item)
