"""The room panel's default time zone is the server's IANA name (from $TZ or /etc/localtime)."""

import os
import subprocess
import sys

import pytest

PRINT_ZONE = "from otj.api.panel import server_time_zone; print(server_time_zone())"


def zone_with(tz: str) -> str:
    """``server_time_zone()`` in a fresh process with ``TZ=tz`` (tzlocal caches per process)."""
    done = subprocess.run(
        [sys.executable, "-c", PRINT_ZONE],
        env={**os.environ, "TZ": tz},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("tz", "zone"), [("America/Sao_Paulo", "America/Sao_Paulo"), (":Asia/Tokyo", "Asia/Tokyo")]
)
def test_the_servers_zone_by_its_iana_name(tz: str, zone: str) -> None:
    assert zone_with(tz) == zone
