"""Revision 0007 (call summaries, CDR retention) on a database holding data at revision 0003:
call records stay single calls, gateway settings get the 90-day default, and the downgrade
goes back to 0003, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from otj.store import Database
from otj.store.migrate import current_revision, downgrade, head_revision
from tests.integration.service.support import database_at

PREVIOUS = "0003"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def bare(database_url: str, tmp_path: Path) -> Iterator[Database]:
    """A database at revision 0003 (not upgraded further)."""
    with database_at(database_url, tmp_path, PREVIOUS) as database:
        yield database


def test_upgrade_keeps_calls_and_settings_and_downgrades(bare: Database) -> None:
    with bare.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO calls (call_id, direction, caller_uri, caller_name, endpoint_name,"
                " source_address, transport, dialled_alias, routed_alias, rule, target,"
                " conference, invite_at, cause, detail) VALUES ('c1', 'inbound', 'sip:a@b', '',"
                " '', '192.0.2.1:5060', 'udp', 'x@y', '', '', '', '', :t, 'no_route', '')"
            ),
            {"t": T0},
        )
        conn.execute(
            sa.text(
                "INSERT INTO gateway_settings (id, listen, dns_servers, call_licenses,"
                " max_outbound_kbps, allowed_sources) VALUES (1, '[]', '[]', 7, 2000, '[]')"
            )
        )
    bare.upgrade()
    assert current_revision(bare.engine) == head_revision()
    [call] = bare.calls.recent()
    assert (call.call_id, call.attempts) == ("c1", 1)
    settings = bare.config.gateway_settings()
    assert (settings.call_licenses, settings.cdr_retention_days) == (7, 90)
    downgrade(bare.engine, PREVIOUS)
    assert current_revision(bare.engine) == PREVIOUS
    with bare.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT call_id FROM calls")).scalars().all() == ["c1"]
