"""``otj gateway`` and ``otj calls`` on a real store: configuration applied with ``otj config
apply``, a registered endpoint's call through the gateway process, CDRs read back."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from .dns_server import ZoneServer, meet_zone
from .peers import RUNNING, free_port, scenario, uac, uas

pytestmark = [pytest.mark.peer, pytest.mark.slow]

CONFIG = """
endpoints:
  - name: Oslo Fjord
    group: Oslo rooms
    room_resource_email: fjord@resource.example.com
    type: PULL
    sip_username: fjord
    sip_password: env:OTJ_TEST_SIP_FJORD
endpoint_groups:
  - name: Oslo rooms
    profile: Head office
profiles:
  - name: Head office
call_routing_rules:
  - name: SIP Guest Join to the Pexip Service
    priority: 10
    match_string: '[a-z\\-]{{10,12}}@google\\.pexip\\.me'
sip_proxies: []
gateway:
  listen:
    - {{transport: udp, address: 127.0.0.1, port: {udp}}}
    - {{transport: tcp, address: 127.0.0.1, port: {tcp}}}
  dns_servers: ["{dns}"]
  call_licenses: 10
  max_outbound_kbps: 1500
"""


async def otj(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "otj",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode()


async def test_gateway_command_serves_the_stored_configuration_and_records_calls(
    zone: ZoneServer, tmp_path: Path
) -> None:
    udp, tcp = free_port(), free_port()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(udp=udp, tcp=tcp, dns=zone.address))
    env = {
        **os.environ,
        "OTJ_TEST_SIP_FJORD": "fjord-secret",
        "OTJ_DATABASE_URL": f"sqlite:///{tmp_path / 'otj.db'}",
        "OTJ_DATA_DIR": str(tmp_path / "var"),
    }
    code, out = await otj("config", "apply", str(config), env=env)
    assert code == 0, out
    gateway = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "otj",
        "gateway",
        "--reload",
        "1",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    RUNNING.append(gateway)
    assert gateway.stdout is not None
    banner = ""
    while "call routing rule" not in banner:
        line = await asyncio.wait_for(gateway.stdout.readline(), 30)
        assert line, f"gateway exited: {banner}"
        banner += line.decode()
    assert f"gateway listening on udp 127.0.0.1:{udp}" in banner
    assert "1 call routing rule(s); 10 licences" in banner

    far = await uas(tmp_path, scenario(tmp_path, "uas_lobby_then_bye.xml", lobby="2500"))
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    call = asyncio.create_task(
        uac(
            tmp_path,
            scenario(tmp_path, "uac_far_end_hangs_up.xml"),
            f"127.0.0.1:{udp}",
            caller="fjord",
        )
    )
    # while the call waits in the lobby, `otj calls` shows it live under its meeting code
    live: dict[str, list[dict[str, object]]] = {}
    for _ in range(100):
        code, out = await otj("calls", "--json", "--live", env=env)
        assert code == 0, out
        live = {g["conference"]: g["calls"] for g in json.loads(out)["live"]["conferences"]}
        if live.get("abc-defg-hij") and live["abc-defg-hij"][0]["answer_at"]:
            break
        await asyncio.sleep(0.1)
    assert list(live) == ["abc-defg-hij"]
    assert live["abc-defg-hij"][0]["state"] == "in call"
    (await call).check()
    (
        await uac(
            tmp_path,
            scenario(tmp_path, "uac_fail.xml", code="404"),
            f"127.0.0.1:{udp}",
            service="not-a-meeting",
            domain="example.com",
        )
    ).check()
    recent: list[dict[str, object]] = []
    for _ in range(100):
        code, out = await otj("calls", "--json", env=env)
        recent = json.loads(out)["recent"]
        if len(recent) == 2 and all(c["end_at"] for c in recent):
            break
        await asyncio.sleep(0.1)
    by_cause = {c["cause"]: c for c in recent}
    assert set(by_cause) == {"not_admitted", "no_route"}
    lobby = by_cause["not_admitted"]
    assert lobby["conference"] == "abc-defg-hij"
    assert lobby["rule"] == "SIP Guest Join to the Pexip Service"
    assert lobby["final_code"] == 200
    assert by_cause["no_route"]["final_code"] == 404
    code, text = await otj("calls", env=env)
    assert "Live calls: 0" in text
    assert "not_admitted" in text
    assert "404 no_route" in text
    (await far.wait()).check()
    gateway.terminate()
    rest = await asyncio.wait_for(gateway.communicate(), 20)
    assert gateway.returncode == 0, rest[0].decode()[-2000:]
