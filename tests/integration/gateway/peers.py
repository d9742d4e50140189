"""Helpers that run the real SIP peers (sipp, baresip, Kamailio) on free high ports."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from guestjoin.cdr import CallRecord, MemoryRecorder
from guestjoin.clock import Clock
from guestjoin.config import ConfigProvider, GatewayConfig, StaticConfig
from guestjoin.gateway import Gateway, GatewayOptions
from guestjoin.reception.calendar import Calendar
from otj.model import ListenAddress

SCENARIOS = Path(__file__).parent / "scenarios"
RUNNING: list[asyncio.subprocess.Process] = []  # every peer started, stopped after each test


async def stop_all() -> None:
    """Kill and reap the peers a test left running."""
    while RUNNING:
        process = RUNNING.pop()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(process.wait(), 5)


def need(binary: str) -> str:
    """The path of a peer binary; a missing peer FAILS the test (CI installs every peer)."""
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        pytest.fail(f"{binary} is not installed (apt-get install the peers, see .ci/run)")
    return path


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (never 5060)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                if port not in (5060, 5061):
                    return port
    raise RuntimeError("no free port")


def require_free(peer: str, *ports: int) -> None:
    """Fail the test with a clear message when another process holds a port a peer is about
    to listen on (ports are chosen at runtime, so a rerun picks others; nothing is stopped)."""
    for port in ports:
        for kind, name in ((socket.SOCK_DGRAM, "UDP"), (socket.SOCK_STREAM, "TCP")):
            with socket.socket(socket.AF_INET, kind) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError as exc:
                    pytest.fail(
                        f"{peer} cannot listen on 127.0.0.1:{port}: {name} port {port} is taken "
                        f"by another process ({exc.strerror})"
                    )


def _bind_failure(peer: str, port: int, output: str) -> str:
    """The failure text of a peer that exited at start, naming a taken port when it was that."""
    if "Address already in use" in output or "EADDRINUSE" in output:
        return f"{peer} cannot listen on 127.0.0.1:{port}: taken by another process\n{output}"
    return f"{peer} did not start on 127.0.0.1:{port}:\n{output}"


@dataclass
class PeerResult:
    """How a peer process ended, with its logs."""

    returncode: int
    output: str
    logs: str

    def check(self) -> PeerResult:
        """Fail the test with the peer's output when it did not succeed."""
        assert self.returncode == 0, (
            f"peer failed ({self.returncode}):\n{self.output[-3000:]}\n{self.logs[-3000:]}"
        )
        return self


