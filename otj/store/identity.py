"""The gateway's identity in the store: its private keys sealed, its request and its chain.

Two slots: ``pending`` holds the key of the last ``otj gateway identity request`` until its
certificate is uploaded; ``active`` holds the installed key and chain the gateway presents. A new
request never disturbs the active identity; an accepted upload replaces it (one identity at a
time). Keys are secret envelopes (``otj.store.secrets``): encrypted at rest, never exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete

from guestjoin.identity import (
    ALARM_EXPIRED,
    ALARM_EXPIRING,
    ALARM_SUBJECT,
    Accepted,
    CertificateRequest,
    ExpiryAlarm,
    IdentityStatus,
    TlsIdentity,
    describe,
    expiry_alarm,
)
from otj.secret import Secret
from otj.store.tables.gateway import GatewayIdentityRow

if TYPE_CHECKING:
    from otj.store.db import Database


@dataclass(frozen=True, slots=True)
class StoredKeys:
    """The private keys an upload may match: the pending request's and the installed one's."""

    pending: Secret | None
    active: Secret | None


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A certificate request awaiting its signed certificate."""

    common_name: str
    requested_at: datetime
    request_pem: bytes


class IdentityRepository:
    """Requests, installs and reads the gateway's TLS identity."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save_request(self, common_name: str, request: CertificateRequest, *, now: datetime) -> None:
        """Keep a new request and its key as the pending one (replacing an older request)."""
        with self._db.transaction() as session:
            row = session.get(GatewayIdentityRow, "pending")
            if row is None:
                row = GatewayIdentityRow(slot="pending")
                session.add(row)
            row.common_name = common_name
            row.private_key = self._db.box.seal(request.key.reveal())
            row.request_pem = request.request_pem.decode()
            row.chain_pem = ""
            row.updated_at = now

    def pending(self) -> PendingRequest | None:
        """The request awaiting its certificate, if any."""
        with self._db.reading() as session:
            row = session.get(GatewayIdentityRow, "pending")
            if row is None:
                return None
            return PendingRequest(
                common_name=row.common_name,
                requested_at=row.updated_at,
                request_pem=row.request_pem.encode(),
            )

    def keys(self) -> StoredKeys:
        """The stored private keys (decrypted; for matching an upload)."""
        with self._db.reading() as session:
            pending = session.get(GatewayIdentityRow, "pending")
            active = session.get(GatewayIdentityRow, "active")
            return StoredKeys(
                pending=self._db.box.open(pending.private_key) if pending is not None else None,
                active=self._db.box.open(active.private_key) if active is not None else None,
            )

    def install(self, accepted: Accepted, *, now: datetime) -> None:
        """Make an accepted upload the gateway's identity (its pending request is then used up)."""
        with self._db.transaction() as session:
            source = session.get(GatewayIdentityRow, accepted.slot)
            common_name = source.common_name if source is not None else ""
            row = session.get(GatewayIdentityRow, "active")
            if row is None:
                row = GatewayIdentityRow(slot="active")
                session.add(row)
            row.common_name = common_name
            row.private_key = self._db.box.seal(accepted.key.reveal())
            row.request_pem = source.request_pem if source is not None else ""
            row.chain_pem = accepted.chain_pem.decode()
            row.updated_at = now
            if accepted.slot == "pending":
                session.execute(
                    delete(GatewayIdentityRow).where(GatewayIdentityRow.slot == "pending")
                )

    def active_chain(self) -> bytes | None:
        """The installed certificate chain (PEM, leaf first), if any."""
        with self._db.reading() as session:
            row = session.get(GatewayIdentityRow, "active")
            return row.chain_pem.encode() if row is not None and row.chain_pem else None

    def active(self) -> TlsIdentity | None:
        """The installed identity with its key (for the gateway's TLS contexts)."""
        with self._db.reading() as session:
            row = session.get(GatewayIdentityRow, "active")
            if row is None or not row.chain_pem:
                return None
            return TlsIdentity(
                chain_pem=row.chain_pem.encode(), key=self._db.box.open(row.private_key)
            )

    def status(self, *, now: datetime) -> IdentityStatus | None:
        """The installed certificate's status at ``now``."""
        chain = self.active_chain()
        return describe(chain, now=now) if chain is not None else None


def check_certificate_alarms(db: Database, *, now: datetime) -> ExpiryAlarm | None:
    """Raise the certificate alarm due at ``now`` and clear the other (cheap when unchanged)."""
    due = expiry_alarm(IdentityRepository(db).status(now=now), now=now)
    active = {a.kind: a for a in db.alarms.active(subject=ALARM_SUBJECT)}
    for kind in (ALARM_EXPIRING, ALARM_EXPIRED):
        if due is not None and due.kind == kind:
            alarm = active.get(kind)
            if alarm is None or alarm.message != due.message:
                db.alarms.raise_alarm(
                    kind, ALARM_SUBJECT, due.message, now=now, severity=due.severity
                )
        elif kind in active:
            db.alarms.clear(kind, ALARM_SUBJECT, now=now)
    return due
