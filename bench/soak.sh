#!/bin/bash
# Soak: a steady open-loop frame rate through framegate for DURATION seconds while one backend
# after another is killed (SIGKILL) every KILL_EVERY seconds and restarted on the same port
# DOWN_S seconds later. Every frame must still be answered OK (the proxy retries a call that
# died with its backend on another one), and the proxy's memory must not grow.
#
#   bench/soak.sh [BUILD_DIR]                (default: ./build, or $BUILD_DIR)
#
# Prints frames sent, answered, OK, other statuses, lost (sent and never answered), the proxy's
# retries (framegate_frame_retries_total from /metrics), and its RSS after WARMUP_S seconds of
# load ("start") and at the end of the load, with the growth between them.
#
# Environment: DURATION seconds (default 600), RATE frames/s (default 200), BACKENDS (default 4),
# INFER_MS (default 5), KILL_EVERY seconds (default 30), DOWN_S seconds a killed backend stays
# down (default 5), CONNS WebSocket connections (default 20, up to 32 frames in flight each),
# WARMUP_S (default 10).
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
lib_init soak "${1:-}"

duration=${DURATION:-600}
rate=${RATE:-200}
backends=${BACKENDS:-4}
infer_ms=${INFER_MS:-5}
kill_every=${KILL_EVERY:-30}
down_s=${DOWN_S:-5}
conns=${CONNS:-20}
warmup_s=${WARMUP_S:-10}
[ "$backends" -ge 2 ] || lib_die "BACKENDS must be at least 2 (one is always down for a while)"
[ "$duration" -gt "$warmup_s" ] || lib_die "DURATION must be longer than WARMUP_S ($warmup_s s)"

lib_start_servers "$backends" --infer-ms "$infer_ms"
lib_start_proxy

echo "framegate soak: $duration s at $rate frames/s over $conns WebSocket connections, $backends backends" \
	"at --infer-ms $infer_ms, one killed every $kill_every s and restarted $down_s s later"
lib_machine
rss_idle=$(lib_rss_kib "$PROXY_PID")

# RSS once a second, with the seconds since the load started.
t0=$(date +%s)
lib_sample_rss 1 "$work/rss.samples" "$t0"

r=$work/soak.json
lib_bench "$duration" "$r" ws --url "$PROXY_URL" --connections "$conns" --inflight 32 --rate "$rate" \
	--duration "$duration" &
bench=$!
LIB_PIDS+=("$bench")

kills=0
victim=0
next=$kill_every
while [ "$next" -lt "$duration" ] && kill -0 "$bench" 2>/dev/null; do
	while [ $(($(date +%s) - t0)) -lt "$next" ] && kill -0 "$bench" 2>/dev/null; do
		sleep 0.2
	done
	kill -0 "$bench" 2>/dev/null || break
	pid=${SERVER_PIDS[$victim]}
	port=${SERVER_PORTS[$victim]}
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	lib_forget "$pid"
	kills=$((kills + 1))
	echo "  t=$(($(date +%s) - t0))s killed backend $victim (127.0.0.1:$port)"
	sleep "$down_s"
	lib_start_server "$port" "$work/server-$victim.log" --infer-ms "$infer_ms"
	SERVER_PIDS[victim]=$STARTED_PID
	echo "  t=$(($(date +%s) - t0))s restarted backend $victim"
	victim=$(((victim + 1) % backends))
	next=$((next + kill_every))
done
wait "$bench" || lib_die "framebench failed (see above)"
lib_forget "$bench"
retries=$(curl -s --max-time 5 "http://127.0.0.1:$PROXY_PORT/metrics" |
	sed -n 's/^framegate_frame_retries_total \([0-9]*\).*/\1/p')
rss_now=$(lib_rss_kib "$PROXY_PID")
lib_stop "$SAMPLER_PID"

# "start": the first sample at or after WARMUP_S; "end": the last sample within the load.
rss_start=$(awk -v w="$warmup_s" '$1 >= w { print $2; exit }' "$work/rss.samples")
rss_end=$(awk -v d="$duration" '$1 <= d { v = $2 } END { print v }' "$work/rss.samples")
rss_max=$(awk '$2 > m { m = $2 } END { print m }' "$work/rss.samples")

lib_ws_summary "$r"
mib() { awk -v k="$1" 'BEGIN { printf "%.2f MiB", k / 1024 }'; }

echo
printf '%-32s %s\n' "backend kills (and restarts)" "$kills"
printf '%-32s %s\n' "frames sent / answered / OK" "$WS_SENT / $WS_REPLIES / $WS_OK"
printf '%-32s %s\n' "replies not OK" "${WS_NOT_OK:-none}"
printf '%-32s %s\n' "lost (sent, never answered)" "$WS_LOST"
printf '%-32s %s\n' "client connection failures" "$WS_FAILURES"
printf '%-32s %s\n' "proxy retries" "${retries:-?}"
printf '%-32s %s\n' "round trip p50 / p99 / max" "$WS_P50 us / $WS_P99 us / $WS_MAX us"
printf '%-32s %s\n' "proxy RSS idle" "$(mib "$rss_idle")"
printf '%-32s %s\n' "proxy RSS at ${warmup_s} s (start)" "$(mib "$rss_start")"
printf '%-32s %s\n' "proxy RSS at the end" "$(mib "$rss_end")"
printf '%-32s %s\n' "proxy RSS growth start -> end" \
	"$(awk -v a="$rss_start" -v b="$rss_end" 'BEGIN { printf "%+.1f%%", (b - a) * 100 / a }')"
printf '%-32s %s\n' "proxy RSS max / after the load" "$(mib "$rss_max") / $(mib "$rss_now")"
[ -z "$WS_ERRORS" ] || printf '%-32s %s\n' "framebench errors" "$WS_ERRORS"
lost_total=$((WS_SENT - WS_OK))
if [ "$lost_total" -eq 0 ]; then
	echo "result: 0 replies lost"
else
	echo "result: $lost_total frames not answered OK"
fi
