"""Kamailio as the scale-out edge in front of the gateway (dispatcher → gateway → far end)."""

from __future__ import annotations

from pathlib import Path

import pytest

from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from guestjoin.proxy import ProxyOptions
from otj.model import CallRoutingRule, GatewaySettings

from .dns_server import ZoneServer, meet_zone
from .peers import Kamailio, running_gateway, scenario, uac, uas

pytestmark = [pytest.mark.peer]

MEET = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)


async def test_calls_through_kamailio_dispatcher_to_the_gateway(
    zone: ZoneServer, tmp_path: Path
) -> None:
    config = GatewayConfig(rules=(MEET,), settings=GatewaySettings(dns_servers=(zone.address,)))
    options = GatewayOptions(reload_interval=0, proxy=ProxyOptions(failover_timeout=3.0))
    async with running_gateway(config, options) as gw:
        dispatcher = tmp_path / "dispatcher.list"
        dispatcher.write_text(f"1 sip:{gw.udp} 0 0\n")
        edge = await Kamailio(
            tmp_path / "kamailio", "edge.cfg", {"DISPATCHER_LIST": str(dispatcher)}
        ).start()
        try:
            far = await uas(tmp_path, "uas_answer.xml", calls=2)
            zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
            result = await uac(
                tmp_path, scenario(tmp_path, "uac_call.xml"), f"127.0.0.1:{edge.port}", calls=2
            )
            result.check()
            (await far.wait()).check()
            messages = "\n".join(p.read_text() for p in tmp_path.glob("uas-*/*messages*"))
            # the far end saw both Record-Routes: the gateway's and the edge's
            assert f"Record-Route: <sip:127.0.0.1:{gw.udp.split(':')[1]};transport=udp;lr>" in (
                messages
            )
            assert f"127.0.0.1:{edge.port};lr" in messages
            calls = [c for c in gw.recorder.calls.values() if not c.live]
            assert len(calls) == 2
            assert all(c.cause == "completed" for c in calls)
            assert all(c.source_address == f"127.0.0.1:{edge.port}" for c in calls)
        finally:
            log = await edge.stop()
        assert "ERROR" not in log, log[-3000:]


def test_the_deployment_edge_config_is_valid() -> None:
    import subprocess

    from .peers import free_port, need

    deploy = Path(__file__).resolve().parents[3] / "deploy" / "kamailio"
    port = free_port()  # `kamailio -c` binds nothing, but the check must not assume a port
    result = subprocess.run(
        [
            need("kamailio"),
            "-c",
            "-f",
            str(deploy / "edge.cfg"),
            "-A",
            f'TLS_CONFIG="{deploy / "tls.cfg"}"',
            "-A",
            f'DISPATCHER_LIST="{deploy / "dispatcher.list"}"',
            "-A",
            'EDGE_IP="127.0.0.1"',
            "-A",
            f"SIP_PORT={port}",
            "-A",
            f"SIPS_PORT={port + 1}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
