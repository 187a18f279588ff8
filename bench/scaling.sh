#!/bin/bash
# The original's expected-performance table, measured: 1, 2, 4, 8 and 12 frameservers at
# --infer-ms 17 (a simulated GPU: one frame at a time, 1000/17 = 58.8 frames/s each) behind
# framegate, with enough WebSocket connections to keep every backend's queue non-empty.
#
#   bench/scaling.sh [BUILD_DIR]             (default: ./build, or $BUILD_DIR)
#
# Columns: backends, frames/s through the proxy, speedup over one backend, efficiency =
# frames/s / (N x 1000/17), and the same load sent straight to the backends (framebench grpc)
# for comparison: if "direct" is no better, the proxy is not what limits the scaling.
#
# Environment: DURATION seconds per run (default 10), COUNTS (default "1 2 4 8 12"),
# INFER_MS (default 17), PER_BACKEND calls in flight per backend (default 4), DIRECT (1: also run
# the direct comparison, the default; 0: skip it).
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
lib_init scaling "${1:-}"

duration=${DURATION:-10}
counts=${COUNTS:-1 2 4 8 12}
infer_ms=${INFER_MS:-17}
per_backend=${PER_BACKEND:-4}
direct=${DIRECT:-1}

echo "framegate scaling: frameservers at --infer-ms $infer_ms, $per_backend calls in flight per backend" \
	"($per_backend WebSocket connections x 1), $duration s per run"
lib_machine
printf '\n%8s %10s %8s %10s | %14s %10s %9s\n' backends frames/s speedup efficiency direct_frames/s \
	direct_eff not_ok
base=""
for n in $counts; do
	lib_start_servers "$n" --infer-ms "$infer_ms"
	lib_start_proxy
	ideal=$(awk -v n="$n" -v ms="$infer_ms" 'BEGIN { print n * 1000 / ms }')
	p=$work/proxy-$n.json
	lib_bench "$duration" "$p" ws --url "$PROXY_URL" --connections $((n * per_backend)) --inflight 1 \
		--duration "$duration"
	fps=$(lib_json "$p" '.frames_per_s')
	not_ok=$(lib_json "$p" '([.replies_by_status | to_entries[] | select(.key != "OK") | .value] | add // 0) + .lost')
	[ -n "$base" ] || base=$fps
	d_fps=- d_eff=-
	if [ "$direct" = 1 ]; then
		d=$work/direct-$n.json
		lib_bench "$duration" "$d" grpc --targets "$SERVER_ADDRS" --concurrency "$per_backend" \
			--duration "$duration" --baseline 0
		d_fps=$(lib_json "$d" '.total.frames_per_s' | awk '{ printf "%.1f", $1 }')
		d_eff=$(lib_ratio "$d_fps" "$ideal" '%.3f')
	fi
	printf '%8d %10.1f %8s %10s | %14s %10s %9s\n' "$n" "$fps" "$(lib_ratio "$fps" "$base")" \
		"$(lib_ratio "$fps" "$ideal" '%.3f')" "$d_fps" "$d_eff" "$not_ok"
	lib_stop_proxy
	lib_stop_servers
	: >"$work/proxy.log"
done
echo
echo "efficiency = frames/s / (backends x 1000/$infer_ms); not_ok = replies other than OK plus lost ones."
