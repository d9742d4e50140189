"""SIP MESSAGE (RFC 3428) inside a Guest Join dialog is relayed both ways: Meet chat reaches
the room and the room's replies reach Meet."""

from __future__ import annotations

from tests.unit.gateway.core.harness import FAR_A, ROOM, SDP, Harness, in_dialog, invite


def up(h: Harness) -> object:
    h.send(invite())
    h.respond(h.far[0], 200, body=SDP)
    answer = h.servers["z9hG4bK-inv1 INVITE"].final
    assert answer is not None
    h.send(in_dialog("ACK", answer=answer, from_caller=True, branch="z9hG4bK-ack", cseq=1))
    return answer


def test_message_from_the_far_end_reaches_the_room() -> None:
    h = Harness()
    answer = up(h)
    text = b"Welcome to the meeting"
    server = h.send(
        in_dialog(
            "MESSAGE",
            answer=answer,  # type: ignore[arg-type]
            from_caller=False,
            branch="z9hG4bK-msg1",
            cseq=7,
            body=text,
            content_type="text/plain",
        ),
        source=(FAR_A.host, FAR_A.port),
    )
    assert server is not None
    [out] = h.to(h.far[0].target.__class__(transport="udp", host=ROOM[0], port=ROOM[1]), "MESSAGE")
    assert out.request.body == text
    assert out.request.get("Content-Type") == "text/plain"
    assert out.request.top_via.host == "192.0.2.10"
    h.respond(out, 200, tag="room1")
    assert server.statuses == [200]


def test_message_from_the_room_reaches_the_far_end() -> None:
    h = Harness()
    answer = up(h)
    server = h.send(
        in_dialog(
            "MESSAGE",
            answer=answer,  # type: ignore[arg-type]
            from_caller=True,
            branch="z9hG4bK-msg2",
            cseq=2,
            body=b"Hello from Oslo",
            content_type="text/plain",
        )
    )
    assert server is not None
    [out] = h.to(FAR_A, "MESSAGE")
    assert out.request.body == b"Hello from Oslo"
    h.respond(out, 202)
    assert server.statuses == [202]
    assert h.core.live_calls == 1  # a MESSAGE does not end the call
