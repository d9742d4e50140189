"""Writing the configuration: applied as a whole in one transaction.

``apply`` creates and updates objects by name, and with ``prune`` deletes the objects of the
sections the configuration carries that it does not list. It writes nothing when the store
already matches (idempotent), bumps the configuration revision when it writes, and keeps the
``rooms`` table in step with the endpoints' room resource emails in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from otj.model import GatewaySettings
from otj.secret import Secret
from otj.store.config_rows import (
    GATEWAY_ID,
    REVISION_KEY,
    SPECS,
    Envelope,
    SectionSpec,
    gateway_columns,
)
from otj.store.tables.base import Base
from otj.store.tables.calendars import RoomRow
from otj.store.tables.configuration import EndpointRow, GatewaySettingsRow, SettingRow
from otj.store.values import INLINE_KEEP, ApiSettings, Change, ChangeReport, Configuration

if TYPE_CHECKING:
    from otj.store.secrets import SecretBox


class ConfigApplyError(ValueError):
    """The configuration cannot be applied (a reference the store cannot satisfy)."""


class ConfigWriter:
    """Applies a configuration in a session, sealing its secrets with ``box``."""

    def __init__(self, box: SecretBox) -> None:
        self._box = box

    def _same_secret(self, envelope: Envelope, wanted: Secret | None) -> bool:
        if wanted is None or envelope is None:
            return wanted is None and envelope is None
        if wanted.ref == INLINE_KEEP:
            return True
        if wanted.ref:
            return envelope == {"ref": wanted.ref}
        return "enc" in envelope and self._box.open(envelope).reveal() == wanted.reveal()

    def _seal(self, wanted: Secret | None, current: Envelope, where: str) -> Envelope:
        if wanted is None:
            return None
        if wanted.ref == INLINE_KEEP:
            if current is None or "enc" not in current:
                raise ConfigApplyError(f"{where}: {INLINE_KEEP} but no inline secret is stored")
            return current
        return self._box.seal(wanted.ref or wanted.reveal())

    def apply(self, session: Session, desired: Configuration, *, prune: bool) -> ChangeReport:
        """Create/update (and with ``prune`` delete) to match ``desired`` in ``session``."""
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

    def _apply_section(
        self, session: Session, spec: SectionSpec, wanted: Iterable[Any]
    ) -> list[Change]:
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
        self, row: Base, spec: SectionSpec, columns: Mapping[str, Any], where: str, *, created: bool
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

    def _prune_section(self, session: Session, spec: SectionSpec, keep: set[str]) -> list[Change]:
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
        columns = gateway_columns(wanted)
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
