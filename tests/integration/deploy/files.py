"""What the deploy files run, read from the files themselves.

``deploy/Containerfile`` (Containerfile reference: FROM, WORKDIR, COPY, RUN, ENV, ...),
``deploy/compose.yaml`` (Compose specification: services, command, environment, depends_on,
volumes, variable interpolation) and ``deploy/systemd/*.service`` (systemd.unit, systemd.service,
systemd.exec: Exec*, Environment*, specifiers). Only what these files use is understood; anything
else is an error naming the line, so a change to a deploy file fails here until it is tested.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


class DeployFileError(Exception):
    """A deploy file uses something this reader does not understand."""


# --- Containerfile ------------------------------------------------------------------------


@dataclass
class Stage:
    """One FROM ... stage: its steps in order (instruction, argument text)."""

    name: str
    base: str
    steps: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Containerfile:
    """The stages, and the final image's environment and default command."""

    stages: list[Stage]
    env: dict[str, str]
    entrypoint: list[str]
    cmd: list[str]
    volumes: list[str]
    exposed: list[tuple[int, str]]  # (port, protocol)


KNOWN_INSTRUCTIONS = {
    "FROM",
    "WORKDIR",
    "COPY",
    "RUN",
    "ENV",
    "USER",
    "VOLUME",
    "EXPOSE",
    "ENTRYPOINT",
    "CMD",
}


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def _json_or_shell(text: str) -> list[str]:
    if text.startswith("["):
        value = json.loads(text)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DeployFileError(f"expected a JSON array of strings: {text}")
        return list(value)
    return ["/bin/sh", "-c", text]


def read_containerfile(path: Path = DEPLOY / "Containerfile") -> Containerfile:
    """Parse ``path`` into stages and the final image's settings."""
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction not in KNOWN_INSTRUCTIONS:
            raise DeployFileError(f"{path.name}: instruction {instruction} is not understood")
        if instruction == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=parts[0]))
            continue
        if not stages:
            raise DeployFileError(f"{path.name}: {instruction} before FROM")
        stages[-1].steps.append((instruction, rest))
    if not stages:
        raise DeployFileError(f"{path.name}: no FROM")
    final = stages[-1]
    env: dict[str, str] = {}
    entrypoint: list[str] = []
    cmd: list[str] = []
    volumes: list[str] = []
    exposed: list[tuple[int, str]] = []
    for instruction, rest in final.steps:
        if instruction == "ENV":
            env.update(env_items(rest))
        elif instruction == "ENTRYPOINT":
            entrypoint = _json_or_shell(rest)
        elif instruction == "CMD":
            cmd = _json_or_shell(rest)
        elif instruction == "VOLUME":
            volumes += _json_or_shell(rest) if rest.startswith("[") else rest.split()
        elif instruction == "EXPOSE":
            for item in rest.split():
                port, _, protocol = item.partition("/")
                exposed.append((int(port), protocol or "tcp"))
    return Containerfile(stages, env, entrypoint, cmd, volumes, exposed)


def env_items(text: str) -> dict[str, str]:
    """An ENV instruction's ``KEY=VALUE`` pairs."""
    out: dict[str, str] = {}
    for item in shlex.split(text):
        key, sep, value = item.partition("=")
        if not sep:
            raise DeployFileError(f"ENV {text}: use KEY=VALUE")
        out[key] = value
    return out


def run_commands(text: str) -> list[list[str]]:
    """A RUN line's commands: ``a && b && c`` (no other shell syntax is accepted)."""
    tokens = shlex.split(text, posix=True)
    for token in tokens:
        if token in {"||", ";", "|", ">", ">>", "<", "&"} or token.endswith(";"):
            raise DeployFileError(f"RUN {text}: only `&&` between commands is understood")
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token == "&&":
            commands.append([])
        else:
            commands[-1].append(token)
    if any(not c for c in commands):
        raise DeployFileError(f"RUN {text}: empty command")
    return commands