@dataclass
class Sipp:
    """One sipp process (UAC or UAS) with its trace files in ``workdir``."""

    scenario: Path
    port: int
    workdir: Path
    args: Sequence[str] = ()
    process: asyncio.subprocess.Process | None = field(default=None, init=False)

    async def start(self, *, listening: bool = False) -> Sipp:
        """Start sipp; with ``listening`` (a UAS) wait until its port is bound."""
        require_free("sipp", self.port)
        binary = need("sipp")
        self.process = await asyncio.create_subprocess_exec(
            binary,
            "-sf",
            str(self.scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-nostdin",
            "-trace_err",
            "-trace_logs",
            "-trace_msg",
            "-timeout",
            "30s",
            "-timeout_error",
            *self.args,
            cwd=self.workdir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        RUNNING.append(self.process)
        if listening:
            await self._wait_listening()
        return self

    async def _wait_listening(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        assert self.process is not None
        while loop.time() < deadline:
            if self.process.returncode is not None:
                break
            if await _udp_bound(self.port) and await _still_running(self.process):
                return
            await asyncio.sleep(0.02)
        result = await self.wait(5)
        errors = "\n".join(p.read_text(errors="replace") for p in self.workdir.glob("*errors*"))
        pytest.fail(_bind_failure("sipp", self.port, f"{result.output[-2000:]}\n{errors}"))

    async def wait(self, timeout: float = 40) -> PeerResult:
        """Wait for sipp to finish."""
        assert self.process is not None
        try:
            out, _ = await asyncio.wait_for(self.process.communicate(), timeout)
        except TimeoutError:
            self.process.kill()
            out, _ = await self.process.communicate()
        logs = "\n".join(
            p.read_text(errors="replace")
            for p in sorted(self.workdir.glob(f"{self.scenario.stem}_*"))
            if p.suffix == ".log"
        )
        return PeerResult(self.process.returncode or 0, out.decode(errors="replace"), logs)

    def kill(self) -> None:
        """Stop sipp if it still runs."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()


async def _still_running(process: asyncio.subprocess.Process) -> bool:
    """Whether the process is alive a moment after its port became bound (a peer that failed
    to bind exits at once; the port may be someone else's)."""
    await asyncio.sleep(0.2)
    return process.returncode is None


async def _udp_bound(port: int) -> bool:
    """Whether something listens on the port (UDP, or TCP for sipp -t t1)."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return True
    return False


def scenario(workdir: Path, name: str, **replacements: str) -> Path:
    """A scenario file, with ``@KEY@`` placeholders filled in (written into ``workdir``)."""
    text = (SCENARIOS / name).read_text()
    if not replacements:
        return SCENARIOS / name
    for key, value in replacements.items():
        text = text.replace(f"@{key.upper()}@", value)
    suffix = "-".join(v.replace(" ", "_") for v in replacements.values())
    out = workdir / name.replace(".xml", f"-{suffix}.xml")
    out.write_text(text)
    return out


async def uas(
    workdir: Path,
    name: str | Path,
    *,
    calls: int = 1,
    args: Sequence[str] = (),
    port: int | None = None,
) -> Sipp:
    """A sipp UAS (the Pexip Service stand-in) listening on a free port."""
    path = name if isinstance(name, Path) else SCENARIOS / name
    port = port or free_port()
    sub = workdir / f"uas-{port}-{path.stem}"
    sub.mkdir(exist_ok=True)
    return await Sipp(path, port, sub, ("-m", str(calls), *args)).start(listening=True)


async def uac(
    workdir: Path,
    path: Path,
    gateway: str,
    *,
    service: str = "abc-defg-hij",
    domain: str = "google.pexip.me",
    caller: str = "room1",
    calls: int = 1,
    args: Sequence[str] = (),
    transport: str = "u1",
) -> PeerResult:
    """Run a sipp UAC (the room endpoint) against the gateway until it ends."""
    sub = workdir / f"uac-{path.stem}-{free_port()}"
    sub.mkdir()
    sipp = Sipp(
        path,
        free_port(),
        sub,
        (
            "-s",
            service,
            "-key",
            "domain",
            domain,
            "-key",
            "caller",
            caller,
            "-m",
            str(calls),
            "-t",
            transport,
            *args,
            gateway,
        ),
    )
    await sipp.start()
    return await sipp.wait()


class GatewayUnderTest:
    """A gateway in this process, on free ports, with an in-memory recorder."""

    def __init__(
        self,
        config: GatewayConfig,
        options: GatewayOptions,
        clock: Clock | None = None,
        calendar: Calendar | None = None,
    ) -> None:
        self.provider = StaticConfig(config)
        self.recorder = MemoryRecorder()
        self.gateway = Gateway(
            self.provider, self.recorder, options=options, clock=clock, calendar=calendar
        )
        self._events: asyncio.Queue[CallRecord] = asyncio.Queue()
        self.recorder.listeners.append(self._events.put_nowait)

    @property
    def udp(self) -> str:
        return f"127.0.0.1:{self.gateway.listener('udp').port}"

    @property
    def tcp_port(self) -> int:
        return self.gateway.listener("tcp").port

    @property
    def tls_port(self) -> int:
        return self.gateway.listener("tls").port

    def set_config(self, config: GatewayConfig) -> None:
        self.provider.set(config)
        self.gateway.apply(config)

    async def ended(self, call_id_part: str = "", timeout: float = 15) -> CallRecord:
        """Wait until a call whose Call-ID contains ``call_id_part`` has ended."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            done = [
                c for c in self.recorder.calls.values() if call_id_part in c.call_id and not c.live
            ]
            if done:
                return done[-1]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no ended call; records: {list(self.recorder.calls.values())}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._events.get(), remaining)


@contextlib.asynccontextmanager
async def running_gateway(
    config: GatewayConfig,
    options: GatewayOptions,
    *,
    clock: Clock | None = None,
    provider: ConfigProvider | None = None,
    calendar: Calendar | None = None,
) -> AsyncIterator[GatewayUnderTest]:
    """Start a gateway on free ports for UDP, TCP and TLS; stop it afterwards (``provider``:
    read the configuration from there, e.g. a store, instead of ``config``)."""
    gut = GatewayUnderTest(config, options, clock, calendar)
    if provider is not None:
        gut.gateway.provider = provider
    listen = (
        ListenAddress(transport="udp", address="127.0.0.1", port=0),
        ListenAddress(transport="tcp", address="127.0.0.1", port=0),
        ListenAddress(transport="tls", address="127.0.0.1", port=0),
    )
    await gut.gateway.start(listen)
    try:
        yield gut
    finally:
        await gut.gateway.stop()


def free_port_pair() -> int:
    """A port whose successor is free too (baresip listens for TLS on port + 1)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                tcp.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


def write_tone(path: Path, seconds: int = 10, hz: int = 440) -> Path:
    """An 8 kHz mono 16-bit WAV with a sine tone (baresip's aufile source)."""
    import math
    import struct
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / 8000)))
                for i in range(8000 * seconds)
            )
        )
    return path


