"""Verified endpoint tokens remembered in the process: revocation here is immediate, by another
process within ``TokenRepository.RECHECK``, entries expire after ``TTL``; failures always read
the database. Both backends, two ``Database`` handles standing for two processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from otj.delivery.pull.access import NeedsRead, authenticate
from otj.store import Database, SecretBox
from otj.store.tokens import TokenRepository
from otj.store.values import Configuration
from tests.conftest import FakeClock
from tests.integration.delivery.sqlcount import Statements
from tests.integration.delivery.storehelp import codec_endpoint, configure

FJORD = "fjord@rooms.example.com"
BERG = "berg@rooms.example.com"
RECHECK = TokenRepository.RECHECK.total_seconds()
TTL = TokenRepository.TTL.total_seconds()


@pytest.fixture
def other(database_url: str, tmp_path: Path, secret_env: dict[str, str]) -> Iterator[Database]:
    """The same database as seen by another process (``otj endpoints revoke``, say)."""
    database = Database(
        database_url, box=SecretBox(key_file=tmp_path / "secret.key", environ=secret_env)
    )
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def tokens(db: Database, clock: FakeClock) -> dict[str, str]:
    configure(db, [codec_endpoint("fjord", FJORD, port=1), codec_endpoint("berg", BERG, port=2)])
    return {
        name: db.tokens.create("endpoint", name, now=clock.now(), endpoint=name)[0]
        for name in ("fjord", "berg")
    }


def test_a_verified_token_is_recalled_without_a_database_read(
    db: Database, clock: FakeClock, tokens: dict[str, str]
) -> None:
    with pytest.raises(NeedsRead):
        authenticate(db, tokens["fjord"], now=clock.now(), may_read=False)
    caller = authenticate(db, tokens["fjord"], now=clock.now())
    assert caller is not None
    assert caller.endpoint == "fjord"
    statements = Statements(db)
    clock.advance(0.5)
    again = authenticate(db, tokens["fjord"], now=clock.now(), may_read=False)
    assert again == caller
    assert statements.count == 0
    assert db.tokens.recall(tokens["fjord"], now=clock.now(), kind="admin") is None


def test_a_revoke_in_this_process_is_immediate(
    db: Database, clock: FakeClock, tokens: dict[str, str]
) -> None:
    assert authenticate(db, tokens["fjord"], now=clock.now()) is not None
    assert db.tokens.revoke("endpoint", "fjord", now=clock.now())
    assert db.tokens.recall(tokens["fjord"], now=clock.now()) is None
    assert authenticate(db, tokens["fjord"], now=clock.now()) is None
    assert authenticate(db, tokens["berg"], now=clock.now()) is not None


def test_a_replacement_in_this_process_is_immediate(
    db: Database, clock: FakeClock, tokens: dict[str, str]
) -> None:
    assert authenticate(db, tokens["fjord"], now=clock.now()) is not None
    db.tokens.revoke("endpoint", "fjord", now=clock.now())  # otj endpoints token --replace
    new, _ = db.tokens.create("endpoint", "fjord", now=clock.now(), endpoint="fjord")
    assert authenticate(db, tokens["fjord"], now=clock.now()) is None
    caller = authenticate(db, new, now=clock.now())
    assert caller is not None
    assert caller.endpoint == "fjord"


def test_a_revoke_by_another_process_is_seen_within_the_recheck_interval(
    db: Database, other: Database, clock: FakeClock, tokens: dict[str, str]
) -> None:
    assert authenticate(db, tokens["fjord"], now=clock.now()) is not None
    assert other.tokens.revoke("endpoint", "fjord", now=clock.now())
    # the documented bound: this process may still recall it until the revisions are
    # confirmed again, at most RECHECK after its last database read
    clock.advance(RECHECK / 2)
    assert db.tokens.recall(tokens["fjord"], now=clock.now()) is not None
    clock.advance(RECHECK / 2)
    assert db.tokens.recall(tokens["fjord"], now=clock.now()) is None
    # the next database read (any token's) sees the new tokens revision and forgets them all
    assert authenticate(db, tokens["berg"], now=clock.now()) is not None
    assert db.tokens.recall(tokens["fjord"], now=clock.now()) is None
    assert authenticate(db, tokens["fjord"], now=clock.now()) is None


def test_an_endpoint_removed_by_another_process_is_seen_within_the_recheck_interval(
    db: Database, other: Database, clock: FakeClock, tokens: dict[str, str]
) -> None:
    assert authenticate(db, tokens["fjord"], now=clock.now()) is not None
    # removed (its token rows go with it) and added again under the same name, for berg's room
    berg = codec_endpoint("berg", BERG, port=2)
    other.config.apply(
        Configuration(sections=frozenset({"endpoints"}), endpoints=(berg,)), prune=True
    )
    assert [t.name for t in other.tokens.list()] == ["berg"]
    configure(other, [codec_endpoint("fjord", BERG, port=1), berg])
    clock.advance(RECHECK)
    # the next database read (berg's) sees the new configuration revision and forgets fjord's
    assert authenticate(db, tokens["berg"], now=clock.now()) is not None
    assert db.tokens.recall(tokens["fjord"], now=clock.now()) is None
    assert authenticate(db, tokens["fjord"], now=clock.now()) is None


def test_an_entry_expires_after_the_ttl(
    db: Database, clock: FakeClock, tokens: dict[str, str]
) -> None:
    assert authenticate(db, tokens["fjord"], now=clock.now()) is not None
    statements = Statements(db)
    clock.advance(TTL - RECHECK)
    assert authenticate(db, tokens["berg"], now=clock.now()) is not None  # confirms revisions
    assert db.tokens.recall(tokens["fjord"], now=clock.now()) is not None
    clock.advance(RECHECK - 0.001)
    assert db.tokens.recall(tokens["fjord"], now=clock.now()) is not None
    reads = statements.count
    clock.advance(0.001)
    assert db.tokens.recall(tokens["fjord"], now=clock.now()) is None
    assert authenticate(db, tokens["fjord"], now=clock.now()) is not None
    assert statements.count > reads


def test_failures_read_the_database_every_time(
    db: Database, clock: FakeClock, tokens: dict[str, str]
) -> None:
    statements = Statements(db)
    wrong = tokens["fjord"][:-2] + ("AA" if not tokens["fjord"].endswith("AA") else "BB")
    assert authenticate(db, tokens["fjord"], now=clock.now()) is not None  # some remembered
    for attempt in range(1, 4):
        with pytest.raises(NeedsRead):
            authenticate(db, wrong, now=clock.now(), may_read=False)
        assert authenticate(db, wrong, now=clock.now()) is None
        assert statements.token_lookups == attempt + 1
    assert len(db.tokens.verified) == 1


def test_use_is_still_noted(db: Database, clock: FakeClock, tokens: dict[str, str]) -> None:
    assert authenticate(db, tokens["fjord"], now=clock.now()) is not None
    used = {t.name: t.last_used_at for t in db.tokens.list() if t.kind == "endpoint"}
    assert used["fjord"] == clock.now()


def test_due_revisions_are_read_once_and_tokens_are_not_looked_up_again(
    db: Database, clock: FakeClock, tokens: dict[str, str]
) -> None:
    for name in ("fjord", "berg"):
        assert authenticate(db, tokens[name], now=clock.now()) is not None
    clock.advance(RECHECK)
    statements = Statements(db)
    with pytest.raises(NeedsRead):
        authenticate(db, tokens["fjord"], now=clock.now(), may_read=False)
    assert authenticate(db, tokens["fjord"], now=clock.now()) is not None
    assert authenticate(db, tokens["berg"], now=clock.now(), may_read=False) is not None
    assert statements.token_lookups == 0
    assert sum("FROM settings" in s for s in statements.seen) == 1