# --- compose.yaml -------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose variable interpolation: ``${X}``, ``${X:-default}``, ``${X:?error}``, ``$$``."""

    def one(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        value = variables.get(name)
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            raise DeployFileError(f"compose: {name} must be set: {arg}")
        if op in (":-", "-") and (value is None or (op == ":-" and not value)):
            return arg
        return value or ""

    return _VARIABLE.sub(one, text)


@dataclass(frozen=True)
class Service:
    """One compose service as it would run."""

    name: str
    image: str
    builds_containerfile: bool
    command: list[str] | None
    entrypoint: list[str] | None
    environment: dict[str, str]
    volumes: list[tuple[str, str]]  # (source beside compose.yaml, path in the container)
    ports: list[tuple[int, str]]  # published (container port, protocol)
    depends_on: dict[str, str]  # service -> condition


def _as_list(value: object, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise DeployFileError(f"compose: {what} must be a string or a list of strings")


def read_compose(
    variables: Mapping[str, str], path: Path = DEPLOY / "compose.yaml"
) -> dict[str, Service]:
    """The services of ``path`` with variables interpolated."""
    data = yaml.safe_load(interpolate(path.read_text(), variables))
    services: dict[str, Service] = {}
    for name, spec in data["services"].items():
        build = spec.get("build")
        builds = isinstance(build, dict) and build.get("dockerfile") == "deploy/Containerfile"
        env = spec.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.partition("=")[::2] for item in env)
        volumes: list[tuple[str, str]] = []
        for volume in spec.get("volumes") or []:
            source, _, rest = str(volume).partition(":")
            volumes.append((source, rest.split(":")[0]))
        ports: list[tuple[int, str]] = []
        for published in spec.get("ports") or []:
            mapping, _, protocol = str(published).partition("/")
            ports.append((int(mapping.rsplit(":", 1)[-1]), protocol or "tcp"))
        depends = spec.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        services[name] = Service(
            name=name,
            image=str(spec.get("image", "")),
            builds_containerfile=builds,
            command=_as_list(spec.get("command"), f"{name}.command"),
            entrypoint=_as_list(spec.get("entrypoint"), f"{name}.entrypoint"),
            environment={str(k): str(v) for k, v in env.items()},
            volumes=volumes,
            ports=ports,
            depends_on={d: str(c.get("condition", "service_started")) for d, c in depends.items()},
        )
    return services


def start_order(services: Mapping[str, Service]) -> list[str]:
    """Service names so that every service comes after those it depends on."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise DeployFileError(f"compose: dependency cycle through {name}")
        visiting.add(name)
        for dependency in services[name].depends_on:
            visit(dependency)
        order.append(name)

    for name in services:
        visit(name)
    return order


# --- systemd units ------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """A unit file's settings: (section, key) -> values in order (keys may repeat)."""

    name: str
    settings: dict[tuple[str, str], list[str]]

    def get(self, section: str, key: str) -> list[str]:
        return self.settings.get((section, key), [])

    def one(self, section: str, key: str, default: str = "") -> str:
        values = self.get(section, key)
        return values[-1] if values else default


def expand_specifiers(text: str, *, instance: str, hostname: str) -> str:
    """systemd specifiers used by the units: ``%i``, ``%I``, ``%H``, ``%%``."""

    def one(match: re.Match[str]) -> str:
        letter = match[1]
        values = {"i": instance, "I": instance, "H": hostname, "%": "%"}
        if letter not in values:
            raise DeployFileError(f"systemd specifier %{letter} is not understood")
        return values[letter]

    return re.sub(r"%(.)", one, text)


def read_unit(path: Path, *, instance: str = "", hostname: str = "host") -> Unit:
    """Parse a unit file, specifiers expanded (for a template, with ``instance``)."""
    settings: dict[tuple[str, str], list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if not sep or not section:
            raise DeployFileError(f"{path.name}: cannot read {line!r}")
        value = expand_specifiers(value.strip(), instance=instance, hostname=hostname)
        settings.setdefault((section, key.strip()), []).append(value)
    name = path.name.replace("@.", f"@{instance}.") if instance else path.name
    return Unit(name, settings)


def exec_line(value: str) -> tuple[list[str], bool]:
    """An Exec*= value as (argv, failure ignored); only the ``-`` prefix is understood."""
    ignore = value.startswith("-")
    value = value.removeprefix("-")
    if value[:1] in "@+!:":
        raise DeployFileError(f"Exec prefix {value[0]!r} is not understood: {value}")
    return shlex.split(value), ignore


def environment_file(text: str) -> dict[str, str]:
    """systemd EnvironmentFile= syntax: ``KEY=VALUE`` lines, ``#``/``;`` comments, quotes."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, _, value = line.partition("=")
        parts = shlex.split(value) if value else [""]
        env[key.strip()] = parts[0] if parts else ""
    return env
