#!/usr/bin/env bash
# Gateway benchmark: the otj gateway and Kamailio 5.x routing the same call routing rule via the
# same RFC 3263 DNS server to the same sipp far end, measured in one run (see
# bench/gateway_bench.py for the method). Needs root (a DNS server on 127.0.53.53:53 and a
# private mount namespace so Kamailio's resolver uses it), sipp and kamailio.
#   bench/gateway.sh                      # full run (a few minutes)
#   bench/gateway.sh --seconds 2 --rates 100,200 --latency-seconds 2   # quick smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/gateway_bench.py "$@"
