"""Gateway benchmark: the otj gateway and Kamailio, same rule, same DNS, same far end, one run.

For each proxy: the highest call rate it sustains with under 0.1 % failed calls and no
retransmissions building up (sipp's INVITE/BYE retransmissions under 0.1 % of calls: a
retransmission means a response took longer than T1 = 500 ms), found by stepping the rate up
and bisecting once; and the INVITE→200 setup latency p50/p99 at 100 calls/s. sipp (UDP) is the
caller and the far end; a dnslib server answers NAPTR/SRV/A for google.pexip.me on
127.0.53.53:53 (Kamailio reads /etc/resolv.conf, so it runs in a private mount namespace with
a resolv.conf naming that server). Everything runs on this machine: read the ratio, not the
absolute numbers. One step is ``gateway_sipp.run_sipp``; the peers' processes are in
``gateway_peers``.

With ``--relay`` an rtpengine (user space, loopback, its own ports) joins the run: the otj
gateway is measured with ``media: direct`` and with ``media: relay``, and Kamailio with its
rtpengine module (bench/gateway_kamailio_relay.cfg) drives the same rtpengine; each call's SDP
then goes through rtpengine (no RTP flows: the figures are the signalling and session cost).
The engine's own CPU per call is reported beside the proxy's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway_peers import (  # noqa: E402
    BENCH,
    engine_sessions,
    free_port,
    process,
    session_cpu,
    start_rtpengine,
)
from gateway_sipp import Step, run_sipp  # noqa: E402

from tests.integration.gateway.dns_server import ZoneServer, meet_zone  # noqa: E402

DNS_HOST = "127.0.53.53"


@dataclass
class Result:
    """The figures of one proxy."""

    name: str
    max_rate: int
    ceiling: bool
    p50: float
    p99: float
    steps: list[Step]
    cpu_ms_per_call: float = float("nan")
    media_cpu_ms_per_call: float = 0.0


class Bench:
    """The shared far end and DNS; one fresh far-end sipp per step (no stale retransmissions)."""

    def __init__(self, workdir: Path, far_port: int, seconds: float) -> None:
        self.workdir = workdir
        self.far_port = far_port
        self.seconds = seconds

    session: int | None = None  # the proxy's session id: its CPU time is accounted per step
    media_session: int | None = None  # rtpengine's (with --relay)

    def step(self, port: int, rate: int, seconds: float, *, rtt: bool = False) -> Step:
        with process(
            [
                "sipp",
                "-sf",
                str(BENCH / "gateway_uas.xml"),
                "-i",
                "127.0.0.1",
                "-p",
                str(self.far_port),
                "-t",
                "u1",
                "-nostdin",
            ],
            cwd=self.workdir,
            port=self.far_port,
            what="far-end",
        ):
            before = session_cpu(self.session)
            media_before = session_cpu(self.media_session)
            step = run_sipp(self.workdir, port, rate, seconds, rtt=rtt)
            step.cpu_seconds = session_cpu(self.session) - before
            step.media_cpu_seconds = session_cpu(self.media_session) - media_before
            return step

    def measure(
        self, name: str, port: int, *, rates: list[int], latency_rate: int, latency_seconds: float
    ) -> Result:
        """Latency at ``latency_rate``, then the rate ramp with one bisection."""
        self.step(port, 20, 1.0)  # warm up: DNS cache, code paths
        latency = self.step(port, latency_rate, latency_seconds, rtt=True)
        print(
            f"  {name}: {latency.describe()}; setup p50={latency.percentile(0.5):.2f} ms "
            f"p99={latency.percentile(0.99):.2f} ms",
            flush=True,
        )
        steps = [latency]
        best = latency_rate if latency.sustained else 0
        failed_at: int | None = None
        for rate in rates:
            if rate <= best:
                continue
            step = self.step(port, rate, self.seconds)
            steps.append(step)
            print(f"  {name}: {step.describe()}", flush=True)
            if step.sustained:
                best = rate
            else:
                failed_at = rate
                break
        if failed_at is not None and best and failed_at - best > 50:
            middle = (best + failed_at) // 2
            step = self.step(port, middle, self.seconds)
            steps.append(step)
            print(f"  {name}: {step.describe()}", flush=True)
            if step.sustained:
                best = middle
        return Result(
            name=name,
            max_rate=best,
            ceiling=failed_at is None,
            p50=latency.percentile(0.5),
            p99=latency.percentile(0.99),
            steps=steps,
            cpu_ms_per_call=latency.cpu_ms_per_call,
            media_cpu_ms_per_call=latency.media_cpu_seconds * 1000 / latency.calls,
        )


def ratio_name(ours: str, theirs: str) -> str:
    """``otj / kamailio``, or ``relay / direct`` when both rows are the otj gateway."""
    return "otj / kamailio" if theirs.startswith("kamailio") else "relay / direct"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each rate step")
    parser.add_argument(
        "--rates",
        default="200,300,400,500,650,800,1000,1300,1600,2000,2500,3000",
        help="rates to step through (calls/s)",
    )
    parser.add_argument("--latency-rate", type=int, default=100)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--kamailio-children", type=int, default=1)
    parser.add_argument("--only", choices=["otj", "kamailio"], help="measure one side only")
    parser.add_argument("--profile", help="cProfile output of the otj gateway")
    parser.add_argument(
        "--stalls", action="store_true", help="gc pauses and loop lag of the otj gateway (its log)"
    )
    parser.add_argument(
        "--dns-host", default=DNS_HOST, help="loopback address for the DNS server (port 53)"
    )
    parser.add_argument(
        "--relay", action="store_true", help="also measure media: relay through rtpengine"
    )
    return parser.parse_args()


def print_engine_sessions(ng_port: int) -> None:
    print(
        f"  rtpengine sessions left: {engine_sessions(ng_port)} (calls an overloaded "
        "step left unfinished end on their timeouts)",
        flush=True,
    )


def measure_otj(args: argparse.Namespace, bench: Bench, mode: str, ng_port: int) -> Result:
    """Start the otj gateway (``bench/gateway_server.py``) and measure it."""
    port = free_port()
    cmd = [
        sys.executable,
        "-P",  # bench/ first on sys.path would shadow packages (bench/calendars.py)
        str(BENCH / "gateway_server.py"),
        "--port",
        str(port),
        "--dns",
        f"{args.dns_host}:53",
    ]
    if mode == "relay":
        cmd += ["--rtpengine", f"127.0.0.1:{ng_port}"]
    if args.profile:
        cmd += ["--profile", args.profile]
    if args.stalls:
        cmd.append("--stalls")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with process(cmd, cwd=bench.workdir, port=port, what="otj-gateway", env=env) as proc:
        bench.session = proc.pid
        result = bench.measure(
            "otj gateway" + (" (media: relay)" if mode == "relay" else ""),
            port,
            rates=args.rate_steps,
            latency_rate=args.latency_rate,
            latency_seconds=args.latency_seconds,
        )
    if mode == "relay":
        print_engine_sessions(ng_port)
    if args.stalls:
        text = (bench.workdir / "otj-gateway.log").read_text(errors="replace")
        for line in text.splitlines():
            if line.startswith(("gc ", "loop lag")):
                print(f"  otj gateway: {line}", flush=True)
    return result


def measure_kamailio(args: argparse.Namespace, bench: Bench, resolv: Path, ng_port: int) -> Result:
    """Start Kamailio (``bench/gateway_kamailio*.cfg``) with the bench's resolver and measure it."""
    port = free_port()
    workdir = bench.workdir
    cfg = workdir / "kamailio.cfg"
    source = "gateway_kamailio_relay.cfg" if args.relay else "gateway_kamailio.cfg"
    cfg.write_text(
        (BENCH / source)
        .read_text()
        .replace("@PORT@", str(port))
        .replace("@CHILDREN@", str(args.kamailio_children))
        .replace("@NG_PORT@", str(ng_port))
    )
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    script = (
        f"mount --bind {resolv} /etc/resolv.conf && exec {kamailio} -f {cfg} "
        f"-DD -E -m 256 -M 16 -Y {workdir} -P {workdir}/kamailio.pid"
    )
    with process(
        ["unshare", "-m", "sh", "-c", script], cwd=workdir, port=port, what="kamailio"
    ) as proc:
        bench.session = proc.pid
        name = f"kamailio (children={args.kamailio_children})"
        result = bench.measure(
            name.replace("kamailio", "kamailio + rtpengine") if args.relay else name,
            port,
            rates=args.rate_steps,
            latency_rate=args.latency_rate,
            latency_seconds=args.latency_seconds,
        )
    if args.relay:
        print_engine_sessions(ng_port)
    return result


