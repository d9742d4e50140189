"""Run the otj gateway for the benchmark: one routing rule, DNS from the bench's server, no store.

``python bench/gateway_server.py --port P --dns 127.0.53.53:53`` prints ``ready`` once
listening and serves until SIGTERM. CDRs go to a bounded in-memory recorder (the benchmark
measures the SIP path; Kamailio writes no CDRs either).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from dataclasses import replace

from guestjoin.cdr import MemoryRecorder
from guestjoin.config import GatewayConfig, StaticConfig
from guestjoin.gateway import Gateway, GatewayOptions, run
from otj.commands.gateway import collect_garbage_forever, tune_gc
from otj.model import CallRoutingRule, GatewaySettings, ListenAddress, RtpEngineAddress

RULE = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)


async def serve(
    port: int, dns: str, profile: str | None, stalls: bool = False, rtpengine: str = ""
) -> None:
    engines = (RtpEngineAddress(address=rtpengine),) if rtpengine else ()
    config = GatewayConfig(
        rules=(replace(RULE, media="relay") if rtpengine else RULE,),
        # one sipp source carries every call: no per-source bound (Kamailio has none either)
        settings=GatewaySettings(
            dns_servers=(dns,),
            call_licenses=1_000_000,
            max_calls_per_source=0,
            rtpengines=engines,
        ),
    )
    recorder = MemoryRecorder(keep=200)
    gateway = Gateway(StaticConfig(config), recorder, options=GatewayOptions(reload_interval=0))
    await gateway.start((ListenAddress(transport="udp", address="127.0.0.1", port=port),))
    tune_gc()  # as ``otj gateway`` does
    collector = asyncio.get_running_loop().create_task(collect_garbage_forever())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    monitor = None
    if stalls:
        from stalls import StallMonitor

        monitor = StallMonitor(loop)
        monitor.start()
    print("ready", flush=True)
    await stop.wait()
    if monitor is not None:
        monitor.stop()
        print(monitor.report(), flush=True)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    collector.cancel()
    await gateway.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dns", required=True)
    parser.add_argument("--profile", help="write cProfile stats here")
    parser.add_argument("--stalls", action="store_true", help="report gc pauses and loop lag")
    parser.add_argument("--asyncio", action="store_true", help="the default loop, not uvloop")
    parser.add_argument("--rtpengine", default="", help="relay media through this ng address")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    main = serve(args.port, args.dns, args.profile, args.stalls, args.rtpengine)
    if args.asyncio:
        asyncio.run(main)
    else:
        run(main)
    return 0


if __name__ == "__main__":
    sys.exit(main())