def tone_frequency(path: Path) -> tuple[float, int]:
    """(dominant frequency by zero crossings over the loud part, loud samples) of a WAV."""
    import struct
    import wave

    with wave.open(str(path), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
        rate = wav.getframerate()
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    loud = [s for s in samples if abs(s) > 0] if samples else []
    start = next((i for i, s in enumerate(samples) if abs(s) > 1000), len(samples))
    part = samples[start:]
    crossings = sum(1 for a, b in itertools.pairwise(part) if a < 0 <= b)
    seconds = len(part) / rate if part else 0
    return (crossings / seconds if seconds else 0.0), len(loud)


@dataclass
class Baresip:
    """A baresip user agent with its own config directory, on 127.0.0.1 only."""

    workdir: Path
    account: str
    port: int = field(default_factory=free_port_pair)
    config: Sequence[str] = ()
    commands: Sequence[str] = ()
    quit_after: int = 10
    process: asyncio.subprocess.Process | None = field(default=None, init=False)
    seen: bytes = field(default=b"", init=False)

    async def start(self) -> Baresip:
        require_free("baresip", self.port, self.port + 1)
        binary = need("baresip")
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "accounts").write_text(self.account + "\n")
        lines = [
            f"sip_listen 127.0.0.1:{self.port}",
            "audio_player aubridge,nil",
            "audio_alert aubridge,nil",
            "module_path /usr/lib/baresip/modules",
            "module g711.so",
            "module aubridge.so",
            "module aufile.so",
            "module account.so",
            "module menu.so",
            *self.config,
        ]
        if not any(line.startswith("audio_source") for line in lines):
            lines.append("audio_source aubridge,nil")
        (self.workdir / "config").write_text("\n".join(lines) + "\n")
        args = [binary, "-f", str(self.workdir), "-n", "127.0.0.1", "-t", str(self.quit_after)]
        for command in self.commands:
            args += ["-e", command]
        self.process = await asyncio.create_subprocess_exec(
            *args,
            cwd=self.workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        RUNNING.append(self.process)
        return self

    async def listening(self, *, tls: bool = False) -> Baresip:
        """Wait until its SIP TCP (and TLS, port + 1) sockets accept connections."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        ports = [self.port, self.port + 1] if tls else [self.port]
        while loop.time() < deadline:
            try:
                for port in ports:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                return self
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError(f"baresip did not listen on {ports}")

    async def output_contains(self, text: str, timeout: float = 10) -> None:
        """Read baresip's output until ``text`` appears (it is kept for ``wait``)."""
        assert self.process is not None
        assert self.process.stdout is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while text not in self.seen.decode(errors="replace"):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"baresip never printed {text!r}:\n{self.seen.decode()}")
            chunk = await asyncio.wait_for(self.process.stdout.read(4096), remaining)
            if not chunk:
                raise AssertionError(f"baresip exited before {text!r}:\n{self.seen.decode()}")
            self.seen += chunk

    async def stop(self) -> PeerResult:
        """Ask baresip to quit (SIGTERM: calls are hung up, recordings closed) and reap it."""
        assert self.process is not None
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
        return await self.wait(10)

    async def wait(self, timeout: float = 40) -> PeerResult:
        assert self.process is not None
        try:
            out, _ = await asyncio.wait_for(self.process.communicate(), timeout)
        except TimeoutError:
            self.process.kill()
            out, _ = await self.process.communicate()
        text = (self.seen + out).decode(errors="replace")
        return PeerResult(self.process.returncode or 0, text, "")


KAMAILIO_DIR = Path(__file__).parent / "kamailio"


@dataclass
class Kamailio:
    """Kamailio with a test config from ``kamailio/``, on its own high port."""

    workdir: Path
    config: str
    replacements: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = field(default=None, init=False)

    async def start(self) -> Kamailio:
        require_free("kamailio", self.port)
        binary = need("kamailio")
        self.workdir.mkdir(parents=True, exist_ok=True)
        text = (KAMAILIO_DIR / self.config).read_text()
        for key, value in {"LISTEN_PORT": str(self.port), **self.replacements}.items():
            text = text.replace(f"@{key}@", value)
        cfg = self.workdir / self.config
        cfg.write_text(text)
        self.process = await asyncio.create_subprocess_exec(
            binary,
            "-f",
            str(cfg),
            "-DD",
            "-E",
            "-m",
            "64",
            "-M",
            "8",
            "-Y",
            str(self.workdir),
            "-P",
            str(self.workdir / "kamailio.pid"),
            cwd=self.workdir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        RUNNING.append(self.process)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while loop.time() < deadline:
            if self.process.returncode is not None:
                break
            if await _udp_bound(self.port) and await _still_running(self.process):
                return self
            await asyncio.sleep(0.05)
        out = await self.stop()
        pytest.fail(_bind_failure("kamailio", self.port, out[-3000:]))

    async def stop(self) -> str:
        """Stop Kamailio and return its log."""
        assert self.process is not None
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
        try:
            out, _ = await asyncio.wait_for(self.process.communicate(), 10)
        except TimeoutError:
            self.process.kill()
            out, _ = await self.process.communicate()
        return out.decode(errors="replace")
