"""The deploy files run as written: ``deploy/Containerfile`` builds (a wheel installed into a
clean virtual environment) and its default command serves; the compose file's and the systemd
units' commands run against PostgreSQL, answer, and stop cleanly on their stop signal.

The commands are read from the files (tests/integration/deploy/files.py), so a change there is
what runs here; the database service of the compose file is the test's PostgreSQL.
"""

from __future__ import annotations

import shlex
import signal
import socket
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from .files import (
    DEPLOY,
    DeployFileError,
    environment_file,
    exec_line,
    interpolate,
    read_compose,
    read_containerfile,
    read_unit,
    run_commands,
    start_order,
)
from .image import Image
from .running import (
    Daemon,
    Process,
    Root,
    on_loopback,
    run_estate,
    run_oneshot,
    subcommand,
    wait_for_any,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(600)]

ROOM = "deploy-room@resource.example.com"
CALENDAR = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//otj//deploy test//EN\r\nEND:VCALENDAR\r\n"


def admin_config(directory: Path) -> str:
    """The administrator's config.yaml: one room on an ICS file, a routing rule, and the
    gateway on loopback ports the kernel picks."""
    calendars = directory / "calendars"
    calendars.mkdir(parents=True, exist_ok=True)
    (calendars / f"{ROOM}.ics").write_text(CALENDAR)
    return textwrap.dedent(
        f"""\
        profiles:
          - {{name: Rooms, integration: Files, poll_interval: 60}}
        integrations:
          - {{name: Files, type: ics, path_template: "{calendars}/{{room}}.ics"}}
        endpoint_groups:
          - {{name: Panels, profile: Rooms}}
        endpoints:
          - {{name: Deploy room, group: Panels, room_resource_email: {ROOM}, type: PULL}}
        meeting_processing_rules:
          - {{name: Meet, profile: Rooms, priority: 10, meeting_type: googlemeetsipguestjoin}}
        call_routing_rules:
          - name: SIP Guest Join
            priority: 10
            match_string: '[a-z\\-]{{10,12}}@google\\.pexip\\.me'
        gateway:
          listen:
            - {{transport: udp, address: 127.0.0.1, port: 0}}
            - {{transport: tcp, address: 127.0.0.1, port: 0}}
        """
    )


@pytest.fixture(scope="module")
def secret_key(image: Image) -> str:
    """A key for OTJ_SECRET_KEY as the compose file's comment says to make one."""
    key = run_oneshot("otj db keygen", ["otj", "db", "keygen"], image.env(), image.root.base)
    return key.strip()


def polled(processes: list[Process]) -> None:
    """The room of the configuration was polled by one of the pollers (serve or worker)."""
    wait_for_any(processes, r"poll cycle \d+: 1 polled, 1 ok")


def assert_published(argv: list[str], ports: list[tuple[int, str]]) -> None:
    """A containerised ``serve`` listens on every address, on a published (or exposed) port:
    a container's 127.0.0.1 is unreachable from outside."""
    listen = argv[argv.index("--listen") + 1]
    host, _, port = listen.rpartition(":")
    assert host in ("0.0.0.0", "[::]"), f"{argv}: listens on {host} inside the container"
    assert (int(port), "tcp") in ports, f"{argv}: port {port} is not in {ports}"


def test_the_image_builds_and_its_default_command_serves(image: Image) -> None:
    assert any(step.startswith("ran: python -m pip install") for step in image.steps)
    assert_published(image.default_command(), image.file.exposed)
    argv = on_loopback(image.default_command())
    assert subcommand(argv) == "serve", argv
    data = Path(image.env()["OTJ_DATA_DIR"])
    # the container's default: SQLite and a key file in the volume
    [process] = run_estate([Daemon("Containerfile CMD", argv, image.env(), image.root.base)])
    assert "stopped cleanly" in "".join(process.log), process.output()
    assert (data / "otj.db").is_file()
    assert (data / "secret.key").stat().st_mode & 0o077 == 0


