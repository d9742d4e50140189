""".ci/services-off: CI refuses to run beside a SIP service holding the port, saying which
port, and stops nothing."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / ".ci" / "services-off"


def run(port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), str(port)], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM], ids=["udp", "tcp"])
def test_a_taken_sip_port_fails_the_run_with_a_clear_message(kind: int) -> None:
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            holder.listen()
        port = holder.getsockname()[1]
        result = run(port)
    assert result.returncode == 1, result
    name = "udp" if kind == socket.SOCK_DGRAM else "tcp"
    assert f"SIP port {port} is in use on this machine: {name}" in result.stderr
    assert "stop that service" in result.stderr


def test_a_free_port_passes() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run(port)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
