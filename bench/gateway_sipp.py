"""One sipp step of the gateway benchmark: ``rate * seconds`` calls (UDP) through a proxy,
their outcome, retransmissions and INVITE→200 setup times (RFC 3261 §17.1.1 T1 = 500 ms)."""

from __future__ import annotations

import csv
import shutil
import signal
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from gateway_peers import BENCH, free_port


@dataclass
class Step:
    """One sipp run at one rate."""

    rate: int
    calls: int
    ok: int
    failed: int
    retrans: int
    rtts: list[float]
    retrans_per_second: list[int]
    cpu_seconds: float = float("nan")
    media_cpu_seconds: float = 0.0  # rtpengine's, with --relay

    @property
    def cpu_ms_per_call(self) -> float:
        """CPU time the proxy (all its processes) spent per call in this step."""
        return self.cpu_seconds * 1000 / self.calls if self.calls else float("nan")

    @property
    def growing(self) -> bool:
        """Retransmissions pile up: more in the last third of the run than in the first."""
        periods = self.retrans_per_second
        if self.retrans <= max(2, self.calls // 1000):
            return False
        third = max(1, len(periods) // 3)
        return sum(periods[-third:]) > max(2, sum(periods[:third]))

    @property
    def sustained(self) -> bool:
        """Every call finished, under 0.1 % failed, retransmissions not building up."""
        done = self.ok + self.failed >= self.calls
        return done and self.failed / self.calls < 0.001 and not self.growing

    def describe(self) -> str:
        verdict = "sustained" if self.sustained else "NOT sustained"
        return (
            f"{self.rate} calls/s: ok={self.ok}/{self.calls} failed={self.failed} "
            f"retrans={self.retrans}{' (growing)' if self.growing else ''} -> {verdict}"
        )

    def percentile(self, q: float) -> float:
        if not self.rtts:
            return float("nan")
        ordered = sorted(self.rtts)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def pcap_setup_times(path: Path, uac_port: int) -> list[float]:
    """INVITE → 200 (INVITE) times in ms per Call-ID, from kernel timestamps (tcpdump on lo)."""
    data = path.read_bytes() if path.exists() else b""
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    link = {1: 14, 113: 16, 276: 20}.get(linktype, 14)
    invites: dict[bytes, float] = {}
    out: list[float] = []
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[offset : offset + 16])
        packet = data[offset + 16 : offset + 16 + incl]
        offset += 16 + incl
        when = sec + frac / (1e9 if nano else 1e6)
        ip = packet[link:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        udp = ip[(ip[0] & 0x0F) * 4 :]
        src, dst = struct.unpack("!HH", udp[:4])
        payload = udp[8:]
        call_id = _call_id(payload)
        if call_id is None:
            continue
        if src == uac_port and payload.startswith(b"INVITE "):
            invites.setdefault(call_id, when)
        elif dst == uac_port and payload.startswith(b"SIP/2.0 200") and b" INVITE\r\n" in payload:
            begun = invites.pop(call_id, None)
            if begun is not None:
                out.append((when - begun) * 1000)
    return out


def _call_id(payload: bytes) -> bytes | None:
    at = payload.find(b"\r\nCall-ID:")
    if at < 0:
        return None
    end = payload.find(b"\r\n", at + 2)
    return payload[at + 10 : end].strip() if end > 0 else None


def run_sipp(workdir: Path, target: int, rate: int, seconds: float, *, rtt: bool) -> Step:
    """Place ``rate * seconds`` calls at ``rate`` calls/s through the proxy on ``target``.

    With ``rtt`` the setup times come from a tcpdump capture of the caller's port (kernel
    timestamps) when tcpdump is installed, else from sipp's response-time trace (whose clock
    ticks in milliseconds).
    """
    calls = max(1, int(rate * seconds))
    run = workdir / f"uac-{target}-{rate}-{time.monotonic_ns()}"
    run.mkdir()
    uac_port = free_port()
    capture = None
    if rtt and shutil.which("tcpdump"):
        capture = subprocess.Popen(
            [
                "tcpdump",
                "-i",
                "lo",
                "-n",
                "-s",
                "700",
                "-U",
                "-w",
                str(run / "setup.pcap"),
                "udp",
                "and",
                "port",
                str(uac_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert capture.stderr is not None
        capture.stderr.readline()  # "listening on lo, ..." once the capture runs
    args = [
        "sipp",
        "-sf",
        str(BENCH / "gateway_uac.xml"),
        "-i",
        "127.0.0.1",
        "-p",
        str(uac_port),
        "-s",
        "abc-defg-hij",
        "-r",
        str(rate),
        "-m",
        str(calls),
        "-t",
        "u1",
        "-nostdin",
        "-trace_stat",
        "-stf",
        str(run / "stat.csv"),
        "-fd",
        "1",
        "-trace_err",
        "-timeout",
        f"{int(seconds + 30)}s",
        "-max_socket",
        "100",
        f"127.0.0.1:{target}",
    ]
    if rtt and capture is None:
        args[1:1] = ["-trace_rtt", "-rtt_freq", "1"]
    uac = subprocess.Popen(args, cwd=run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        uac.wait(seconds + 60)
    except subprocess.TimeoutExpired:  # an overloaded run that does not wind down: a failure
        uac.kill()
        uac.wait()
    if capture is not None:
        time.sleep(0.2)
        capture.send_signal(signal.SIGINT)
        capture.wait(10)
    ok = failed = retrans = 0
    with (run / "stat.csv").open() as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    per_second = [int(r.get("Retransmissions(P)", 0) or 0) for r in rows]
    if rows:
        last = rows[-1]
        ok = int(last.get("SuccessfulCall(C)", 0) or 0)
        failed = int(last.get("FailedCall(C)", 0) or 0)
        retrans = int(last.get("Retransmissions(C)", 0) or 0)
    rtts: list[float] = []
    if capture is not None:
        rtts = pcap_setup_times(run / "setup.pcap", uac_port)
    else:
        for path in run.glob("*_rtt.csv"):
            with path.open() as fh:
                for row in csv.reader(fh, delimiter=";"):
                    if len(row) >= 2 and row[1].replace(".", "", 1).isdigit():
                        rtts.append(float(row[1]))
    return Step(
        rate=rate,
        calls=calls,
        ok=ok,
        failed=failed,
        retrans=retrans,
        rtts=rtts,
        retrans_per_second=per_second,
    )
