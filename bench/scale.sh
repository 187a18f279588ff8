#!/usr/bin/env bash
# Scale figures by simulation (issue 13): one framegate over 1,000 backends served by one
# `frameserver --ports 1000`: RSS per backend, idle health-check CPU, the cost of choosing a
# backend (4 vs 1,000 at the same rate), and how long a DNS change of 1,000 SRV records takes
# to take effect (dnsmasq). Loopback only; needs dnsmasq (scripts/deps.sh test).
#   bench/scale.sh [BUILD_DIR] [--backends N] [--idle-s S] [--rate R] [--load-s S]
# Progress and figures on stderr, the JSON report on stdout. Figures: docs/benchmarks.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then build=$1; shift; fi
exec python3 "$root/bench/scale.py" --build "$build" "$@"
