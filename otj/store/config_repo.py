"""Configuration objects: read as frozen values, applied as a whole in one transaction.

``apply`` creates and updates objects by name, and with ``prune`` deletes the objects of the
sections the configuration carries that it does not list. It writes nothing when the store
already matches (idempotent), bumps the configuration revision when it writes, and keeps the
``rooms`` table in step with the endpoints' room resource emails in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

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
from otj.store.tables.calendars import RoomRow
from otj.store.tables.configuration import (
    CallRoutingRuleRow,
    EndpointGroupRow,
    EndpointRow,
    GatewaySettingsRow,
    IntegrationRow,
    MeetingRuleRow,
    ProfileRow,
    SettingRow,
    SipCredentialRow,
    SipProxyRow,
    VirtualReceptionRow,
)
from otj.store.values import (
    INLINE_KEEP,
    PROFILE_SECRETS,
    ApiSettings,
    Change,
    ChangeReport,
    Configuration,
    IntegrationSettings,
    RoomAssignment,
)

if TYPE_CHECKING:
    from otj.store.db import Database

log = logging.getLogger(__name__)

SecretMode = Literal["resolve", "refs", "sealed"]
"""How secrets are read back: resolved values; references unresolved (inline decrypted);
or sealed (references as written, inline ones as ``stored:inline`` without decrypting)."""

Envelope = dict[str, Any] | None


class ConfigApplyError(ValueError):
    """The configuration cannot be applied (a reference the store cannot satisfy)."""


@dataclass(frozen=True, slots=True)
class _Spec:
    """How one list section maps between frozen values and rows."""

    section: str
    row: type[Base]
    secret_fields: tuple[str, ...]
    to_columns: Callable[[Any], dict[str, Any]]
    to_value: Callable[[Any, Callable[[Envelope], Secret | None]], Any]


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


def _profile_value(row: ProfileRow, open_: Callable[[Envelope], Secret | None]) -> Profile:
    data = _row_dict(row, (f.name for f in fields(Profile)))
    data["integration"] = data["integration"] or ""
    data["replace_subject_type"] = ReplaceSubject(data["replace_subject_type"])
    for name in PROFILE_SECRETS:
        data[name] = open_(getattr(row, name))
    return Profile(**data)


def _group_value(
    row: EndpointGroupRow, _open: Callable[[Envelope], Secret | None]
) -> EndpointGroup:
    return EndpointGroup(name=row.name, profile=row.profile, description=row.description)


def _endpoint_value(row: EndpointRow, open_: Callable[[Envelope], Secret | None]) -> Endpoint:
    data = _row_dict(row, (f.name for f in fields(Endpoint)))
    data["api_password"] = open_(row.api_password)
    data["sip_password"] = open_(row.sip_password)
    return Endpoint(**data)


def _rule_value(row: MeetingRuleRow, _open: Callable[[Envelope], Secret | None]) -> MeetingRule:
    data = _row_dict(row, (f.name for f in fields(MeetingRule)))
    data["profile"] = data["profile"] or ""
    return MeetingRule(**data)


def _proxy_value(row: SipProxyRow, _open: Callable[[Envelope], Secret | None]) -> SipProxy:
    return SipProxy(
        name=row.name, address=row.address, port=row.port, transport=cast(Any, row.transport)
    )


def _credential_value(
    row: SipCredentialRow, open_: Callable[[Envelope], Secret | None]
) -> SipCredential:
    return SipCredential(
        name=row.name, username=row.username, password=open_(row.password), realm=row.realm
    )


def _routing_value(
    row: CallRoutingRuleRow, _open: Callable[[Envelope], Secret | None]
) -> CallRoutingRule:
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


def _reception_value(
    row: VirtualReceptionRow, _open: Callable[[Envelope], Secret | None]
) -> VirtualReception:
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


SPECS: tuple[_Spec, ...] = (
    _Spec("integrations", IntegrationRow, (), _integration_columns, lambda r, o: r),
    _Spec(
        "profiles",
        ProfileRow,
        PROFILE_SECRETS,
        lambda v: _columns(v, nulls=("integration",)),
        _profile_value,
    ),
    _Spec("endpoint_groups", EndpointGroupRow, (), _columns, _group_value),
    _Spec("endpoints", EndpointRow, ("api_password", "sip_password"), _columns, _endpoint_value),
    _Spec(
        "meeting_processing_rules",
        MeetingRuleRow,
        (),
        lambda v: _columns(v, nulls=("profile",)),
        _rule_value,
    ),
    _Spec("sip_proxies", SipProxyRow, (), _columns, _proxy_value),
    _Spec("sip_credentials", SipCredentialRow, ("password",), _columns, _credential_value),
    _Spec("call_routing_rules", CallRoutingRuleRow, (), _routing_columns, _routing_value),
    _Spec("virtual_receptions", VirtualReceptionRow, (), _reception_columns, _reception_value),
)
SPEC_BY_SECTION = {s.section: s for s in SPECS}

GATEWAY_ID = 1
REVISION_KEY = "config_revision"


class ConfigRepository:
    """Reads and writes the configuration objects."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- secrets ------------------------------------------------------------------------------

    def _opener(self, mode: SecretMode) -> Callable[[Envelope], Secret | None]:
        box = self._db.box

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

    def _same_secret(self, envelope: Envelope, wanted: Secret | None) -> bool:
        if wanted is None or envelope is None:
            return wanted is None and envelope is None
        if wanted.ref == INLINE_KEEP:
            return True
        if wanted.ref:
            return envelope == {"ref": wanted.ref}
        return "enc" in envelope and self._db.box.open(envelope).reveal() == wanted.reveal()

    def _seal(self, wanted: Secret | None, current: Envelope, where: str) -> Envelope:
        if wanted is None:
            return None
        if wanted.ref == INLINE_KEEP:
            if current is None or "enc" not in current:
                raise ConfigApplyError(f"{where}: {INLINE_KEEP} but no inline secret is stored")
            return current
        return self._db.box.seal(wanted.ref or wanted.reveal())

    # --- reading ------------------------------------------------------------------------------

    def snapshot(self, *, secrets: SecretMode = "sealed") -> Configuration:
        """The whole configuration, every section present."""
        with self._db.reading() as session:
            return self._snapshot(session, secrets)

    def _snapshot(self, session: Session, mode: SecretMode) -> Configuration:
        open_ = self._opener(mode)
        lists: dict[str, tuple[Any, ...]] = {}
        for spec in SPECS:
            rows = session.scalars(select(spec.row)).all()
            if spec.section == "integrations":
                values: list[Any] = [self._integration_value(r, open_) for r in rows]  # type: ignore[arg-type]
            else:
                values = [spec.to_value(r, open_) for r in rows]
            values.sort(key=_sort_key)
            lists[spec.section] = tuple(values)
        gateway_row = session.get(GatewaySettingsRow, GATEWAY_ID)
        api_row = session.get(SettingRow, "api")
        return Configuration(
            sections=frozenset(lists) | {"gateway", "api"},
            integrations=lists["integrations"],
            profiles=lists["profiles"],
            endpoint_groups=lists["endpoint_groups"],
            endpoints=lists["endpoints"],
            meeting_processing_rules=lists["meeting_processing_rules"],
            sip_proxies=lists["sip_proxies"],
            sip_credentials=lists["sip_credentials"],
            call_routing_rules=lists["call_routing_rules"],
            virtual_receptions=lists["virtual_receptions"],
            gateway=_gateway_value(gateway_row, open_) if gateway_row else None,
            api=ApiSettings(**api_row.value) if api_row else None,
        )

    @staticmethod
    def _integration_value(
        row: IntegrationRow, open_: Callable[[Envelope], Secret | None]
    ) -> IntegrationSettings:
        secrets = {k: open_(v) for k, v in sorted(row.secrets.items())}
        return IntegrationSettings(
            name=row.name,
            type=cast(Any, row.type),
            daily_request_quota=row.daily_request_quota,
            options=dict(row.options),
            secrets={k: v for k, v in secrets.items() if v is not None},
        )

    def revision(self) -> int:
        """A counter bumped by every apply that changed something (cheap change signal)."""
        with self._db.reading() as session:
            row = session.get(SettingRow, REVISION_KEY)
            return int(row.value) if row else 0

    def profiles(self) -> list[Profile]:
        """Every profile, by name."""
        return list(self.snapshot(secrets="sealed").profiles)

    def integration(self, name: str) -> IntegrationSettings | None:
        """One integration with its secrets as configured (references unresolved)."""
        with self._db.reading() as session:
            row = session.get(IntegrationRow, name)
            return self._integration_value(row, self._opener("refs")) if row else None

    def endpoints(self, *, room: str | None = None) -> list[Endpoint]:
        """Endpoints (of one room when given), secrets resolved, by name."""
        with self._db.reading() as session:
            query = select(EndpointRow).order_by(EndpointRow.name)
            if room is not None:
                query = query.where(func.lower(EndpointRow.room_resource_email) == room.lower())
            open_ = self._opener("resolve")
            return [_endpoint_value(r, open_) for r in session.scalars(query)]

    def endpoint(self, name: str) -> Endpoint | None:
        """One endpoint by name, secrets resolved."""
        with self._db.reading() as session:
            row = session.get(EndpointRow, name)
            return _endpoint_value(row, self._opener("resolve")) if row else None

    def endpoint_by_sip_username(self, username: str) -> Endpoint | None:
        """The endpoint a gateway registrar authenticates (``sip_username``), secrets resolved."""
        if not username:
            return None
        with self._db.reading() as session:
            row = session.scalars(
                select(EndpointRow).where(EndpointRow.sip_username == username).limit(1)
            ).first()
            return _endpoint_value(row, self._opener("resolve")) if row else None

    def profile_for_endpoint(self, name: str, *, secrets: SecretMode = "sealed") -> Profile | None:
        """The profile of an endpoint's group (``secrets="resolve"`` to contact the endpoint)."""
        with self._db.reading() as session:
            row = session.scalars(
                select(ProfileRow)
                .join(EndpointGroupRow, EndpointGroupRow.profile == ProfileRow.name)
                .join(EndpointRow, EndpointRow.group == EndpointGroupRow.name)
                .where(EndpointRow.name == name)
            ).first()
            return _profile_value(row, self._opener(secrets)) if row else None

    def endpoint_profiles(self, *, secrets: SecretMode = "resolve") -> dict[str, Profile]:
        """Endpoint name → the profile of its group (for the endpoint API defaults)."""
        with self._db.reading() as session:
            open_ = self._opener(secrets)
            profiles = {
                row.name: _profile_value(row, open_) for row in session.scalars(select(ProfileRow))
            }
            pairs = session.execute(
                select(EndpointRow.name, EndpointGroupRow.profile).join(
                    EndpointGroupRow, EndpointGroupRow.name == EndpointRow.group
                )
            )
            return {endpoint: profiles[profile] for endpoint, profile in pairs}

    def call_routing_rules(self) -> list[CallRoutingRule]:
        """Call routing rules in evaluation order (priority, then name)."""
        with self._db.reading() as session:
            rows = session.scalars(
                select(CallRoutingRuleRow).order_by(
                    CallRoutingRuleRow.priority, CallRoutingRuleRow.name
                )
            )
            return [_routing_value(r, self._opener("sealed")) for r in rows]

    def sip_proxies(self) -> list[SipProxy]:
        """Configured SIP proxies, by name."""
        with self._db.reading() as session:
            rows = session.scalars(select(SipProxyRow).order_by(SipProxyRow.name))
            return [_proxy_value(r, self._opener("sealed")) for r in rows]

    def sip_credentials(self) -> dict[str, SipCredential]:
        """SIP credentials by name, passwords resolved (for the gateway's outbound digest)."""
        with self._db.reading() as session:
            rows = session.scalars(select(SipCredentialRow).order_by(SipCredentialRow.name))
            open_ = self._opener("resolve")
            return {r.name: _credential_value(r, open_) for r in rows}

    def virtual_receptions(self) -> list[VirtualReception]:
        """Virtual Receptions, by name."""
        with self._db.reading() as session:
            rows = session.scalars(select(VirtualReceptionRow).order_by(VirtualReceptionRow.name))
            return [_reception_value(r, self._opener("sealed")) for r in rows]

    def gateway_settings(self) -> GatewaySettings:
        """The ``gateway:`` section (defaults when never configured), secrets resolved."""
        with self._db.reading() as session:
            row = session.get(GatewaySettingsRow, GATEWAY_ID)
            return _gateway_value(row, self._opener("resolve")) if row else GatewaySettings()

    def api_settings(self) -> ApiSettings:
        """The ``api:`` section (defaults when never configured)."""
        with self._db.reading() as session:
            row = session.get(SettingRow, "api")
            return ApiSettings(**row.value) if row else ApiSettings()

    def setting(self, key: str) -> Any:
        """A small named setting (``None`` when unset)."""
        with self._db.reading() as session:
            row = session.get(SettingRow, key)
            return row.value if row else None

    def set_setting(self, key: str, value: Any) -> None:
        """Store a small named setting (JSON-serialisable)."""
        if key in (REVISION_KEY, "api"):
            raise ValueError(f"{key!r} is managed by apply")
        with self._db.transaction() as session:
            row = session.get(SettingRow, key)
            if row is None:
                session.add(SettingRow(key=key, value=value))
            else:
                row.value = value

    def is_empty(self) -> bool:
        """True when no endpoint, profile or integration is configured (first start)."""
        with self._db.reading() as session:
            return all(
                session.scalar(select(func.count()).select_from(row)) == 0
                for row in (EndpointRow, ProfileRow, IntegrationRow)
            )

    def room_assignments(self, *, secrets: SecretMode = "refs") -> list[RoomAssignment]:
        """Every room with its endpoints, profile, integration and the profile's rules
        (``assignments_of`` the snapshot). ``secrets="sealed"`` skips decrypting integration
        secrets (status pages need none)."""
        return assignments_of(self.snapshot(secrets=secrets))

    # --- writing ------------------------------------------------------------------------------

    def apply(self, desired: Configuration, *, prune: bool = False) -> ChangeReport:
        """Create/update (and with ``prune`` delete) to match ``desired``, in one transaction."""
        with self._db.transaction() as session:
            changes: list[Change] = []
            for spec in SPECS:
                if spec.section in desired.sections:
                    wanted = getattr(desired, spec.section)
                    changes += self._apply_section(session, spec, wanted)
                    session.flush()  # rows referenced by later sections exist before those
            if "gateway" in desired.sections and desired.gateway is not None:
                changes += self._apply_gateway(session, desired.gateway)
            if "api" in desired.sections and desired.api is not None:
                changes += self._apply_api(session, desired.api)
            if prune:
                # delete dependants first: endpoints before groups before profiles ...
                for spec in reversed(SPECS):
                    if spec.section in desired.sections:
                        keep = {v.name for v in getattr(desired, spec.section)}
                        changes += self._prune_section(session, spec, keep)
                        session.flush()
            session.flush()
            revision = self._bump_revision(session) if changes else self._revision(session)
            if changes:
                self._sync_rooms(session)
            return ChangeReport(changes=tuple(changes), revision=revision)

    def _apply_section(self, session: Session, spec: _Spec, wanted: Iterable[Any]) -> list[Change]:
        changes = []
        existing = {r.name: r for r in session.scalars(select(spec.row))}  # type: ignore[attr-defined]
        for value in wanted:
            columns = spec.to_columns(value)
            row = existing.get(value.name)
            where = f"{spec.section} {value.name!r}"
            if row is None:
                row = spec.row()
                self._assign(row, spec, columns, where, created=True)
                session.add(row)
                changes.append(Change(section=spec.section, name=value.name, action="created"))
                continue
            changed = self._assign(row, spec, columns, where, created=False)
            if changed:
                changes.append(
                    Change(section=spec.section, name=value.name, action="updated", fields=changed)
                )
        return changes

    def _assign(
        self, row: Base, spec: _Spec, columns: Mapping[str, Any], where: str, *, created: bool
    ) -> tuple[str, ...]:
        changed: list[str] = []
        for key, wanted in columns.items():
            current = None if created else getattr(row, key)
            if key in spec.secret_fields:
                if created or not self._same_secret(current, wanted):
                    setattr(row, key, self._seal(wanted, current, f"{where} {key}"))
                    changed.append(key)
            elif spec.section == "integrations" and key == "secrets":
                current_map: dict[str, Any] = current or {}
                sealed: dict[str, Any] = {}
                for name, secret in sorted(wanted.items()):
                    env = current_map.get(name)
                    if not created and self._same_secret(env, secret):
                        sealed[name] = env
                    else:
                        sealed[name] = self._seal(secret, env, f"{where} {name}")
                        changed.append(name)
                changed += [n for n in current_map if n not in wanted]
                if created or sealed != current_map:
                    row.secrets = sealed  # type: ignore[attr-defined]
            elif created or current != wanted:
                setattr(row, key, wanted)
                changed.append(key)
        return tuple(changed)

    def _prune_section(self, session: Session, spec: _Spec, keep: set[str]) -> list[Change]:
        doomed = [
            name
            for name in session.scalars(select(spec.row.name))  # type: ignore[attr-defined]
            if name not in keep
        ]
        if doomed:
            session.execute(delete(spec.row).where(spec.row.name.in_(doomed)))  # type: ignore[attr-defined]
        return [Change(section=spec.section, name=n, action="deleted") for n in sorted(doomed)]

    def _apply_gateway(self, session: Session, wanted: GatewaySettings) -> list[Change]:
        row = session.get(GatewaySettingsRow, GATEWAY_ID)
        created = row is None
        if row is None:
            row = GatewaySettingsRow(id=GATEWAY_ID)
            session.add(row)
        columns: dict[str, Any] = {
            "listen": [
                {"transport": a.transport, "address": a.address, "port": a.port}
                for a in wanted.listen
            ],
            "dns_servers": list(wanted.dns_servers),
            "call_licenses": wanted.call_licenses,
            "max_outbound_kbps": wanted.max_outbound_kbps,
            "allowed_sources": list(wanted.allowed_sources),
            "max_calls_per_source": wanted.max_calls_per_source,
            "cdr_retention_days": wanted.cdr_retention_days,
            "caller_display_name": wanted.caller_display_name,
            "unattributed_display_name": wanted.unattributed_display_name,
            "organisation": wanted.organisation,
            "rtpengines": [{"address": e.address, "weight": e.weight} for e in wanted.rtpengines],
        }
        changed = []
        for key, value in columns.items():
            if created or getattr(row, key) != value:
                setattr(row, key, value)
                changed.append(key)
        for key in ("tls_certificate", "tls_private_key"):
            secret: Secret | None = getattr(wanted, key)
            current = None if created else getattr(row, key)
            if created or not self._same_secret(current, secret):
                setattr(row, key, self._seal(secret, current, f"gateway {key}"))
                changed.append(key)
        if created:
            return [Change(section="gateway", name="gateway", action="created")]
        if changed:
            return [
                Change(section="gateway", name="gateway", action="updated", fields=tuple(changed))
            ]
        return []

    def _apply_api(self, session: Session, wanted: ApiSettings) -> list[Change]:
        value = {"listen": wanted.listen}
        row = session.get(SettingRow, "api")
        if row is None:
            session.add(SettingRow(key="api", value=value))
            return [Change(section="api", name="api", action="created")]
        if row.value != value:
            row.value = value
            return [Change(section="api", name="api", action="updated", fields=("listen",))]
        return []

    @staticmethod
    def _revision(session: Session) -> int:
        row = session.get(SettingRow, REVISION_KEY)
        return int(row.value) if row else 0

    def _bump_revision(self, session: Session) -> int:
        row = session.get(SettingRow, REVISION_KEY)
        if row is None:
            row = SettingRow(key=REVISION_KEY, value=0)
            session.add(row)
        row.value = int(row.value) + 1
        return int(row.value)

    @staticmethod
    def _sync_rooms(session: Session) -> None:
        """Insert rooms that endpoints name and delete (with their meetings) the others."""
        wanted = {
            email.lower()
            for email in session.scalars(select(EndpointRow.room_resource_email).distinct())
        }
        present = set(session.scalars(select(RoomRow.room)))
        for room in sorted(wanted - present):
            session.add(RoomRow(room=room))
        gone = present - wanted
        if gone:
            session.execute(delete(RoomRow).where(RoomRow.room.in_(sorted(gone))))


