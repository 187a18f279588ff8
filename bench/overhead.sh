#!/bin/bash
# What the proxy costs: the same Render load straight to --infer-ms 0 backends (framebench grpc)
# and through framegate (framebench ws), at 1 and 100 connections (1 call in flight each).
#
#   bench/overhead.sh [BUILD_DIR]            (default: ./build, or $BUILD_DIR)
#
# Prints, per connection count: frames/s direct and through the proxy, round-trip latency p50/p99
# of both (the difference is the added latency), the proxy's own time from the reply header
# (total_us - grpc_us, medians), and CPU microseconds per frame of the proxy (utime + stime from
# /proc/PID/stat over the run, divided by the replies it sent), of framebench and of the backends.
# Direct and proxied runs alternate REPEATS times; every figure is the median over the repeats
# (a noisy 2-core machine moves single runs by 2x).
#
# Environment: DURATION seconds per run (default 5), REPEATS (default 3), CONNS (default "1 100"),
# BACKENDS (default 1; with more, the direct run puts CONNS/BACKENDS calls on each), INPUT_BYTES
# (default 100; the replies are the frameserver's default 128x64 rgb24 = 24 KiB), PROXY_FLAGS
# (extra framegate flags).
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
lib_init overhead "${1:-}"

duration=${DURATION:-5}
repeats=${REPEATS:-3}
conns_list=${CONNS:-1 100}
backends=${BACKENDS:-1}
input_bytes=${INPUT_BYTES:-100}

lib_start_servers "$backends" --infer-ms 0
# shellcheck disable=SC2086
lib_start_proxy ${PROXY_FLAGS:-}

echo "framegate overhead: $backends backend(s) at --infer-ms 0, $input_bytes-byte requests," \
	"24 KiB replies, $duration s per run, median of $repeats runs"
lib_machine
# Warm up both paths (connections, allocator, page cache) before measuring.
lib_bench 2 "$work/warm-direct.json" grpc --targets "$SERVER_ADDRS" --concurrency 4 --duration 1 \
	--baseline 0 --input-bytes "$input_bytes"
lib_bench 2 "$work/warm-proxy.json" ws --url "$PROXY_URL" --connections 4 --duration 1 \
	--input-bytes "$input_bytes"

# keep NAME VALUE: appends VALUE to the list NAME of this connection count.
keep() { echo "$2" >>"$work/m-$conns-$1"; }
med() { lib_median "$work/m-$conns-$1" | awk '{ printf ($1 ~ /^[0-9.]+$/ ? "%.1f" : "%s"), $1 }'; }

