"""A profile's ``time_zone`` (the room panel's zone): validated, stored, exported, migrated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from otj.config import apply_text
from otj.config.export import to_yaml
from otj.store import Database
from otj.store.migrate import current_revision, downgrade, head_revision
from tests.integration.service.support import database_at

ROOMS = """\
profiles:
  - name: Oslo office
    time_zone: {zone}
  - name: Default
endpoint_groups: [{{name: Oslo rooms, profile: Oslo office}}]
endpoints:
  - {{name: Fjord, group: Oslo rooms, room_resource_email: fjord@rooms.example.com, type: PULL}}
"""


def test_a_profiles_time_zone_is_stored_and_exported(db: Database) -> None:
    result = apply_text(db, ROOMS.format(zone="Europe/Oslo"), environ={})
    assert result.ok, [str(p) for p in result.problems]
    profile = db.config.profile_for_endpoint("Fjord")
    assert profile is not None
    assert profile.time_zone == "Europe/Oslo"
    zones = {p.name: p.time_zone for p in db.config.profiles()}
    assert zones == {"Oslo office": "Europe/Oslo", "Default": ""}
    exported = to_yaml(db.config.snapshot(secrets="sealed"))
    written = {p["name"]: p.get("time_zone") for p in yaml.safe_load(exported)["profiles"]}
    assert written["Oslo office"] == "Europe/Oslo"
    again = apply_text(db, exported, environ={})
    assert again.ok
    assert again.report is not None
    assert again.report.changes == ()


@pytest.mark.parametrize("zone", ["Europe/Osloo", "CEST", "../../etc/passwd", "42"])
def test_an_unknown_time_zone_is_refused_with_its_line(db: Database, zone: str) -> None:
    result = apply_text(db, ROOMS.format(zone=zone), environ={})
    assert not result.ok
    found = {(p.path, p.line): p.message for p in result.problems if not p.warning}
    assert found == {
        ("profiles[0].time_zone", 3): (
            f"must be an IANA time zone such as Europe/Oslo, got {yaml.safe_load(zone)!r}"
        )
    }
    assert db.config.is_empty()


@pytest.fixture
def at_0003(database_url: str, tmp_path: Path) -> Iterator[Database]:
    with database_at(database_url, tmp_path, "0003") as database:
        yield database


def test_upgrade_gives_stored_profiles_the_servers_zone_and_downgrade_drops_it(
    at_0003: Database,
) -> None:
    with at_0003.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO profiles (name, description, display_upcoming_meetings, "
                "start_buffer, end_buffer, replace_subject_type, replace_subject_template, "
                "replace_empty_subject, enable_private_meetings, process_alias_private_meetings, "
                "enable_non_video_meetings, poll_interval) "
                "VALUES ('Head office', '', 7, 5, 0, 'PRIVATE', '', true, true, true, true, 60)"
            )
        )
    at_0003.upgrade()
    assert current_revision(at_0003.engine) == head_revision()
    [profile] = at_0003.config.profiles()
    assert (profile.name, profile.time_zone, profile.start_buffer) == ("Head office", "", 5)
    assert apply_text(
        at_0003, "profiles: [{name: Head office, time_zone: Asia/Tokyo}]\n", environ={}
    ).ok
    downgrade(at_0003.engine, "0003")
    with at_0003.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("profiles")}
        names = conn.execute(sa.text("SELECT name FROM profiles")).scalars().all()
    assert "time_zone" not in columns
    assert names == ["Head office"]
