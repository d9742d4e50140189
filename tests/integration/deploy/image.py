"""``deploy/Containerfile`` built without a container engine: each stage's file system is a
directory, COPY copies from the repository (the build context) or an earlier stage, RUN runs
its commands with the stage's paths mapped, and "the image's Python" is one clean virtual
environment. System set-up (packages, users) is the base image's business and is not run;
any other program fails the build until this module knows it.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .files import (
    Containerfile,
    DeployFileError,
    env_items,
    read_containerfile,
    run_commands,
)
from .running import Root, base_env

REPOSITORY = Path(__file__).resolve().parents[3]
# commands a RUN step may hold that concern the base system, not the application
SYSTEM_SETUP = {"apt-get": "system packages", "useradd": "the service user"}
# run with the stage's paths mapped; python, pip and otj are the virtual environment's
RUNNABLE = {"python", "python3", "pip", "otj", "rm", "mkdir"}
# an image-size option: the test reuses this machine's pip cache instead
DROPPED_OPTIONS = {"--no-cache-dir"}


@dataclass
class Image:
    """The built image: its final stage's file system, its Python, what the build did."""

    file: Containerfile
    root: Root
    venv: Path
    steps: list[str] = field(default_factory=list)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of a container: the image's ENV (paths mapped), then ``extra``."""
        return _environment(self.venv, self.root, self.file.env) | (extra or {})

    def default_command(self) -> list[str]:
        """ENTRYPOINT + CMD (exec form)."""
        command = self.file.entrypoint + self.file.cmd
        if command[:2] == ["/bin/sh", "-c"]:
            raise DeployFileError("ENTRYPOINT/CMD in shell form: use the exec (JSON) form")
        return command


def build(work: Path) -> Image:
    """Run the Containerfile's stages under ``work``."""
    file = read_containerfile()
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    for stage in file.stages:
        version = re.search(r"/python:(\d+\.\d+)", stage.base)
        if version is None or version[1] != here:
            pytest.fail(
                f"Containerfile: FROM {stage.base}: the test stands in Python {here} for the "
                "image's; run it with the image's Python version"
            )
    venv = work / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    roots: dict[str, Root] = {}
    image = Image(file, Root(work), venv)
    for stage in file.stages:
        root = Root(work / f"stage-{stage.name}")
        root.base.mkdir()
        roots[stage.name] = root
        image.root = root
        workdir = "/"
        stage_env: dict[str, str] = {}
        for instruction, rest in stage.steps:
            if instruction == "WORKDIR":
                workdir = posixpath.join(workdir, rest)
                Path(root.local(workdir)).mkdir(parents=True, exist_ok=True)
            elif instruction == "COPY":
                _copy(rest, root, workdir, roots)
            elif instruction == "ENV":
                stage_env.update(env_items(rest))
            elif instruction == "RUN":
                env = _environment(venv, root, stage_env)
                for argv in run_commands(rest):
                    image.steps.append(_run(argv, root, workdir, env))
    for volume in file.volumes:
        Path(image.root.local(volume)).mkdir(parents=True, exist_ok=True)
    return image


def _environment(venv: Path, root: Root, values: dict[str, str]) -> dict[str, str]:
    env = base_env({k: root.value(v) for k, v in values.items()})
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


def _copy(rest: str, root: Root, workdir: str, roots: dict[str, Root]) -> None:
    args = rest.split()
    source_root: Root | None = None
    if args[0].startswith("--from="):
        source_root = roots[args.pop(0).removeprefix("--from=")]
    if any(a.startswith("--") for a in args) or len(args) < 2:
        raise DeployFileError(f"COPY {rest}: not understood")
    *sources, dest = args
    target = Path(root.local(posixpath.join(workdir, dest)))
    into_dir = dest.endswith("/") or len(sources) > 1
    for source in sources:
        if "*" in source or "?" in source:
            raise DeployFileError(f"COPY {rest}: wildcards are not understood")
        origin = Path(source_root.local(source)) if source_root else REPOSITORY / source
        if not origin.exists():
            pytest.fail(f"Containerfile: COPY {rest}: {source} does not exist")
        if origin.is_dir():
            shutil.copytree(
                origin, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            destination = target / origin.name if into_dir else target
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, destination)


def _run(argv: list[str], root: Root, workdir: str, env: dict[str, str]) -> str:
    program = argv[0]
    if program in SYSTEM_SETUP:
        return f"not run ({SYSTEM_SETUP[program]}): {' '.join(argv)}"
    if program not in RUNNABLE:
        pytest.fail(
            f"Containerfile: RUN {' '.join(argv)}: {program} is not known to "
            "tests/integration/deploy/image.py; teach it how to run it here"
        )
    local: list[str] = []
    for arg in argv:
        if arg in DROPPED_OPTIONS:
            continue
        local += _expand(root.value(arg), Path(root.local(workdir)))
    result = subprocess.run(
        local,
        cwd=root.local(workdir),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"Containerfile: RUN {' '.join(argv)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return f"ran: {' '.join(argv)}"


def _expand(value: str, cwd: Path) -> list[str]:
    """A shell word with ``*``: the matching paths, sorted (the word itself when none match)."""
    if "*" not in value:
        return [value]
    path = Path(value) if Path(value).is_absolute() else cwd / value
    matches = Path(path.anchor).glob(str(path.relative_to(path.anchor)))
    return sorted(str(m) for m in matches) or [value]
