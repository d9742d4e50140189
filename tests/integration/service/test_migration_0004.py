"""Revision 0004 (meeting rule ``route_check``) on a database that holds rules at revision 0003."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from otj.cli import main
from otj.config import apply_text
from otj.store import Database
from otj.store.migrate import current_revision, downgrade, head_revision
from tests.integration.service.support import database_at

PREVIOUS = "0003"
RULE_0003 = {
    "name": "Zoom",
    "profile": None,
    "meeting_type": "zoom",
    "priority": 40,
    "enabled": True,
    "domain": "",
    "company_id": "",
    "include_pin": True,
    "match_string": "",
    "replace_string": "",
    "custom_template": "",
    "transform_rule": "",
    "default_processing_enabled": True,
    "description": "from 0003",
}


@pytest.fixture
def bare(database_url: str, tmp_path: Path) -> Iterator[Database]:
    """A database at revision 0003 (not upgraded further)."""
    with database_at(database_url, tmp_path, PREVIOUS) as database:
        yield database


def test_upgrade_keeps_stored_rules_and_checks_them(
    bare: Database, database_url: str, tmp_path: Path
) -> None:
    table = sa.table("meeting_rules", *(sa.column(name) for name in RULE_0003))
    with bare.engine.begin() as conn:
        conn.execute(sa.insert(table).values(**RULE_0003))
    assert main(["db", "upgrade", "--database", database_url, "--data-dir", str(tmp_path)]) == 0
    assert current_revision(bare.engine) == head_revision()
    [rule] = bare.config.snapshot().meeting_processing_rules
    assert (rule.name, rule.include_pin, rule.description) == ("Zoom", True, "from 0003")
    assert rule.route_check is True
    result = apply_text(
        bare, "meeting_processing_rules:\n  - {name: Zoom, meeting_type: zoom, priority: 40, "
        "include_pin: true, description: from 0003, route_check: false}\n", environ={},
    )  # fmt: skip
    assert result.report is not None
    assert [c.describe() for c in result.report.changes] == [
        "updated meeting_processing_rules 'Zoom': route_check"
    ]


def test_downgrade_drops_the_column_and_keeps_the_rules(bare: Database) -> None:
    bare.upgrade()
    text = "meeting_processing_rules:\n  - {name: Webex, meeting_type: webex, route_check: false}\n"
    assert apply_text(bare, text, environ={}).ok
    downgrade(bare.engine, PREVIOUS)
    assert current_revision(bare.engine) == PREVIOUS
    columns = {c["name"] for c in sa.inspect(bare.engine).get_columns("meeting_rules")}
    assert "route_check" not in columns
    with bare.engine.connect() as conn:
        names = conn.execute(sa.text("SELECT name, meeting_type FROM meeting_rules")).all()
    assert [tuple(row) for row in names] == [("Webex", "webex")]
