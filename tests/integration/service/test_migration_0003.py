"""Revision 0003 (profile endpoint defaults) on a database that holds data at revision 0002.

``otj db upgrade`` must carry an installed service's data forward unchanged, and the
downgrade must give each endpoint explicitly what it inherited, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from otj.cli import main
from otj.config import apply_text
from otj.store import Database
from otj.store.migrate import current_revision, downgrade, head_revision
from tests.integration.service.support import database_at

PREVIOUS = "0002"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def bare(database_url: str, tmp_path: Path) -> Iterator[Database]:
    """A database at revision 0002 (not upgraded further)."""
    with database_at(database_url, tmp_path, PREVIOUS) as database:
        yield database


def insert(conn: sa.Connection, table: str, **values: Any) -> None:
    """INSERT through SQLAlchemy Core with only the columns given (the 0002 schema's)."""
    columns = [
        sa.column(name, sa.JSON()) if isinstance(value, dict) else sa.column(name)
        for name, value in values.items()
    ]
    conn.execute(sa.insert(sa.table(table, *columns)).values(**values))


def fill_previous(db: Database) -> None:
    """What a 0002 installation holds: a profile, a group, endpoints, a room, delivery state."""
    endpoint = {"group": "Oslo rooms", "type": "CISCO", "sip_username": "", "description": ""}
    with db.engine.begin() as conn:
        insert(
            conn,
            "profiles",
            name="Head office",
            description="",
            display_upcoming_meetings=7,
            start_buffer=5,
            end_buffer=0,
            replace_subject_type="PRIVATE",
            replace_subject_template="",
            replace_empty_subject=True,
            enable_private_meetings=True,
            process_alias_private_meetings=True,
            enable_non_video_meetings=True,
            poll_interval=60,
            integration=None,
        )
        insert(conn, "endpoint_groups", name="Oslo rooms", profile="Head office", description="")
        insert(
            conn,
            "endpoints",
            name="Fjord",
            room_resource_email="fjord@rooms.example.com",
            api_address="10.1.2.3",
            api_port=80,
            use_https=False,
            verify_cert=False,
            api_username="otj",
            api_password=db.box.seal("codec-pw"),
            **endpoint,
        )
        insert(
            conn,
            "endpoints",
            name="Berg",
            room_resource_email="berg@rooms.example.com",
            api_address="10.1.2.4",
            api_port=443,
            use_https=True,
            verify_cert=True,
            api_username="",
            **endpoint,
        )
        insert(
            conn,
            "rooms",
            room="fjord@rooms.example.com",
            sync_fingerprint="fp",
            last_error="",
            last_error_kind="",
            consecutive_failures=0,
            last_requests=1,
            last_duration_ms=5,
            polls=3,
            meeting_count=0,
            meetings_hash="h",
            delivery_pending=False,
            delivery_generation=2,
        )
        insert(
            conn,
            "endpoint_delivery",
            endpoint="Fjord",
            last_payload_hash="digest",
            last_result="pushed",
            last_error="",
            consecutive_failures=0,
            sync_required=False,
            mismatch_detail="",
            software_version="ce11.9.1",
            feedback_registered="reg",
        )


def test_db_upgrade_from_the_previous_revision_keeps_every_value(
    bare: Database, database_url: str, tmp_path: Path
) -> None:
    fill_previous(bare)
    assert current_revision(bare.engine) == PREVIOUS

    assert main(["db", "upgrade", "--database", database_url, "--data-dir", str(tmp_path)]) == 0
    assert current_revision(bare.engine) == head_revision()

    profile = bare.config.profile_for_endpoint("Fjord", secrets="resolve")
    assert profile is not None
    assert (profile.endpoint_api_username, profile.endpoint_api_password) == ("", None)
    assert (profile.endpoint_use_https, profile.endpoint_verify_cert) == (True, True)
    assert (profile.endpoint_api_auth, profile.endpoint_feedback_slot) == ("basic", 1)
    fjord = bare.config.endpoint("Fjord")
    assert fjord is not None
    assert (fjord.api_port, fjord.use_https, fjord.verify_cert) == (80, False, False)
    assert fjord.api_username == "otj"
    assert fjord.api_password is not None
    assert fjord.api_password.reveal() == "codec-pw"
    state = bare.delivery.get("Fjord")
    assert (state.pushed_digest, state.software_version, state.feedback_registered) == (
        "digest",
        "ce11.9.1",
        "reg",
    )
    assert bare.rooms.names() == ["fjord@rooms.example.com"]

    # the upgraded store takes the new keys; the stored endpoints are left as they were
    result = apply_text(
        bare,
        "profiles:\n  - name: Head office\n    endpoint_api_username: otj-default\n",
        environ={},
    )
    assert result.ok, [str(p) for p in result.problems]
    assert [c.describe() for c in result.report.changes] == [  # type: ignore[union-attr]
        "updated profiles 'Head office': endpoint_api_username"
    ]
    berg = bare.config.profile_for_endpoint("Berg")
    assert berg is not None
    assert berg.endpoint_api_username == "otj-default"
    # running the upgrade again is a no-op
    assert main(["db", "upgrade", "--database", database_url, "--data-dir", str(tmp_path)]) == 0
    assert current_revision(bare.engine) == head_revision()


def test_downgrade_writes_what_endpoints_inherited_into_them(bare: Database) -> None:
    bare.upgrade()
    text = """\
profiles:
  - name: Lab
    endpoint_api_username: otj
    endpoint_api_password: profile-pw
    endpoint_use_https: false
    endpoint_verify_cert: false
endpoint_groups: [{name: Lab rooms, profile: Lab}]
endpoints:
  - {name: Inherits, group: Lab rooms, room_resource_email: a@rooms.example.com,
     api_address: 10.0.0.1}
  - {name: Own, group: Lab rooms, room_resource_email: b@rooms.example.com,
     api_address: 10.0.0.2, api_port: 8443, use_https: true, api_username: admin,
     api_password: own-pw}
"""
    assert apply_text(bare, text, environ={}).ok
    downgrade(bare.engine, PREVIOUS)
    assert current_revision(bare.engine) == PREVIOUS
    with bare.engine.connect() as conn:
        rows = {
            row.name: row
            for row in conn.execute(
                sa.text(
                    "SELECT name, api_port, use_https, verify_cert, api_username, api_password "
                    "FROM endpoints"
                )
            )
        }
        columns = {c["name"] for c in sa.inspect(conn).get_columns("profiles")}
    assert not {c for c in columns if c.startswith("endpoint_")}

    def password(row: Any) -> str:
        envelope = row.api_password
        if isinstance(envelope, str):
            envelope = json.loads(envelope)
        return bare.box.open(envelope).reveal()

    inherits, own = rows["Inherits"], rows["Own"]
    assert (inherits.api_port, bool(inherits.use_https), bool(inherits.verify_cert)) == (
        80,
        False,
        False,
    )
    assert (inherits.api_username, password(inherits)) == ("otj", "profile-pw")
    assert (own.api_port, bool(own.use_https), bool(own.verify_cert)) == (8443, True, False)
    assert (own.api_username, password(own)) == ("admin", "own-pw")

    bare.upgrade()  # and forward again
    assert current_revision(bare.engine) == head_revision()
    endpoint = bare.config.endpoint("Inherits")
    assert endpoint is not None
    assert (endpoint.use_https, endpoint.api_username) == (False, "otj")
