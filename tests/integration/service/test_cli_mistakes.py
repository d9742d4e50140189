"""Ordinary mistakes on the command line get one clear line and change nothing.

Each case runs ``python -m otj`` as a new administrator would, in a scratch directory, and checks
the exit status, the one-line message and that no traceback is printed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.service.test_serve import Process, otj_env
from tests.shared import EXAMPLE_CONFIG

EXAMPLE = EXAMPLE_CONFIG


def otj(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otj", *args],
        cwd=cwd,
        env=env if env is not None else otj_env(cwd / "var"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error line of a failed command (asserting there is no traceback)."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith(("usage:", " ")) and " INFO " not in line
    ]  # argparse's usage lines and the log's INFO lines aside, one line
    assert len(lines) == 1, result.stderr
    return lines[0]


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.slow
def test_a_port_in_use_is_one_line_with_the_listen_hint_and_creates_nothing(
    tmp_path: Path, taken_port: int
) -> None:
    result = otj("serve", "--listen", f"127.0.0.1:{taken_port}", cwd=tmp_path)
    line = one_line_error(result)
    assert f"127.0.0.1:{taken_port}" in line
    assert "in use" in line
    assert "--listen" in line
    assert not (tmp_path / "var" / "otj.db").exists()  # bound before the store was opened


@pytest.mark.slow
def test_a_bare_port_means_loopback(tmp_path: Path, taken_port: int) -> None:
    line = one_line_error(otj("serve", "--listen", str(taken_port), cwd=tmp_path))
    assert f"127.0.0.1:{taken_port}" in line
    assert "in use" in line


@pytest.mark.parametrize("listen", ["127.0.0.1:99999", "localhost", "8081x", "[::1"])
def test_a_malformed_listen_address_is_refused_by_the_parser(tmp_path: Path, listen: str) -> None:
    line = one_line_error(otj("serve", "--listen", listen, cwd=tmp_path))
    assert "--listen" in line
    assert "HOST:PORT" in line
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "--config", "nosuch.yaml"], "nosuch.yaml: no such file"),
        (["serve", "--config", "."], "is a directory"),
        (["config", "apply", "nosuch.yaml"], "nosuch.yaml: no such file"),
        (["config", "apply", "--check", "nosuch.yaml"], "nosuch.yaml: no such file"),
        (["status", "rooms", "--database", "notaurl"], "cannot use the database URL 'notaurl'"),
        (["status", "rooms", "--database", "mysql://u:pw@h/db"], "unsupported database"),
        (
            ["status", "alarms", "--database", "postgresql+psycopg://u:secret@127.0.0.1:9/x"],
            "cannot use the database postgresql+psycopg://u:***@127.0.0.1:9/x",
        ),
        (["tokens", "list", "--database", "sqlite:////proc/no/such/dir/otj.db"], "/proc/no"),
        (["tokens", "create", "--admin", " "], "a token name is 1 to 100 printable characters"),
        (["worker", "--once", "--threads", "0"], "--threads: must be at least 1, got 0"),
        (["serve", "--timeout", "-5"], "--timeout: must be a number greater than 0, got -5"),
        (["calls", "--limit", "many"], "--limit: expected a whole number, got 'many'"),
        (
            ["calls", "--since", "yesterday"],
            "--since: expected a time such as 2026-12-07T09:00:00Z, got 'yesterday'",
        ),
        (["calls", "--json", "--csv"], "--csv: not allowed with argument --json"),
        (
            ["calendars", "read", "nosuch.yaml", "--integration", "X", "--room", "a@b"],
            "otj calendars read: nosuch.yaml: no such file",
        ),
    ],
)
def test_mistakes_are_one_line_without_traceback(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    line = one_line_error(otj(*args, cwd=tmp_path))
    assert expected in line
    assert "secret" not in line


def test_log_level_in_any_case(tmp_path: Path) -> None:
    result = otj("--log-level", "debug", "status", "alarms", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no alarms"


def test_calendars_read_names_the_url_it_could_not_reach(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        config = tmp_path / "config.yaml"
        config.write_text(
            "integrations:\n  - name: Lab\n    type: caldav\n"
            f"    url: http://reader:pw@127.0.0.1:{port}/dav/\n"
            "    username: reader\n    password: hunter2\n"
        )
        result = otj(
            "calendars", "read", str(config), "--integration", "Lab", "--room", "a@b",
            cwd=tmp_path,
        )  # fmt: skip
    line = one_line_error(result)
    assert line.endswith(f"a@b: CalDAV http://127.0.0.1:{port}/dav/a@b/: connection refused")
    assert "hunter2" not in result.stderr


def test_an_unreadable_configuration_file_is_named(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        config = tmp_path / "config.yaml"
        config.mkdir()  # root reads any file: a directory is the unreadable file here
    else:
        config = tmp_path / "config.yaml"
        config.write_text("profiles: []\n")
        config.chmod(0)
    line = one_line_error(otj("config", "apply", str(config), cwd=tmp_path))
    assert str(config) in line


def test_apply_check_writes_nothing_anywhere(tmp_path: Path) -> None:
    """The example file names ``sqlite:///otj.db``: --check must not create it (or ./var)."""
    config = tmp_path / "config.yaml"
    config.write_text(EXAMPLE.read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTJ_")}
    before = files_under(tmp_path)
    result = otj("config", "apply", "--check", str(config), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "valid"
    assert "Traceback" not in result.stderr
    assert files_under(tmp_path) == before


def test_apply_check_compares_with_the_stored_configuration(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(EXAMPLE.read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTJ_")}
    assert otj("config", "apply", str(config), cwd=tmp_path, env=env).returncode == 0
    before = (tmp_path / "var" / "otj.db").stat().st_mtime_ns
    pruned = tmp_path / "pruned.yaml"
    pruned.write_text("profiles: []\n")
    result = otj("config", "apply", "--check", "--prune", str(pruned), cwd=tmp_path, env=env)
    # the stored endpoints still use the stored profile: pruning it is an error found only
    # by comparing with what is stored
    assert result.returncode == 1, result.stdout + result.stderr
    assert "invalid" in result.stdout
    assert (tmp_path / "var" / "otj.db").stat().st_mtime_ns == before


def test_apply_and_export_use_the_same_database_for_the_same_arguments(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(EXAMPLE.read_text())  # its database: sqlite:///otj.db is only a note
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTJ_")}
    applied = otj("config", "apply", str(config), cwd=tmp_path, env=env)
    assert applied.returncode == 0, applied.stderr
    assert "database: sqlite:///otj.db is not used" in applied.stderr
    assert not (tmp_path / "otj.db").exists()
    exported = yaml.safe_load(otj("config", "export", cwd=tmp_path, env=env).stdout)
    assert [p["name"] for p in exported["profiles"]] == ["Head office"]

    other = tmp_path / "other.db"
    url = f"sqlite:///{other}"
    assert otj("config", "apply", str(config), "--database", url, cwd=tmp_path).returncode == 0
    again = otj("config", "export", "--database", url, cwd=tmp_path, env=env)
    assert yaml.safe_load(again.stdout)["profiles"] == exported["profiles"]


def test_help_says_how_the_database_is_chosen(tmp_path: Path) -> None:
    for command in (["config", "apply", "--help"], ["config", "export", "--help"]):
        text = " ".join(otj(*command, cwd=tmp_path).stdout.split())
        assert "database: key does not choose it" in text
        assert "$OTJ_DATABASE_URL" in text
        assert "--database" in text


@pytest.mark.slow
def test_a_second_serve_on_the_same_data_directory_changes_nothing(tmp_path: Path) -> None:
    env = otj_env(tmp_path / "var")
    first = Process(
        [sys.executable, "-m", "otj", "serve", "--listen", "127.0.0.1:0"], cwd=tmp_path, env=env
    )
    try:
        first.wait_for(r"otj listening on")
        first.wait_for(r"pushed \d+ bookings")
        before = yaml.safe_load(otj("config", "export", cwd=tmp_path).stdout)["endpoints"]
        codecs = {e["name"]: e["api_port"] for e in before if e["type"] == "CISCO"}
        assert len(codecs) == 4

        second = otj("serve", "--listen", "127.0.0.1:0", cwd=tmp_path, timeout=30)
        line = one_line_error(second)
        assert "another worker already uses" in line
        assert "install" not in second.stderr
        assert "demo" not in second.stderr

        after = yaml.safe_load(otj("config", "export", cwd=tmp_path).stdout)["endpoints"]
        assert after == before  # the codecs' addresses were not rewritten
        listed = otj("endpoints", "list", "--json", cwd=tmp_path)
        states = {row["name"]: row for row in yaml.safe_load(listed.stdout)}
        for name in codecs:
            assert states[name]["failures"] == 0, states[name]
        assert first.proc.poll() is None
        assert first.stop(signal.SIGTERM) == 0
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
            first.proc.wait()


def test_db_current_creates_nothing(tmp_path: Path) -> None:
    result = otj("db", "current", cwd=tmp_path)
    assert result.returncode == 1
    expected = (
        f"sqlite:///{tmp_path / 'var' / 'otj.db'}: no database yet (otj db upgrade creates it)"
    )
    assert result.stdout.strip() == expected
    assert not (tmp_path / "var").exists()


def test_a_listen_address_in_the_file_that_is_not_one_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("api:\n  listen: localhost\n")
    line = one_line_error(otj("serve", "--config", str(config), cwd=tmp_path))
    assert "cannot listen on 'localhost'" in line


def test_a_bad_secret_key_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "integrations:\n  - name: Lab\n    type: caldav\n    url: http://127.0.0.1/dav/\n"
        "    username: reader\n    password: inline-secret\n"
    )
    env = otj_env(tmp_path / "var") | {"OTJ_SECRET_KEY": "not-a-key"}
    line = one_line_error(otj("config", "apply", str(config), cwd=tmp_path, env=env))
    assert "not a valid Fernet key" in line
    assert "otj db keygen" in line


@pytest.mark.parametrize(
    "command",
    [
        ["config", "apply"],
        ["config", "apply", "--check"],
        ["serve", "--config"],
        ["rules", "validate"],
    ],
)
def test_a_file_that_is_not_text_is_one_line(tmp_path: Path, command: list[str]) -> None:
    binary = tmp_path / "config.yaml"
    binary.write_bytes(b"profiles: []\n\xd0\x00\xff")
    result = otj(*command, str(binary), cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"{binary}: not UTF-8 text" in result.stderr
