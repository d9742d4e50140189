"""Hostile YAML: an alias bomb or a self-referencing alias fails fast with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from otj.config.yamlsrc import MAX_VALUES, YamlError, load_yaml, safe_load


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_the_bomb_is_a_few_hundred_bytes() -> None:
    assert len(billion_laughs()) < 800


@pytest.mark.parametrize("load", [load_yaml, safe_load])
def test_an_alias_bomb_is_refused_at_once(load: object) -> None:
    started = time.monotonic()
    with pytest.raises(YamlError, match="anchors and aliases expand to more than") as caught:
        load(billion_laughs())  # type: ignore[operator]
    assert time.monotonic() - started < 1
    assert "\n" not in str(caught.value)


def test_a_self_referencing_alias_is_refused() -> None:
    with pytest.raises(YamlError, match="refers to the collection that contains it"):
        load_yaml("a: &a\n  b: *a\n")
    with pytest.raises(YamlError, match="refers to the collection that contains it"):
        safe_load("- &l [1, *l]\n")


def test_deep_nesting_is_refused_without_a_traceback() -> None:
    with pytest.raises(YamlError, match="nested too deeply"):
        load_yaml("[" * 100_000 + "]" * 100_000)


def test_ordinary_anchors_and_merge_keys_still_work() -> None:
    text = (
        "defaults: &d {poll_interval: 60, start_buffer: 5}\n"
        "profiles:\n"
        "  - {<<: *d, name: A}\n"
        "  - {<<: *d, name: B, poll_interval: 30}\n"
        "same: [*d, *d]\n"
    )
    located, problems = load_yaml(text)
    assert problems == []
    assert located.data["profiles"][1] == {"poll_interval": 30, "start_buffer": 5, "name": "B"}
    assert located.line(("profiles", 1)) == 4


def test_the_budget_is_the_expanded_size() -> None:
    wide = "base: &b [" + ", ".join(["1"] * 999) + "]\nuse: [" + ", ".join(["*b"] * 97) + "]\n"
    assert load_yaml(wide)[0].data["use"][96][998] == 1  # ~99,000 values: within
    over = wide.replace("use: [", "use: [*b, *b, ")
    assert MAX_VALUES < 1 + 2 + 1000 + 1 + (97 + 2) * 1000  # document, keys, base, use
    with pytest.raises(YamlError):
        load_yaml(over)


@pytest.mark.parametrize(
    "command",
    [["config", "apply", "--check"], ["rules", "validate"], ["calendars", "read"]],
    ids=["config apply", "rules validate", "calendars read"],
)
def test_the_cli_fails_fast_with_one_line(tmp_path: Path, command: list[str]) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs(), encoding="utf-8")
    args = [*command, str(bomb)]
    if command[0] == "calendars":
        args += ["--integration", "x", "--room", "r@example.com"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTJ_")}
    env["OTJ_DATA_DIR"] = str(tmp_path / "var")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "otj", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "anchors and aliases expand to more than" in done.stderr + done.stdout
    assert elapsed < 10, f"{elapsed:.1f} s (the interpreter's start-up included)"
