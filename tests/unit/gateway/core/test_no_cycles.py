"""A finished call leaves no reference cycles behind: its objects are freed by reference
counting, so the gateway never needs the cyclic garbage collector's long full sweeps."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from guestjoin.core.branch import Call
from guestjoin.core.indialog import InDialog
from tests.unit.gateway.core.harness import SDP, Harness, in_dialog, invite


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def calls_in_cycles(garbage: list[object]) -> list[object]:
    return [o for o in garbage if isinstance(o, Call | InDialog)]


def test_a_finished_call_is_freed_without_the_cycle_collector(
    saved_garbage: list[object],
) -> None:
    h = Harness()
    for n in range(3):
        server = h.send(invite(call_id=f"call-{n}", branch=f"z9hG4bK-{n}"))
        assert server is not None
        out = h.far[-1]
        h.respond(out, 180)
        h.respond(out, 200, body=SDP)
        answer = server.final
        assert answer is not None
        h.send(in_dialog("ACK", answer=answer, from_caller=True, branch=h.branch(), cseq=1))
        h.send(in_dialog("INFO", answer=answer, from_caller=True, branch=h.branch(), cseq=2))
        h.respond(h.far[-1], 200)
        h.send(in_dialog("BYE", answer=answer, from_caller=True, branch=h.branch(), cseq=3))
        h.respond(h.far[-1], 200)
    h.advance(60)  # past the time a finished call stays findable
    assert h.core.calls == {}
    h.far.clear()
    h.servers.clear()
    gc.collect()
    assert calls_in_cycles(saved_garbage) == []
    del h
    gc.collect()
    assert calls_in_cycles(saved_garbage) == []
