"""baresip as a real user agent through the gateway, over TCP and over TLS, with audio flowing.

The room endpoint (baresip A) sends its call to the gateway as outbound proxy; the gateway
finds the Pexip Service stand-in (baresip B, auto-answer) by RFC 3263 DNS and, for TLS,
verifies B's certificate against the URI domain ``google.pexip.me``. A plays a 440 Hz tone
from a WAV file; B records what it decodes, and the test finds the tone in B's recording.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from guestjoin.proxy import ProxyOptions
from otj.model import CallRoutingRule, GatewaySettings
from otj.secret import Secret

from .dns_server import ZoneServer, meet_zone
from .peers import Baresip, running_gateway, tone_frequency, write_tone
from .pki import ScratchCA

pytestmark = [pytest.mark.peer, pytest.mark.slow]

MEET = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_baresip_call_through_the_gateway_with_audio(
    zone: ZoneServer, tmp_path: Path, transport: str
) -> None:
    ca = ScratchCA()
    ca_file = ca.write(tmp_path)
    gateway_cert = ca.issue("127.0.0.1", "localhost")
    settings = GatewaySettings(
        dns_servers=(zone.address,),
        tls_certificate=Secret(gateway_cert.cert.decode()),
        tls_private_key=Secret(gateway_cert.key.decode()),
    )
    # over TLS the far end hangs up first: its BYE must travel back over the room's own
    # TLS connection to the gateway (the room's Contact is not reachable for a new one)
    options = GatewayOptions(
        reload_interval=0,
        tls_ca_file=str(ca_file),
        proxy=ProxyOptions(failover_timeout=3.0, lobby_window=1.0),
    )
    async with running_gateway(GatewayConfig(rules=(MEET,), settings=settings), options) as gw:
        dump = tmp_path / "far-dump"
        dump.mkdir()
        far_cert = ca.issue("google.pexip.me").write(tmp_path, "far")
        far = await Baresip(
            tmp_path / "far",
            "<sip:abc-defg-hij@google.pexip.me>;regint=0;answermode=auto",
            config=[
                f"sip_certificate {far_cert}",
                f"sip_cafile {ca_file}",
                "module sndfile.so",
                f"snd_path {dump}",
            ],
            quit_after=5 if transport == "tls" else 12,
        ).start()
        await far.listening(tls=transport == "tls")
        far_port = far.port + 1 if transport == "tls" else far.port
        zone.set_zone(meet_zone([("127.0.0.1", far_port)], transport=transport))
        gw_port = gw.tls_port if transport == "tls" else gw.tcp_port
        tone = write_tone(tmp_path / "tone.wav", seconds=30)
        room = await Baresip(
            tmp_path / "room",
            f'<sip:room@127.0.0.1>;regint=0;outbound="sip:127.0.0.1:{gw_port};'
            f'transport={transport}"',
            config=[f"audio_source aufile,{tone}", f"sip_cafile {ca_file}"],
            # baresip 1.0 cannot dial sips: URIs; the DNS records offer only TLS for the far leg
            commands=["/dial sip:abc-defg-hij@google.pexip.me"],
            quit_after=12 if transport == "tls" else 5,
        ).start()
        if transport == "tls":
            # the far end hangs up first: its BYE reaches the room over the room's own TLS
            # connection to the gateway, and the room (still running) reports the call closed
            call = await gw.ended()
            await room.output_contains("terminated (duration:", timeout=4)
            room_result = await room.stop()
            duration = int(room_result.output.split("terminated (duration: ")[1].split()[0])
            assert duration <= 7, room_result.output[-2000:]  # ended by the BYE, not at quit
        else:
            room_result = await room.wait()
            call = await gw.ended()
        far_result = await far.stop()
        detail = f"\nroom:\n{room_result.output[-2500:]}\nfar:\n{far_result.output[-2500:]}"
        assert call.cause == "completed", f"{call}{detail}"
        hung_up = "far end hung up" if transport == "tls" else "caller hung up"
        assert call.detail.startswith(hung_up), call.detail
        assert call.transport == transport
        assert call.target == f"{transport}:127.0.0.1:{far_port} (google.pexip.me)"
        assert call.answer_at is not None
        recordings = sorted(dump.glob("*-dec.wav"))
        assert recordings, f"the far end recorded nothing{detail}"
        hz, samples = tone_frequency(recordings[-1])
        assert samples > 8000, f"less than a second of audio reached the far end{detail}"
        assert 400 < hz < 480, f"the far end did not hear the 440 Hz tone ({hz:.0f} Hz){detail}"


async def test_tls_far_end_with_a_wrong_certificate_is_refused(
    zone: ZoneServer, tmp_path: Path
) -> None:
    """The far end's certificate names another domain: no call is placed to it."""
    ca = ScratchCA()
    ca_file = ca.write(tmp_path)
    options = GatewayOptions(
        reload_interval=0, tls_ca_file=str(ca_file), proxy=ProxyOptions(failover_timeout=3.0)
    )
    config = GatewayConfig(rules=(MEET,), settings=GatewaySettings(dns_servers=(zone.address,)))
    async with running_gateway(config, options) as gw:
        wrong = ca.issue("evil.example.com").write(tmp_path, "far")
        far = await Baresip(
            tmp_path / "far",
            "<sip:abc-defg-hij@google.pexip.me>;regint=0;answermode=auto",
            config=[f"sip_certificate {wrong}"],
            quit_after=8,
        ).start()
        await far.listening(tls=True)
        zone.set_zone(meet_zone([("127.0.0.1", far.port + 1)], transport="tls"))
        room = await Baresip(
            tmp_path / "room",
            f'<sip:room@127.0.0.1>;regint=0;outbound="sip:127.0.0.1:{gw.tcp_port};transport=tcp"',
            commands=["/dial sip:abc-defg-hij@google.pexip.me"],
            quit_after=4,
        ).start()
        call = await gw.ended()
        await room.stop()
        await far.stop()
        assert call.answer_at is None
        assert call.final_code is not None
        assert call.final_code >= 500
        assert "tls" in call.target
        assert "CERTIFICATE_VERIFY_FAILED" in call.detail
