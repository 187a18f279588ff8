#!/bin/bash
# Many idle-ish clients: 10,000 concurrent WebSocket connections to framegate, held open, each
# sending one frame per second (open loop at CONNS requests/s over all of them), on --infer-ms 0
# backends.
#
#   bench/connections.sh [BUILD_DIR]         (default: ./build, or $BUILD_DIR)
#
# Prints the proxy's RSS before the clients connect, its peak during the run and after they left,
# how many connections opened, frames sent and answered, replies other than OK, lost replies and
# connection errors. The fd limit is raised to the hard limit (both framebench and framegate need
# one descriptor per connection).
#
# Environment: CONNS (default 10000), DURATION seconds of load after every connection is open
# (default 20), RATE requests/s over all connections (default CONNS: one per connection per
# second), BACKENDS (default 2), CONNECT_TIMEOUT seconds for every connection to open (default 60).
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
lib_init connections "${1:-}"

conns=${CONNS:-10000}
duration=${DURATION:-20}
rate=${RATE:-$conns}
backends=${BACKENDS:-2}
connect_timeout=${CONNECT_TIMEOUT:-60}

hard=$(ulimit -Hn)
need=$((conns + 200))
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
	lib_log "the hard fd limit is $hard, below the $need this run needs; fewer connections will open"
fi
ulimit -n "$hard"

lib_start_servers "$backends" --infer-ms 0
lib_start_proxy --max-connections $((conns + 100))

echo "framegate connections: $conns WebSocket connections, $rate frames/s in all, $duration s," \
	"$backends backend(s) at --infer-ms 0, fd limit $(ulimit -n)"
lib_machine
rss_idle=$(lib_rss_kib "$PROXY_PID")

# Sample the proxy's RSS every 0.2 s while framebench runs; the peak is what matters.
lib_sample_rss 0.2 "$work/rss.samples"

r=$work/conns.json
before=$(lib_cpu_ticks "$PROXY_PID")
servers_before=$(lib_ticks_sum "${SERVER_PIDS[@]}")
start_s=$(date +%s.%N)
lib_bench $((duration + connect_timeout)) "$r" ws --url "$PROXY_URL" --connections "$conns" --inflight 1 \
	--rate "$rate" --duration "$duration" --connect-timeout "$connect_timeout"
end_s=$(date +%s.%N)
after=$(lib_cpu_ticks "$PROXY_PID")
servers_after=$(lib_ticks_sum "${SERVER_PIDS[@]}")
client_cpu=$BENCH_CPU_S
sleep 1 # let the proxy finish closing the connections
rss_after=$(lib_rss_kib "$PROXY_PID")
lib_stop "$SAMPLER_PID"
rss_peak=$(awk '$2 > m { m = $2 } END { print m }' "$work/rss.samples")

opened=$(lib_json "$r" '.connections_open')
fps=$(lib_json "$r" '.frames_per_s')
lib_ws_summary "$r"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

echo
printf '%-34s %s\n' "connections opened" "$opened of $conns (connection errors: $WS_FAILURES)"
printf '%-34s %s\n' "proxy RSS before clients" "$(mib "$rss_idle")"
printf '%-34s %s\n' "proxy RSS peak (0.2 s samples)" "$(mib "$rss_peak")"
printf '%-34s %s\n' "proxy RSS per connection (peak)" \
	"$(awk -v a="$rss_peak" -v b="$rss_idle" -v n="$opened" 'BEGIN { if (n > 0) printf "%.2f KiB", (a - b) / n; else print "-" }')"
printf '%-34s %s\n' "proxy RSS after clients left" "$(mib "$rss_after")"
printf '%-34s %s\n' "frames sent / answered / OK" "$WS_SENT / $WS_REPLIES / $WS_OK"
printf '%-34s %s\n' "replies not OK" "${WS_NOT_OK:-none}"
printf '%-34s %s\n' "lost (sent, never answered)" "$WS_LOST"
printf '%-34s %s\n' "frames/s in the window" "$(printf '%.0f' "$fps")"
printf '%-34s %s\n' "round trip p50 / p99" "$WS_P50 us / $WS_P99 us"
printf '%-34s %s\n' "proxy CPU per frame (incl. connect)" "$(lib_us_per_frame $((after - before)) "$WS_REPLIES") us"
printf '%-34s %s\n' "CPU seconds proxy / client / backends" "$(awk -v p=$((after - before)) \
	-v s=$((servers_after - servers_before)) -v c="$client_cpu" -v hz="$clk_tck" \
	'BEGIN { printf "%.1f / %.1f / %.1f", p / hz, c, s / hz }')"
printf '%-34s %s\n' "wall time (connect + load + drain)" "$(awk -v a="$start_s" -v b="$end_s" 'BEGIN { printf "%.1f s", b - a }')"
[ -z "$WS_ERRORS" ] || printf '%-34s %s\n' "framebench errors" "$WS_ERRORS"