# One direct and one proxied run; records their figures.
run_pair() {
	local per_server=$(((conns + backends - 1) / backends)) d=$work/direct-$conns-$1.json
	local p=$work/proxy-$conns-$1.json s0 s1 s2 before after
	s0=$(lib_ticks_sum "${SERVER_PIDS[@]}")
	lib_bench "$duration" "$d" grpc --targets "$SERVER_ADDRS" --concurrency "$per_server" \
		--duration "$duration" --baseline 0 --input-bytes "$input_bytes"
	local d_client=$BENCH_CPU_S
	s1=$(lib_ticks_sum "${SERVER_PIDS[@]}")
	before=$(lib_cpu_ticks "$PROXY_PID")
	lib_bench "$duration" "$p" ws --url "$PROXY_URL" --connections "$conns" --inflight 1 \
		--duration "$duration" --input-bytes "$input_bytes" --connect-timeout 20
	local p_client=$BENCH_CPU_S
	after=$(lib_cpu_ticks "$PROXY_PID")
	s2=$(lib_ticks_sum "${SERVER_PIDS[@]}")

	local d_calls replies
	d_calls=$(lib_json "$d" '[.total.replies_by_status[]] | add // 0')
	replies=$(lib_json "$p" '.replies')
	keep d_fps "$(lib_json "$d" '.total.frames_per_s')"
	keep d_p50 "$(lib_json "$d" '.total.latency.p50_us')"
	keep d_p99 "$(lib_json "$d" '.total.latency.p99_us')"
	keep d_cli "$(awk -v s="$d_client" -v n="$d_calls" 'BEGIN { printf "%.1f", s * 1e6 / n }')"
	keep d_srv "$(lib_us_per_frame $((s1 - s0)) "$d_calls")"
	keep p_fps "$(lib_json "$p" '.frames_per_s')"
	keep p_p50 "$(lib_json "$p" '.latency.round_trip.p50_us')"
	keep p_p99 "$(lib_json "$p" '.latency.round_trip.p99_us')"
	keep own "$(lib_json "$p" '(.latency.proxy_total.p50_us - .latency.proxy_grpc.p50_us)')"
	keep cpu "$(lib_us_per_frame $((after - before)) "$replies")"
	keep p_cli "$(awk -v s="$p_client" -v n="$replies" 'BEGIN { printf "%.1f", s * 1e6 / n }')"
	keep p_srv "$(lib_us_per_frame $((s2 - s1)) "$replies")"
	keep replies "$replies"
	keep not_ok "$(lib_json "$p" '[.replies_by_status | to_entries[] | select(.key != "OK") | .value] | add // 0')"
	keep lost "$(lib_json "$p" '.lost')"
	# Per-run figures, for judging the spread.
	printf '  run %d, %3d conn(s): direct %6.0f/s p50 %5s us | proxy %6.0f/s p50 %5s us, %5s us CPU/frame\n' \
		"$1" "$conns" "$(tail -n 1 "$work/m-$conns-d_fps")" "$(tail -n 1 "$work/m-$conns-d_p50")" \
		"$(tail -n 1 "$work/m-$conns-p_fps")" "$(tail -n 1 "$work/m-$conns-p_p50")" \
		"$(tail -n 1 "$work/m-$conns-cpu")"
}

for conns in $conns_list; do
	for i in $(seq "$repeats"); do
		run_pair "$i"
	done
done

printf '\n%-5s %-6s %9s %7s %7s %8s | %s\n' conns path frames/s p50_us p99_us own_p50 \
	"CPU us/frame: proxy client backend total"
summary=()
for conns in $conns_list; do
	d_cli=$(med d_cli) d_srv=$(med d_srv) cpu=$(med cpu) p_cli=$(med p_cli) p_srv=$(med p_srv)
	d_fps=$(med d_fps) p_fps=$(med p_fps) d_p50=$(med d_p50) p_p50=$(med p_p50)
	d_p99=$(med d_p99) p_p99=$(med p_p99)
	printf '%-5s %-6s %9.0f %7s %7s %8s | %6s %6s %7s %7.1f\n' "$conns" direct "$d_fps" "$d_p50" "$d_p99" \
		- - "$d_cli" "$d_srv" "$(awk -v a="$d_cli" -v b="$d_srv" 'BEGIN { print a + b }')"
	printf '%-5s %-6s %9.0f %7s %7s %8s | %6s %6s %7s %7.1f\n' "$conns" proxy "$p_fps" "$p_p50" "$p_p99" \
		"$(med own)" "$cpu" "$p_cli" "$p_srv" \
		"$(awk -v a="$cpu" -v b="$p_cli" -v c="$p_srv" 'BEGIN { print a + b + c }')"
	ratio=$(lib_ratio "$p_fps" "$d_fps" | awk '{ printf "%.0f%%", $1 * 100 }')
	added50=$(awk -v a="$p_p50" -v b="$d_p50" 'BEGIN { printf "%+.0f", a - b }')
	added99=$(awk -v a="$p_p99" -v b="$d_p99" 'BEGIN { printf "%+.0f", a - b }')
	total() { paste -sd+ "$work/m-$conns-$1" | bc; }
	summary+=("$conns conn(s): throughput $ratio of direct; added latency p50 $added50 us, p99 $added99 us;\
 proxy CPU $cpu us/frame; replies $(total replies), not OK $(total not_ok), lost $(total lost)")
done
echo
echo "Medians of $repeats runs. p50/p99: round trip at the client; own_p50: the proxy's own time from"
echo "the reply header (total_us - grpc_us); CPU from /proc/PID/stat (proxy, backends) and wait4 (framebench)."
for line in "${summary[@]}"; do
	echo "$line"
done
