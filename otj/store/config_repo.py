"""Configuration objects: read as frozen values, applied as a whole in one transaction.

Reading is here; how each section maps to its rows is ``otj.store.config_rows``, and writing
(``apply``) is ``otj.store.config_apply``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from otj.model import (
    CallRoutingRule,
    Endpoint,
    GatewaySettings,
    MeetingRule,
    Profile,
    SipCredential,
    SipProxy,
    VirtualReception,
)
from otj.store.config_apply import ConfigWriter
from otj.store.config_rows import (
    GATEWAY_ID,
    REVISION_KEY,
    SPECS,
    SecretMode,
    credential_value,
    endpoint_value,
    gateway_value,
    integration_value,
    profile_value,
    proxy_value,
    reception_value,
    routing_value,
    secret_opener,
    sort_key,
)
from otj.store.tables.configuration import (
    CallRoutingRuleRow,
    EndpointGroupRow,
    EndpointRow,
    GatewaySettingsRow,
    IntegrationRow,
    ProfileRow,
    SettingRow,
    SipCredentialRow,
    SipProxyRow,
    VirtualReceptionRow,
)
from otj.store.values import (
    ApiSettings,
    ChangeReport,
    Configuration,
    IntegrationSettings,
    RoomAssignment,
)

if TYPE_CHECKING:
    from otj.store.db import Database


class ConfigRepository:
    """Reads and writes the configuration objects."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- reading ------------------------------------------------------------------------------

    def snapshot(self, *, secrets: SecretMode = "sealed") -> Configuration:
        """The whole configuration, every section present."""
        with self._db.reading() as session:
            return self._snapshot(session, secrets)

    def _snapshot(self, session: Session, mode: SecretMode) -> Configuration:
        open_ = secret_opener(self._db.box, mode)
        lists: dict[str, tuple[Any, ...]] = {}
        for spec in SPECS:
            rows = session.scalars(select(spec.row)).all()
            values = [spec.to_value(r, open_) for r in rows]
            values.sort(key=sort_key)
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
            gateway=gateway_value(gateway_row, open_) if gateway_row else None,
            api=ApiSettings(**api_row.value) if api_row else None,
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
            return integration_value(row, secret_opener(self._db.box, "refs")) if row else None

    def endpoints(self, *, room: str | None = None) -> list[Endpoint]:
        """Endpoints (of one room when given), secrets resolved, by name."""
        with self._db.reading() as session:
            query = select(EndpointRow).order_by(EndpointRow.name)
            if room is not None:
                query = query.where(func.lower(EndpointRow.room_resource_email) == room.lower())
            open_ = secret_opener(self._db.box, "resolve")
            return [endpoint_value(r, open_) for r in session.scalars(query)]

    def endpoint(self, name: str) -> Endpoint | None:
        """One endpoint by name, secrets resolved."""
        with self._db.reading() as session:
            row = session.get(EndpointRow, name)
            return endpoint_value(row, secret_opener(self._db.box, "resolve")) if row else None

    def profile_for_endpoint(self, name: str, *, secrets: SecretMode = "sealed") -> Profile | None:
        """The profile of an endpoint's group (``secrets="resolve"`` to contact the endpoint)."""
        with self._db.reading() as session:
            row = session.scalars(
                select(ProfileRow)
                .join(EndpointGroupRow, EndpointGroupRow.profile == ProfileRow.name)
                .join(EndpointRow, EndpointRow.group == EndpointGroupRow.name)
                .where(EndpointRow.name == name)
            ).first()
            return profile_value(row, secret_opener(self._db.box, secrets)) if row else None

    def endpoint_profiles(self, *, secrets: SecretMode = "resolve") -> dict[str, Profile]:
        """Endpoint name → the profile of its group (for the endpoint API defaults)."""
        with self._db.reading() as session:
            open_ = secret_opener(self._db.box, secrets)
            profiles = {
                row.name: profile_value(row, open_) for row in session.scalars(select(ProfileRow))
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
            return [routing_value(r, secret_opener(self._db.box, "sealed")) for r in rows]

    def sip_proxies(self) -> list[SipProxy]:
        """Configured SIP proxies, by name."""
        with self._db.reading() as session:
            rows = session.scalars(select(SipProxyRow).order_by(SipProxyRow.name))
            return [proxy_value(r, secret_opener(self._db.box, "sealed")) for r in rows]

    def sip_credentials(self) -> dict[str, SipCredential]:
        """SIP credentials by name, passwords resolved (for the gateway's outbound digest)."""
        with self._db.reading() as session:
            rows = session.scalars(select(SipCredentialRow).order_by(SipCredentialRow.name))
            open_ = secret_opener(self._db.box, "resolve")
            return {r.name: credential_value(r, open_) for r in rows}

    def virtual_receptions(self) -> list[VirtualReception]:
        """Virtual Receptions, by name."""
        with self._db.reading() as session:
            rows = session.scalars(select(VirtualReceptionRow).order_by(VirtualReceptionRow.name))
            return [reception_value(r, secret_opener(self._db.box, "sealed")) for r in rows]

    def gateway_settings(self) -> GatewaySettings:
        """The ``gateway:`` section (defaults when never configured), secrets resolved."""
        with self._db.reading() as session:
            row = session.get(GatewaySettingsRow, GATEWAY_ID)
            return (
                gateway_value(row, secret_opener(self._db.box, "resolve"))
                if row
                else GatewaySettings()
            )

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
        """Create/update (and with ``prune`` delete) to match ``desired``, in one transaction
        (``otj.store.config_apply``)."""
        with self._db.transaction() as session:
            return ConfigWriter(self._db.box).apply(session, desired, prune=prune)


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
