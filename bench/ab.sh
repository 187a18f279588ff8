#!/bin/bash
# Two framegate binaries, one change apart, on the same backends in one run: their CPU per frame
# and frames/s, measured in alternating short runs so that the machine's phases (this one is
# shared and noisy) fall on both alike.
#
#   bench/ab.sh BUILD_DIR PROXY_A PROXY_B
#
# Both proxies start at once in front of the same --infer-ms 0 frameservers; each round loads A
# then B (framebench ws, CONNS connections x 1 in flight, 100-byte requests, 24 KiB replies) for
# DURATION seconds each, in the order A B in odd rounds and B A in even ones. Prints each run,
# then per proxy the median CPU microseconds per frame (utime + stime from /proc/PID/stat over
# the run, divided by the replies) and frames/s, and the ratio B/A of the medians and the median
# of the per-round ratios (the figure to quote: it pairs runs that were close in time).
# Environment: DURATION (default 3), REPEATS rounds (default 7), CONNS (default 100), BACKENDS
# (default 1), INFLIGHT frames in flight per connection (default 1), PROXY_FLAGS (extra flags for both).
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
lib_init ab "${1:?usage: bench/ab.sh BUILD_DIR PROXY_A PROXY_B}"
proxy_a=${2:?usage: bench/ab.sh BUILD_DIR PROXY_A PROXY_B}
proxy_b=${3:?usage: bench/ab.sh BUILD_DIR PROXY_A PROXY_B}
duration=${DURATION:-3}
repeats=${REPEATS:-7}
conns=${CONNS:-100}
inflight=${INFLIGHT:-1}

lib_start_servers "${BACKENDS:-1}" --infer-ms 0
declare -A pid url
for side in a b; do
	framegate=$proxy_a
	[ "$side" = b ] && framegate=$proxy_b
	PROXY_LOG=$work/proxy-$side.log
	# shellcheck disable=SC2086
	lib_start_proxy ${PROXY_FLAGS:-}
	pid[$side]=$PROXY_PID url[$side]=$PROXY_URL
	PROXY_LOG=""
done

echo "framegate A/B: A=$proxy_a B=$proxy_b"
echo "$conns connection(s) x $inflight in flight, ${BACKENDS:-1} backend(s) at --infer-ms 0, $duration s per run, $repeats rounds"
lib_machine

# run SIDE ROUND: one loaded run of SIDE; appends its CPU/frame and frames/s.
run() {
	local side=$1 out=$work/$1-$2.json before after replies
	before=$(lib_cpu_ticks "${pid[$side]}")
	lib_bench "$duration" "$out" ws --url "${url[$side]}" --connections "$conns" --inflight "$inflight" \
		--duration "$duration" --input-bytes 100 --connect-timeout 20
	after=$(lib_cpu_ticks "${pid[$side]}")
	replies=$(lib_json "$out" '.replies')
	[ "$(lib_json "$out" '.lost')" = 0 ] || lib_die "$side lost replies in round $2"
	lib_us_per_frame $((after - before)) "$replies" >>"$work/cpu-$side"
	echo >>"$work/cpu-$side"
	lib_json "$out" '.frames_per_s' >>"$work/fps-$side"
}

for side in a b; do # warm-up: connections, allocators
	lib_bench 1 "$work/warm-$side.json" ws --url "${url[$side]}" --connections "$conns" --duration 1 \
		--input-bytes 100 --connect-timeout 20
done
for r in $(seq "$repeats"); do
	if [ $((r % 2)) = 1 ]; then run a "$r" && run b "$r"; else run b "$r" && run a "$r"; fi
	printf '  round %d: A %5s us/frame %6.0f/s | B %5s us/frame %6.0f/s\n' "$r" \
		"$(grep . "$work/cpu-a" | tail -n 1)" "$(tail -n 1 "$work/fps-a")" \
		"$(grep . "$work/cpu-b" | tail -n 1)" "$(tail -n 1 "$work/fps-b")"
done

cpu_a=$(lib_median "$work/cpu-a") cpu_b=$(lib_median "$work/cpu-b")
fps_a=$(lib_median "$work/fps-a") fps_b=$(lib_median "$work/fps-b")
paste <(grep . "$work/cpu-a") <(grep . "$work/cpu-b") | awk '{ print $2 / $1 }' >"$work/ratios"
echo
printf 'A: %.1f us/frame, %.0f frames/s (medians)\n' "$cpu_a" "$fps_a"
printf 'B: %.1f us/frame, %.0f frames/s (medians)\n' "$cpu_b" "$fps_b"
printf 'B/A CPU per frame: %.3f of the medians, %.3f median of the rounds; frames/s %.3f\n' \
	"$(lib_ratio "$cpu_b" "$cpu_a")" "$(lib_median "$work/ratios")" "$(lib_ratio "$fps_b" "$fps_a")"
