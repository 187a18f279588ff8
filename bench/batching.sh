#!/bin/bash
# Dynamic batching (issue 11): 4 frameservers at --infer-ms 17 --batch-item-ms 2 (a pass of n
# frames takes 17 + 2(n-1) ms: 8 frames in 31 ms, 4.4x one frame's throughput), 512 frames
# outstanding (64 WebSocket connections x 8), through framegate without batching and with
# --batch-max 8, in one run; then 1 connection with 1 frame in flight, to show that a lone
# frame is not delayed by batching.
#
#   bench/batching.sh [BUILD_DIR]
#
# Environment: DURATION seconds per run (default 10), DEADLINE_MS (default 1000).
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
lib_init batching "${1:-}"

duration=${DURATION:-10}
deadline=${DEADLINE_MS:-1000}
lib_machine
lib_start_servers 4 --infer-ms 17 --batch-item-ms 2

run() { # NAME CONNECTIONS INFLIGHT PROXY-FLAGS...
	local name=$1 conns=$2 inflight=$3
	shift 3
	lib_start_proxy --deadline-ms "$deadline" "$@"
	local j=$work/$name.json
	lib_bench "$duration" "$j" ws --url "$PROXY_URL" --connections "$conns" --inflight "$inflight" \
		--duration "$duration"
	local fps p50 p99 ok late
	fps=$(lib_json "$j" '.frames_per_s')
	ok=$(lib_json "$j" '.replies_by_status.OK // 0')
	p50=$(lib_json "$j" '.latency.round_trip.p50_us')
	p99=$(lib_json "$j" '.latency.round_trip.p99_us')
	late=$(lib_json "$j" '([.replies_by_status | to_entries[] | select(.key != "OK") | .value] | add // 0)')
	sizes=$(curl -s "http://127.0.0.1:$PROXY_PORT/metrics" | awk '/^framegate_batch_size_(sum|count)/ { v[$1] = $2 }
		END { if (v["framegate_batch_size_count"] > 0) printf "%.2f", v["framegate_batch_size_sum"] / v["framegate_batch_size_count"]; else printf "-" }')
	printf '%-22s %10.1f %9s %9s %9s %10s\n' "$name" "$fps" "$p50" "$p99" "$late" "$sizes"
	eval "FPS_$name=$fps"
	lib_stop_proxy
	: >"$work/proxy.log"
}

printf '\n%-22s %10s %9s %9s %9s %10s\n' run frames/s p50_us p99_us not_ok mean_batch
run single_512 64 8
run batch8_512 64 8 --batch-max 8
run single_1x1 1 1
run batch8_1x1 1 1 --batch-max 8
echo
echo "batching speedup at 512 outstanding: $(lib_ratio "$FPS_batch8_512" "$FPS_single_512") (target >= 3.5)"
echo "not_ok: replies other than FRAME (at 512 outstanding: frames shed as overloaded)."
