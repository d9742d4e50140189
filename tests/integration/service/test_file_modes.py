"""The files otj creates that hold secrets are readable by their owner only: the SQLite database
(with its WAL files) and the secret key file, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from otj.cli import main

CONFIG = """\
gateway:
  call_licenses: 10
  tls_certificate: an-inline-secret-certificate
  tls_private_key: an-inline-secret-key
"""


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: new files 0644
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
def test_database_and_secret_key_are_created_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("OTJ_DATABASE_URL", "OTJ_SECRET_KEY", "OTJ_SECRET_KEY_FILE", "OTJ_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "var"
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    assert main(["config", "apply", str(config), "--data-dir", str(data)]) == 0, capsys.readouterr()
    database = data / "otj.db"
    key = data / "secret.key"
    assert database.exists()
    assert key.exists()  # the inline secret was sealed with it
    assert _mode(database) == 0o600
    assert _mode(key) == 0o600
    assert _mode(data) == 0o700
    for extra in data.glob("otj.db-*"):  # WAL and shared memory, while open
        assert _mode(extra) == 0o600, extra