def report(args: argparse.Namespace, results: list[Result]) -> None:
    print()
    print("Gateway benchmark (sipp over UDP, same machine; forwarding via RFC 3263 DNS)")
    print(f"{'':34}{'max calls/s':>14}{'setup p50':>12}{'setup p99':>12}{'CPU/call':>12}")
    for res in results:
        rate = f"{'>=' if res.ceiling else ''}{res.max_rate}"
        print(
            f"{res.name:34}{rate:>14}{res.p50:>10.2f}ms{res.p99:>10.2f}ms"
            f"{res.cpu_ms_per_call:>10.2f}ms"
        )
    if args.relay:
        for res in results:
            print(f"{res.name:34}{'rtpengine CPU/call':>38}{res.media_cpu_ms_per_call:>12.2f}ms")
    if len(results) >= 2:
        ours, theirs = results[-2], results[-1]
        print(
            f"{'ratio ' + ratio_name(ours.name, theirs.name):34}"
            f"{ours.max_rate / theirs.max_rate if theirs.max_rate else float('nan'):>14.2f}"
            f"{ours.p50 / theirs.p50 if theirs.p50 else float('nan'):>11.1f}x"
            f"{ours.p99 / theirs.p99 if theirs.p99 else float('nan'):>11.1f}x"
            f"{ours.cpu_ms_per_call / theirs.cpu_ms_per_call:>11.1f}x"
        )
        if theirs.ceiling:
            print("(kamailio's figure is the highest rate tried: the load generator's limit)")
    print(
        f"(latency and CPU per call (all of the proxy's processes) measured at "
        f"{args.latency_rate} calls/s for {args.latency_seconds:.0f} s; "
        f"rate steps of {args.seconds:.0f} s)"
    )