def test_the_compose_services_run_against_postgresql(
    image: Image, secret_key: str, pg_url: str, tmp_path: Path
) -> None:
    project = tmp_path / "project"  # the directory of compose.yaml: config.yaml and .env
    project.mkdir()
    (project / "config.yaml").write_text(admin_config(tmp_path))
    variables = {"OTJ_DB_PASSWORD": "not-used", "OTJ_SECRET_KEY": secret_key}
    services = read_compose(variables)
    services.pop("rtpengine")  # the media relay: run by test_rtpengine_deploy.py
    ours = {n for n, s in services.items() if s.builds_containerfile or s.image == "otj:latest"}
    assert any(services[n].builds_containerfile for n in ours)
    [database] = set(services) - ours
    assert services[database].image.startswith("docker.io/library/postgres:")
    oneshots = {
        dependency
        for service in services.values()
        for dependency, condition in service.depends_on.items()
        if condition == "service_completed_successfully"
    }
    daemons: list[Daemon] = []
    for name in start_order(services):
        if name == database:
            continue
        service = services[name]
        root = Root(
            tmp_path / "containers" / name,
            {target: project / source for source, target in service.volumes},
        )
        for source, _ in service.volumes:
            assert (project / source).exists(), f"{name}: volume {source}"
        url = make_url(service.environment["OTJ_DATABASE_URL"])
        assert (url.drivername, url.host) == ("postgresql+psycopg", database), url
        env = {**service.environment, "OTJ_DATABASE_URL": pg_url}
        container = Image(image.file, root, image.venv)
        for volume in image.file.volumes:
            Path(root.local(volume)).mkdir(parents=True, exist_ok=True)
        argv = (service.entrypoint or image.file.entrypoint) + (service.command or image.file.cmd)
        if subcommand(argv) == "serve":
            assert_published(argv, service.ports)
        argv = on_loopback([root.value(a) for a in argv])
        if name in oneshots:
            run_oneshot(f"compose service {name}", argv, container.env(env), root.base)
        else:
            daemons.append(Daemon(f"compose service {name}", argv, container.env(env), root.base))
    assert {subcommand(d.argv) for d in daemons} == {"serve", "worker", "gateway"}
    run_estate(daemons, while_up=polled)


def test_the_systemd_units_run_against_postgresql(
    image: Image, secret_key: str, pg_url: str, tmp_path: Path
) -> None:
    # /opt/otj is the virtual environment the units' comments install the wheel into
    host = Root(tmp_path / "host", {"/opt/otj": image.venv})
    etc = Path(host.local("/etc/otj"))
    etc.mkdir(parents=True)
    (etc / "config.yaml").write_text(admin_config(tmp_path))
    (etc / "otj.env").write_text(f"OTJ_DATABASE_URL={pg_url}\nOTJ_SECRET_KEY={secret_key}\n")
    (etc / "otj.env").chmod(0o600)
    units = [
        read_unit(path, instance="1" if "@" in path.name else "", hostname=socket.gethostname())
        for path in sorted((DEPLOY / "systemd").glob("*.service"))
    ]
    names = [u.name for u in units]
    # order by After= among these units (otj-serve first: it upgrades the schema)
    units.sort(key=lambda u: sum(n in " ".join(u.get("Unit", "After")) for n in names))
    daemons: list[Daemon] = []
    for unit in units:
        env: dict[str, str] = {}
        for value in unit.get("Service", "EnvironmentFile"):
            env_file = Path(host.local(value.removeprefix("-")))
            if env_file.exists() or not value.startswith("-"):
                env |= environment_file(env_file.read_text())
        for value in unit.get("Service", "Environment"):
            for item in shlex.split(value):
                key, _, setting = item.partition("=")
                env[key] = host.value(setting)
        for state in unit.one("Service", "StateDirectory").split():
            Path(host.local(f"/var/lib/{state}")).mkdir(parents=True, exist_ok=True)
        pre = []
        for value in unit.get("Service", "ExecStartPre"):
            argv, ignore_failure = exec_line(value)
            assert not ignore_failure, value
            pre.append([host.value(a) for a in argv])
        [start] = unit.get("Service", "ExecStart")
        argv = on_loopback([host.value(a) for a in exec_line(start)[0]])
        stop_signal = signal.Signals[unit.one("Service", "KillSignal", "SIGTERM")]
        stop_timeout = float(unit.one("Service", "TimeoutStopSec", "90").removesuffix("s"))
        base = {k: v for k, v in image.env().items() if not k.startswith("OTJ_")}
        daemons.append(
            Daemon(unit.name, argv, base | env, host.base, stop_signal, stop_timeout, tuple(pre))
        )
    assert {subcommand(d.argv) for d in daemons} == {"serve", "worker", "gateway"}
    assert any(subcommand(p) == "config" for d in daemons for p in d.pre)
    run_estate(daemons, while_up=polled)


def test_the_readers_refuse_what_they_do_not_understand(tmp_path: Path) -> None:
    """So that a new instruction, shell construct or specifier fails here until it is run."""
    containerfile = tmp_path / "Containerfile"
    containerfile.write_text("FROM python:3.11\nHEALTHCHECK CMD otj status\n")
    with pytest.raises(DeployFileError, match="HEALTHCHECK"):
        read_containerfile(containerfile)
    with pytest.raises(DeployFileError, match="only `&&`"):
        run_commands("pip install x; otj --version")
    unit = tmp_path / "x.service"
    unit.write_text("[Service]\nExecStart=/opt/otj/bin/otj worker --worker-id %u\n")
    with pytest.raises(DeployFileError, match="%u"):
        read_unit(unit)
    with pytest.raises(DeployFileError, match="Exec prefix"):
        exec_line("+/opt/otj/bin/otj worker")
    with pytest.raises(DeployFileError, match="OTJ_SECRET_KEY must be set"):
        interpolate("${OTJ_SECRET_KEY:?set OTJ_SECRET_KEY}", {})
    assert interpolate("a${X:-b}$$", {}) == "ab$"
