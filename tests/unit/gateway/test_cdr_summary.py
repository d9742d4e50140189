"""Floods of refused calls become one summary record per source, cause and minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from guestjoin import cdr
from guestjoin.cdr import CallRecord, RejectionSummary

T0 = datetime(2026, 12, 7, 3, 0, 10, tzinfo=UTC)


def refused(
    n: int, *, source: str = "198.51.100.7:5060", cause: str = cdr.NO_ROUTE, at: datetime = T0
) -> CallRecord:
    return CallRecord(
        key=f"k{n}",
        call_id=f"flood-{n}",
        caller_uri="sip:evil@198.51.100.7",
        source_address=source,
        transport="udp",
        dialled_alias=f"{n}@example.com",
        invite_at=at,
        end_at=at,
        final_code=404,
        cause=cause,
        detail="404 No Matching Call Routing Rule",
    )


def test_the_first_calls_pass_and_the_rest_fold_into_one_summary() -> None:
    summary = RejectionSummary(individual=3)
    out = [summary.filter(refused(n, at=T0 + timedelta(seconds=n % 40))) for n in range(1000)]
    assert [c.key for c in out[:3]] == ["k0", "k1", "k2"]
    keys = {c.key for c in out[3:]}
    assert keys == {"summary:2026-12-07T03:00:00+00:00:198.51.100.7:no_route"}
    last = out[-1]
    assert last.is_summary
    assert (last.attempts, last.source_address, last.call_id) == (997, "198.51.100.7", "")
    assert last.dialled_alias == "999@example.com"
    assert last.detail.startswith("997 more refused from 198.51.100.7 this minute; latest: 404")
    assert last.invite_at == T0 + timedelta(seconds=3)  # the first one summarised


def test_sources_causes_and_minutes_are_summarised_apart() -> None:
    summary = RejectionSummary(individual=1)
    a1 = [summary.filter(refused(n)) for n in range(3)]
    b1 = [summary.filter(refused(n, source="[2001:db8::7]:5062")) for n in range(3)]
    c1 = [summary.filter(refused(n, cause=cdr.FORBIDDEN)) for n in range(3)]
    next_minute = [summary.filter(refused(n, at=T0 + timedelta(minutes=1))) for n in range(3)]
    assert b1[-1].source_address == "2001:db8::7"
    assert len({a1[-1].key, b1[-1].key, c1[-1].key, next_minute[-1].key}) == 4
    assert [c.attempts for c in (a1[-1], b1[-1], c1[-1], next_minute[-1])] == [2, 2, 2, 2]
    late = summary.filter(refused(9))  # a straggler of the previous minute joins this one
    assert late.key == next_minute[-1].key
    assert late.attempts == 3


def test_forged_sources_beyond_the_limit_share_one_summary() -> None:
    summary = RejectionSummary(individual=1, max_sources=10)
    out = [summary.filter(refused(n, source=f"203.0.113.{n}:5060")) for n in range(100)]
    assert all(not c.is_summary for c in out[:10])
    assert {c.key for c in out[11:]} == {"summary:2026-12-07T03:00:00+00:00:*:no_route"}
    assert out[-1].attempts == 89


def test_calls_that_were_routed_or_answered_are_never_summarised() -> None:
    summary = RejectionSummary(individual=0)
    routed = CallRecord(
        key="r",
        call_id="r",
        invite_at=T0,
        end_at=T0,
        cause=cdr.UNAVAILABLE,
        target="udp 192.0.2.1:5060",
    )
    live = CallRecord(key="l", call_id="l", invite_at=T0)
    unregistered = CallRecord(
        key="u", call_id="u", invite_at=T0, end_at=T0, cause=cdr.CALL_REJECTED
    )
    for call in (routed, live, unregistered):
        assert summary.filter(call) is call
