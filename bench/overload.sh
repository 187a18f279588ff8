#!/bin/bash
# Overload (issue 9): what framegate does when more frames are asked for than its pool renders.
#
#   bench/overload.sh [BUILD_DIR]            (default: ./build, or $BUILD_DIR)
#
# Four scenarios, each on fresh frameservers and a fresh proxy at its defaults (PROXY_FLAGS adds
# flags):
#   a  2x overload: 4 backends at --infer-ms 17 (capacity 4 x 1000/17 = 235 frames/s), 64
#      connections x 8 in flight. Frames/s delivered OK against capacity, frames the backends
#      rendered (their own count at exit, over the run and its drain), healthy backends sampled
#      from /health every 0.25 s, shed ratio (ERROR 8 "overloaded"), shed reply p99, accepted
#      p99 against the 1 s deadline.
#   b  uneven pool: 3 backends at 17 ms + 1 at 100 ms (capacity 186.5 frames/s), open loop at
#      LOAD_B (default 0.9) of that capacity over 32 connections: delivered frames/s, accepted p99.
#   c  fairness: a flood (32 connections x 16 in flight) beside a modest client (2 x 1) on the
#      pool of (a): each group's success ratio, accepted p99 and frames/s.
#   d  memory: CLIENTS (default 1000) connections that send PER_CLIENT (default 16) requests each
#      and never read, on 4 backends at --infer-ms 0: the proxy's RSS and the kernel's TCP buffer
#      memory (/proc/net/sockstat, the whole machine's) before and at their peak (0.5 s samples
#      until neither grew for 5 s), and how many connections the proxy kept open. Today a reply
#      the client does not read waits mostly in the proxy's socket send buffer (kernel memory,
#      up to net.ipv4.tcp_wmem's 4 MiB per socket), not in its RSS. PER_CLIENT 64 (the
#      per-connection limit) is the issue's case; 1000 x 64 x 24 KiB = 1.5 GiB reaches the
#      default tcp_mem pressure level, which throttles every socket of a shared machine, hence
#      the smaller default.
#
# Environment: DURATION seconds of load in a, b, c (default 15), SCENARIOS (default "a b c d"),
# LOAD_B, CLIENTS, PER_CLIENT, PROXY_FLAGS, BENCH_KEEP=1 keeps the JSON and logs.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
lib_init overload "${1:-}"
command -v curl >/dev/null || lib_die "curl is missing (apt-get install curl)"

duration=${DURATION:-15}
scenarios=${SCENARIOS:-a b c d}
load_b=${LOAD_B:-0.9}
clients=${CLIENTS:-1000}
per_client=${PER_CLIENT:-16}
ulimit -n "$(ulimit -Hn)"

echo "framegate overload (issue 9): scenarios $scenarios, $duration s of load each," \
	"proxy flags: ${PROXY_FLAGS:-defaults}"
lib_machine

row() { printf '  %-42s %s\n' "$1" "$2"; }
ms() { awk -v u="$1" 'BEGIN { if (u == "" || u == "null") print "-"; else printf "%.1f ms", u / 1000 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f%%", 100 * a / b; else print "-" }'; }

# Frames the stopped frameservers of this scenario rendered ("N frames served" in their logs).
frames_served() {
	cat "$work"/server-*.log | sed -n 's/.*stopped: \([0-9]*\) frames served.*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}

# health_sampler FILE: healthy_count every 0.25 s while the proxy runs (until lib_stop).
health_sampler() {
	local file=$1
	(
		while kill -0 "$PROXY_PID" 2>/dev/null; do
			curl -s -m 1 "http://127.0.0.1:$PROXY_PORT/health" | jq -r '.healthy_count' 2>/dev/null || echo "?"
			sleep 0.25
		done
	) >"$file" &
	HEALTH_PID=$!
	LIB_PIDS+=("$HEALTH_PID")
}

health_summary() {
	awk -v n="$2" '$1 ~ /^[0-9]+$/ { c++; s += $1; if (min == "" || $1 < min) min = $1; if ($1 == n) all++ }
		END { if (c) printf "min %d, mean %.2f of %d; all %d healthy in %.0f%% of %d samples", min, s / c, n, n, 100 * all / c, c; else print "no samples" }' "$1"
}

statuses() { lib_json "$1" '[.replies_by_status | to_entries[] | "\(.key) \(.value)"] | join(", ")'; }

# The figures of one framebench report (or of one of its groups: FILTER ".groups[0]").
ws_rows() {
	local f=$1 sel=${2:-.}
	row "sent / replies / OK" "$(lib_json "$f" "$sel | \"\(.sent) / \(.replies) / \(.frames)\"")"
	row "replies by status" "$(lib_json "$f" "$sel | [.replies_by_status | to_entries[] | \"\(.key) \(.value)\"] | join(\", \")")"
	row "shed (ERROR 8 overloaded) ratio" "$(lib_json "$f" "$sel | \"\(.shed) (\(.shed_ratio * 1000 | round / 10)%)\"")"
	row "superseded (ERROR 1)" "$(lib_json "$f" "$sel | .superseded")"
	row "accepted p50 / p99 / max" "$(ms "$(lib_json "$f" "$sel | .latency.accepted.p50_us")") / $(ms "$(lib_json "$f" "$sel | .latency.accepted.p99_us")") / $(ms "$(lib_json "$f" "$sel | .latency.accepted.max_us")")"
	row "shed reply p99" "$(ms "$(lib_json "$f" "$sel | if .shed > 0 then .latency.shed.p99_us else null end")")"
	row "share per connection min / max, Jain" "$(lib_json "$f" "$sel | .fairness | \"\(.min_share * 1000 | round / 10)% / \(.max_share * 1000 | round / 10)%, \(.jain * 1000 | round / 1000)\"")"
	row "longest stall of a connection (median)" "$(ms "$(lib_json "$f" "$sel | .fairness.longest_stall_us")") ($(ms "$(lib_json "$f" "$sel | .fairness.median_stall_us")"))"
}

