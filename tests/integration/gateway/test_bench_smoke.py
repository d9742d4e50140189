"""The gateway benchmark runs end to end with a tiny load (both proxies, one short run)."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from .peers import need

pytestmark = [pytest.mark.peer, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


def test_bench_gateway_smoke() -> None:
    for binary in ("sipp", "kamailio", "unshare"):
        need(binary)
    if os.geteuid() != 0:
        pytest.fail("bench/gateway.sh needs root (DNS on port 53, a mount namespace)")
    dns_host = f"127.{random.randrange(60, 250)}.{random.randrange(1, 250)}.53"
    result = subprocess.run(
        [
            str(ROOT / "bench" / "gateway.sh"),
            "--seconds",
            "1",
            "--rates",
            "60",
            "--latency-rate",
            "30",
            "--latency-seconds",
            "1",
            "--dns-host",
            dns_host,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "otj gateway: 30 calls/s: ok=30/30" in out, out
    assert "kamailio (children=1): 30 calls/s: ok=30/30" in out, out
    lines = [
        line for line in out.splitlines() if line.startswith(("otj gateway ", "kamailio ", "ratio"))
    ]
    assert len(lines) == 3, out
    assert "nan" not in lines[0], out
    assert "nan" not in lines[1], out


def test_bench_gateway_relay_smoke() -> None:
    """``--relay``: direct and relayed otj, and Kamailio's rtpengine module, one rtpengine."""
    for binary in ("sipp", "kamailio", "unshare", "rtpengine"):
        need(binary)
    if os.geteuid() != 0:
        pytest.fail("bench/gateway.sh needs root (DNS on port 53, a mount namespace)")
    dns_host = f"127.{random.randrange(60, 250)}.{random.randrange(1, 250)}.53"
    result = subprocess.run(
        [
            str(ROOT / "bench" / "gateway.sh"),
            "--seconds",
            "1",
            "--rates",
            "60",
            "--latency-rate",
            "30",
            "--latency-seconds",
            "1",
            "--dns-host",
            dns_host,
            "--relay",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "otj gateway: 30 calls/s: ok=30/30" in out, out
    assert "otj gateway (media: relay): 30 calls/s: ok=30/30" in out, out
    assert "kamailio + rtpengine (children=1): 30 calls/s: ok=30/30" in out, out
    assert out.count("rtpengine sessions left: 0 ") == 2, out  # every session deleted
    assert "ratio otj / kamailio" in out, out
