"""The inbound connection table: per-source and total caps, eviction order, timeouts."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from guestjoin.conntrack import ConnectionPolicy, InboundTable, source_key
from otj.cli import main


@dataclass(eq=False)
class Conn:
    name: str
    last_used: float = 0.0


def test_one_source_is_capped_and_others_still_get_in() -> None:
    table: InboundTable[Conn] = InboundTable(ConnectionPolicy(max_per_source=2))
    assert table.admit(Conn("a1"), "192.0.2.1", 0).admitted
    assert table.admit(Conn("a2"), "192.0.2.1", 0).admitted
    refused = table.admit(Conn("a3"), "192.0.2.1", 0)
    assert not refused.admitted
    assert refused.reason == "2 connections from 192.0.2.1"
    assert table.admit(Conn("b1"), "192.0.2.2", 0).admitted
    assert (table.count("192.0.2.1"), len(table)) == (2, 3)


def test_ipv6_sources_are_counted_per_64() -> None:
    assert source_key("2001:db8:1:2:aaaa::1") == source_key("2001:db8:1:2:ffff::9")
    assert source_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    table: InboundTable[Conn] = InboundTable(ConnectionPolicy(max_per_source=1))
    assert table.admit(Conn("x"), "2001:db8::1", 0).admitted
    assert not table.admit(Conn("y"), "2001:db8::2", 0).admitted


def test_when_full_the_oldest_silent_connection_makes_room() -> None:
    table: InboundTable[Conn] = InboundTable(ConnectionPolicy(max_connections=3))
    old, talker, young = Conn("old"), Conn("talker"), Conn("young")
    for n, conn in enumerate((old, talker, young)):
        assert table.admit(conn, f"192.0.2.{n}", n).admitted
    table.proven(talker)
    first = table.admit(Conn("new1"), "198.51.100.1", 5)
    assert first.admitted
    assert first.evicted is old
    for conn in table.connections():
        table.proven(conn)
    refused = table.admit(Conn("new2"), "198.51.100.2", 6)
    assert not refused.admitted
    assert refused.reason == "3 connections in all"


def test_timeouts_close_silent_then_idle_connections() -> None:
    policy = ConnectionPolicy(first_message_timeout=30, idle_timeout=900)
    table: InboundTable[Conn] = InboundTable(policy)
    silent, speaker = Conn("silent", last_used=0), Conn("speaker", last_used=0)
    table.admit(silent, "192.0.2.1", 0)
    table.admit(speaker, "192.0.2.2", 0)
    table.proven(speaker)
    speaker.last_used = 20
    assert table.expired(30) == []
    assert table.expired(31) == [(silent, "no SIP message within 30 s")]
    table.remove(silent)
    assert table.expired(920) == []
    assert table.expired(921) == [(speaker, "idle for more than 900 s")]
    table.remove(speaker)
    table.remove(speaker)  # idempotent
    assert (len(table), table.count("192.0.2.2")) == (0, 0)


@pytest.mark.parametrize(
    "values",
    [{"first_message_timeout": 0}, {"idle_timeout": -1}, {"max_per_source": 0}],
)
def test_policy_refuses_nonsense(values: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"positive|at least 1"):
        ConnectionPolicy(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--idle-timeout", "0"], "--idle-timeout must be a positive number of seconds"),
        (["--tls-handshake-timeout", "-1"], "--tls-handshake-timeout must be a positive"),
        (["--max-connections-per-source", "0"], "--max-connections-per-source must be at least 1"),
    ],
)
def test_the_gateway_command_refuses_nonsense_limits(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gateway", *args]) == 2
    assert message in capsys.readouterr().err
