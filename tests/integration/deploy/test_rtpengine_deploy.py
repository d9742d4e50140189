"""The media relay as deploy/ runs it: the systemd unit's ExecStart and the compose service's
command, with deploy/rtpengine/rtpengine.conf as written except its addresses and ports (moved
to loopback and to ports free here), start rtpengine in user-space mode and answer an ng ping
and an offer that names the inside and outside interfaces."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from guestjoin.media.client import NgClient
from guestjoin.media.commands import offer

from ..gateway.peers import free_port
from .files import DEPLOY, exec_line, read_compose, read_unit
from .running import Process

pytestmark = [pytest.mark.peer, pytest.mark.timeout(60)]

CONF = DEPLOY / "rtpengine" / "rtpengine.conf"


def local_conf(directory: Path, ng_port: int) -> Path:
    """The deploy config with loopback interfaces, a free ng port and a small port range."""
    text = CONF.read_text()
    assert re.search(r"^interface = inside/\S+;outside/\S+$", text, re.MULTILINE), text
    assert re.search(r"^listen-ng = 127\.0\.0\.1:2223$", text, re.MULTILINE), text
    assert re.search(r"^table = -1$", text, re.MULTILINE), text
    text = re.sub(
        r"^interface = .*$",
        "interface = inside/127.0.0.1;outside/127.0.0.2",
        text,
        flags=re.MULTILINE,
    )
    text = text.replace("listen-ng = 127.0.0.1:2223", f"listen-ng = 127.0.0.1:{ng_port}")
    base = 20_000 + ng_port % 20_000
    text = re.sub(r"^port-min = \d+$", f"port-min = {base}", text, flags=re.MULTILINE)
    text = re.sub(r"^port-max = \d+$", f"port-max = {base + 99}", text, flags=re.MULTILINE)
    path = directory / "rtpengine.conf"
    path.write_text(text)
    return path


async def answers(ng_port: int) -> str:
    client = NgClient("127.0.0.1", ng_port, interval=0.2, tries=1)
    try:
        for _ in range(50):
            try:
                await client.call({"command": "ping"})
                break
            except Exception:
                await asyncio.sleep(0.1)
        sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        sdp += "m=audio 40000 RTP/AVP 0\r\n"
        reply = await client.call(offer(call_id="deploy", from_tag="a", sdp=sdp))
        await client.call({"command": "delete", "call-id": "deploy", "from-tag": "a"})
        return reply.sdp
    finally:
        client.close()


@pytest.mark.parametrize("origin", ["systemd", "compose"])
def test_rtpengine_runs_as_deployed(origin: str, tmp_path: Path) -> None:
    ng_port = free_port()
    conf = local_conf(tmp_path, ng_port)
    if origin == "systemd":
        unit = read_unit(DEPLOY / "rtpengine" / "otj-rtpengine.service")
        [start] = unit.get("Service", "ExecStart")
        argv = exec_line(start)[0]
        assert argv[0] == "/usr/bin/rtpengine"
        argv = [a.replace("/etc/otj/rtpengine.conf", str(conf)) for a in argv]
    else:
        service = read_compose({"OTJ_DB_PASSWORD": "x", "OTJ_SECRET_KEY": "x"})["rtpengine"]
        assert service.volumes == [("./rtpengine/rtpengine.conf", "/etc/rtpengine/rtpengine.conf")]
        assert service.command is not None
        argv = ["/usr/bin/rtpengine"] + [
            a.replace("/etc/rtpengine/rtpengine.conf", str(conf)) for a in service.command
        ]
    process = Process(f"{origin} rtpengine", argv, env={}, cwd=tmp_path)
    try:
        process.wait_for(r"Startup complete", timeout=20)
        offered = asyncio.run(answers(ng_port))
        assert "c=IN IP4 127.0.0.2" in offered  # towards the far end: the outside interface
    finally:
        code = process.stop(15, timeout=10)
    assert code == 0, process.output()