def _sort_key(value: Any) -> tuple[Any, ...]:
    priority = getattr(value, "priority", None)
    return (0 if priority is None else priority, value.name)


def _gateway_value(
    row: GatewaySettingsRow, open_: Callable[[Envelope], Secret | None]
) -> GatewaySettings:
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


def without_secrets(config: Configuration) -> Configuration:
    """The configuration with every inline secret replaced by the keep marker (for export)."""

    def seal(secret: Secret | None) -> Secret | None:
        if secret is None or secret.ref:
            return secret
        return Secret("", ref=INLINE_KEEP)

    return replace(
        config,
        profiles=tuple(
            replace(
                p,
                endpoint_api_password=seal(p.endpoint_api_password),
                endpoint_webex_client_secret=seal(p.endpoint_webex_client_secret),
                endpoint_webex_refresh_token=seal(p.endpoint_webex_refresh_token),
            )
            for p in config.profiles
        ),
        endpoints=tuple(
            replace(e, api_password=seal(e.api_password), sip_password=seal(e.sip_password))
            for e in config.endpoints
        ),
        integrations=tuple(
            replace(i, secrets={k: seal(v) or v for k, v in i.secrets.items()})
            for i in config.integrations
        ),
    )


def assignments_of(config: Configuration) -> list[RoomAssignment]:
    """Every room of a configuration with its endpoints, profile, integration and rules.

    A room is polled once even when several endpoints show it; they must share a profile
    (``otj config apply`` checks that), else the alphabetically first endpoint's wins.
    A profile without ``integration`` uses the only integration when there is exactly one.
    """
    groups = {g.name: g for g in config.endpoint_groups}
    profiles = {p.name: p for p in config.profiles}
    integrations = {i.name: i for i in config.integrations}
    sole = config.integrations[0] if len(config.integrations) == 1 else None
    by_room: dict[str, list[Endpoint]] = {}
    for endpoint in config.endpoints:
        by_room.setdefault(endpoint.room_resource_email.lower(), []).append(endpoint)
    rules_of: dict[str, tuple[MeetingRule, ...]] = {}
    out = []
    for room, endpoints in sorted(by_room.items()):
        profile = profiles[groups[endpoints[0].group].profile]
        integration = integrations.get(profile.integration) if profile.integration else sole
        if profile.name not in rules_of:
            rules_of[profile.name] = tuple(
                r for r in config.meeting_processing_rules if r.profile in ("", profile.name)
            )
        out.append(
            RoomAssignment(
                room=room,
                endpoints=tuple(e.name for e in endpoints),
                profile=profile,
                integration=integration,
                rules=rules_of[profile.name],
            )
        )
    return out
