"""The in-process memory of verified tokens (``otj.store.tokens.VerifiedTokens``), pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from otj.store.tokens import Stamp, VerifiedTokens
from otj.store.values import ApiToken

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STAMP: Stamp = ("config_revision=3", "tokens_revision=ab12")
TTL = timedelta(minutes=2)
RECHECK = timedelta(seconds=1)


def record(name: str = "fjord", kind: str = "endpoint") -> ApiToken:
    return ApiToken(
        id=1,
        kind=kind,
        name=name,
        endpoint=name,
        prefix="otj_abcdef",  # type: ignore[arg-type]
        created_at=T0,
    )


def remembered(at: datetime = T0) -> VerifiedTokens:
    tokens = VerifiedTokens(ttl=TTL, recheck=RECHECK)
    tokens.settle("d1", record(), stamp=STAMP, now=at, generation=tokens.generation)
    return tokens


def confirm(tokens: VerifiedTokens, at: datetime, stamp: Stamp = STAMP) -> None:
    """Another token's database read at ``at`` confirms the stamp (a failed one, here)."""
    tokens.settle("other", None, stamp=stamp, now=at, generation=tokens.generation)


@pytest.mark.parametrize(
    ("label", "confirmed_at", "asked_at", "expected"),
    [
        ("just verified", T0, T0, True),
        ("within the recheck interval", T0, T0 + timedelta(milliseconds=999), True),
        ("stamp not confirmed for a second", T0, T0 + RECHECK, False),
        (
            "confirmed again, entry younger than the TTL",
            T0 + TTL - RECHECK,
            T0 + TTL - timedelta(milliseconds=1),
            True,
        ),
        (
            "confirmed again, entry as old as the TTL",
            T0 + TTL - timedelta(milliseconds=500),
            T0 + TTL,
            False,
        ),
        ("clock ran backwards", T0, T0 - timedelta(seconds=1), False),
    ],
)
def test_recall_within_the_ttl_and_the_recheck_interval(
    label: str, confirmed_at: datetime, asked_at: datetime, expected: bool
) -> None:
    tokens = remembered()
    confirm(tokens, confirmed_at)
    assert (tokens.recall("d1", now=asked_at) is not None) is expected, label


def test_nothing_is_recalled_before_a_database_read() -> None:
    assert VerifiedTokens(ttl=TTL, recheck=RECHECK).recall("d1", now=T0) is None


def test_failures_are_never_remembered() -> None:
    tokens = VerifiedTokens(ttl=TTL, recheck=RECHECK)
    tokens.settle("d1", None, stamp=STAMP, now=T0, generation=tokens.generation)
    assert tokens.recall("d1", now=T0) is None
    assert len(tokens) == 0


def test_a_new_stamp_forgets_every_token() -> None:
    tokens = remembered()
    tokens.settle("d2", record("berg"), stamp=STAMP, now=T0, generation=tokens.generation)
    confirm(
        tokens, T0 + timedelta(milliseconds=10), stamp=("config_revision=3", "tokens_revision=cd34")
    )
    assert tokens.recall("d1", now=T0 + timedelta(milliseconds=20)) is None
    assert tokens.recall("d2", now=T0 + timedelta(milliseconds=20)) is None
    assert len(tokens) == 0


def test_forget_wins_over_a_read_that_began_before_it() -> None:
    tokens = VerifiedTokens(ttl=TTL, recheck=RECHECK)
    before_revoke = tokens.generation  # a verification starts reading …
    tokens.forget()  # … a revoke in this process commits and forgets …
    tokens.settle("d1", record(), stamp=STAMP, now=T0, generation=before_revoke)  # … it ends
    assert tokens.recall("d1", now=T0) is None
    tokens.settle("d1", record(), stamp=STAMP, now=T0, generation=tokens.generation)
    assert tokens.recall("d1", now=T0) is not None


def test_forget_after_remembering() -> None:
    tokens = remembered()
    tokens.forget()
    assert tokens.recall("d1", now=T0) is None


def test_the_oldest_entry_makes_room() -> None:
    tokens = VerifiedTokens(ttl=TTL, recheck=RECHECK, size=2)
    for digest in ("d1", "d2", "d3"):
        tokens.settle(digest, record(digest), stamp=STAMP, now=T0, generation=tokens.generation)
    assert len(tokens) == 2
    assert tokens.recall("d1", now=T0) is None
    assert tokens.recall("d3", now=T0) is not None