def main() -> int:
    args = arguments()
    for binary in ("sipp", "kamailio", "unshare", "mount"):
        if shutil.which(binary) is None and not Path(f"/usr/sbin/{binary}").exists():
            print(f"{binary} is not installed", file=sys.stderr)
            return 2
    args.rate_steps = [int(r) for r in args.rates.split(",") if r]
    workdir = Path(tempfile.mkdtemp(prefix="otj-gateway-bench-"))
    far_port = free_port()
    zone = ZoneServer(
        meet_zone([("127.0.0.1", far_port)], ttl=3600), address=args.dns_host, port=53
    ).start()
    resolv = workdir / "resolv.conf"
    resolv.write_text(f"nameserver {args.dns_host}\noptions timeout:1 attempts:2\n")
    results: list[Result] = []
    bench = Bench(workdir, far_port, args.seconds)
    print(
        f"far end: sipp UAS on 127.0.0.1:{far_port}; DNS {args.dns_host}:53; work dir {workdir}",
        flush=True,
    )
    engine = contextlib.ExitStack()
    ng_port = free_port()
    try:
        if args.relay:
            rtpengine = engine.enter_context(start_rtpengine(workdir, ng_port))
            bench.media_session = rtpengine.pid
        if args.only in (None, "otj"):
            for mode in ["direct", "relay"] if args.relay else ["direct"]:
                results.append(measure_otj(args, bench, mode, ng_port))
        if args.only in (None, "kamailio"):
            results.append(measure_kamailio(args, bench, resolv, ng_port))
    finally:
        engine.close()
        zone.stop()
    report(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