# start_pool N_FAST FAST_MS [SLOW_MS]: frameservers and a proxy in front of them.
start_pool() {
	lib_start_servers "$1" --infer-ms "$2"
	if [ -n "${3:-}" ]; then
		lib_start_server 0 "$work/server-slow.log" --infer-ms "$3"
		SLOW_PORT=$STARTED_PORT
		SERVER_PIDS+=("$STARTED_PID")
		SERVER_PORTS+=("$STARTED_PORT")
		SERVER_ADDRS="$SERVER_ADDRS,127.0.0.1:$STARTED_PORT"
	fi
	# shellcheck disable=SC2086
	lib_start_proxy ${PROXY_FLAGS:-}
}

# stop_pool [CAPACITY]: stops the proxy and the backends; with CAPACITY, prints the frames they
# rendered per second of the measured run (load start to the servers' stop: drain included).
stop_pool() {
	lib_stop_proxy
	lib_stop_servers
	if [ -n "${1:-}" ]; then
		local n secs fps
		n=$(frames_served)
		secs=$(awk -v s="$MEASURE_T0" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')
		fps=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
		row "frames rendered by the backends" "$n in $(printf '%.1f' "$secs") s: $fps/s ($(pct "$fps" "$1") of capacity)"
	fi
	# Emptied, not removed: lib_wait_line reads a server's log before the shell has created it.
	local f
	for f in "$work"/server-*.log; do : >"$f"; done
}

# measured SCENARIO CAPACITY FRAMEBENCH_ARGS...: one framebench run with /health sampled;
# prints the common rows.
measured() {
	local name=$1 cap=$2
	shift 2
	health_sampler "$work/$name.health"
	MEASURE_T0=$(date +%s.%N)
	lib_bench "$duration" "$work/$name.json" ws --url "$PROXY_URL" --duration "$duration" "$@"
	lib_stop "$HEALTH_PID"
	local fps
	fps=$(lib_json "$work/$name.json" '.goodput_fps')
	row "pool capacity" "$(printf '%.1f' "$cap") frames/s"
	row "frames/s delivered OK (of capacity)" "$(printf '%.1f' "$fps") ($(pct "$fps" "$cap"))"
	row "healthy backends (/health, 0.25 s)" "$(health_summary "$work/$name.health" "${#SERVER_PORTS[@]}")"
}

for s in $scenarios; do
	case $s in
	a)
		echo
		echo "a) 2x overload: 4 backends x 17 ms, 64 connections x 8 in flight, closed loop"
		start_pool 4 17
		measured a "$(awk 'BEGIN { print 4 * 1000 / 17 }')" --connections 64 --inflight 8
		ws_rows "$work/a.json"
		row "accepted within 1 s (p99 <= 1000 ms)" "$(lib_json "$work/a.json" 'if .latency.accepted.p99_us <= 1000000 then "yes" else "no" end')"
		stop_pool "$(awk 'BEGIN { print 4 * 1000 / 17 }')"
		;;
	b)
		cap=$(awk 'BEGIN { print 3 * 1000 / 17 + 1000 / 100 }')
		rate=$(awk -v c="$cap" -v l="$load_b" 'BEGIN { printf "%.0f", c * l }')
		echo
		echo "b) uneven pool: 3 backends x 17 ms + 1 x 100 ms, open loop at $rate req/s ($load_b of capacity), 32 connections"
		start_pool 3 17 100
		measured b "$cap" --connections 32 --inflight 16 --rate "$rate"
		ws_rows "$work/b.json"
		row "round trip p99 (from intended send)" "$(ms "$(lib_json "$work/b.json" '.latency.round_trip.p99_us')")"
		row "frames per backend" "$(jq -r --arg slow "$SLOW_PORT" '[.backends[] | (.address | split(":")[1]) as $p | "\($p)\(if $p == $slow then " (100 ms)" else "" end) \(.frames)"] | join(", ")' "$work/b.json")"
		stop_pool "$cap"
		;;
	c)
		echo
		echo "c) fairness: flood 32 x 16 in flight beside modest 2 x 1, 4 backends x 17 ms"
		start_pool 4 17
		measured c "$(awk 'BEGIN { print 4 * 1000 / 17 }')" --group flood:32:16 --group modest:2:1
		for g in 0 1; do
			name=$(lib_json "$work/c.json" ".groups[$g].name")
			echo "  group $name:"
			row "success ratio (OK / replies)" "$(lib_json "$work/c.json" ".groups[$g] | if .replies > 0 then (.frames / .replies * 1000 | round / 10 | tostring) + \"%\" else \"-\" end")"
			row "frames/s" "$(lib_json "$work/c.json" ".groups[$g].goodput_fps * 10 | round / 10")"
			ws_rows "$work/c.json" ".groups[$g]"
		done
		stop_pool "$(awk 'BEGIN { print 4 * 1000 / 17 }')"
		;;
	d)
		echo
		echo "d) memory: $clients clients x $per_client requests that never read, 4 backends x 0 ms"
		start_pool 4 0
		rss_idle=$(lib_rss_kib "$PROXY_PID")
		tcp_kib() { awk -v kib="$page_kib" '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) * kib }' /proc/net/sockstat; }
		tcp_idle=$(tcp_kib)
		/usr/bin/python3 "$root/bench/nonreading_clients.py" "$PROXY_PORT" "$clients" "$per_client" \
			>"$work/nonreading.log" 2>&1 &
		nr=$!
		LIB_PIDS+=("$nr")
		lib_wait_line "$work/nonreading.log" '/connected/p' "$nr" nonreading_clients.py >/dev/null
		# RSS every 0.5 s until it has not grown by 1% for 5 s (the replies are all rendered), at
		# most 120 s.
		peak=0 tcp_peak=0 still=0 t=0
		while [ "$still" -lt 10 ] && [ "$t" -lt 240 ]; do
			sleep 0.5
			now=$(lib_rss_kib "$PROXY_PID")
			tcp_now=$(tcp_kib)
			if [ "$now" -gt $((peak + peak / 100)) ] || [ "$tcp_now" -gt $((tcp_peak + tcp_peak / 100)) ]; then
				still=0
			else
				still=$((still + 1))
			fi
			[ "$now" -gt "$peak" ] && peak=$now
			[ "$tcp_now" -gt "$tcp_peak" ] && tcp_peak=$tcp_now
			t=$((t + 1))
		done
		kill -TERM "$nr"
		wait "$nr" || true
		lib_forget "$nr"
		mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
		row "proxy RSS before the clients" "$(mib "$rss_idle")"
		row "proxy RSS peak" "$(mib "$peak") (+$(mib $((peak - rss_idle))), $(awk -v a="$peak" -v b="$rss_idle" -v n="$clients" 'BEGIN { printf "%.0f KiB", (a - b) / n }') per client)"
		row "kernel TCP memory (machine) before / peak" "$(mib "$tcp_idle") / $(mib "$tcp_peak") (+$(mib $((tcp_peak - tcp_idle))), $(awk -v a="$tcp_peak" -v b="$tcp_idle" -v n="$clients" 'BEGIN { printf "%.0f KiB", (a - b) / n }') per client)"
		row "replies the clients could hold" "$((clients * per_client)) x 24 KiB = $(mib $((clients * per_client * 24)))"
		row "connections" "$(sed -n 's/^nonreading: \(.*still open\)/\1/p' "$work/nonreading.log")"
		row "replies produced: backend calls (/health)" "$(curl -s -m 2 "http://127.0.0.1:$PROXY_PORT/health" | jq '[.backends[].total_requests] | add') for $((clients * per_client)) requests"
		row "time to steady memory" "$(awk -v t="$t" 'BEGIN { printf "%.1f s", t / 2 }')"
		stop_pool
		;;
	*) lib_die "unknown scenario $s (a b c d)" ;;
	esac
done
