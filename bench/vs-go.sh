#!/bin/bash
# framegate against the ORIGINAL design (bench/go-original: Go, round-robin gRPC client behind a
# WebSocket server) on the same frameservers in one run: frames/s and proxy CPU per frame.
#
#   bench/vs-go.sh [BUILD_DIR]
#
# Builds bench/go-original with Debian's Go packages (golang-go, golang-google-grpc-dev,
# golang-github-gorilla-websocket-dev, golang-google-protobuf-dev; GOPATH mode over
# /usr/share/gocode, offline) unless GO_ORIGINAL names a binary. BACKENDS frameservers at
# --infer-ms 0 (24 KiB replies); framebench ws with CONNS connections x 1 in flight, 100-byte
# requests, against each proxy in turn, REPEATS times alternating; medians.
#
# Environment: DURATION (5), REPEATS (3), CONNS (100), BACKENDS (2), PROXY_FLAGS (framegate).
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
lib_init vs-go "${1:-}"

duration=${DURATION:-5}
repeats=${REPEATS:-3}
conns=${CONNS:-100}
backends=${BACKENDS:-2}

go_bin=${GO_ORIGINAL:-}
if [ -z "$go_bin" ]; then
	command -v go >/dev/null || lib_die "go is missing (apt-get install golang-go golang-google-grpc-dev golang-github-gorilla-websocket-dev golang-google-protobuf-dev)"
	go_bin=$work/go-original
	(cd "$root/bench/go-original" && GO111MODULE=off GOFLAGS='' GOPATH="$work/gopath:/usr/share/gocode" \
		GOCACHE="$work/gocache" go build -o "$go_bin" .) || lib_die "go-original did not build"
fi

lib_start_servers "$backends" --infer-ms 0
# shellcheck disable=SC2086
lib_start_proxy ${PROXY_FLAGS:-}
fg_pid=$PROXY_PID fg_url=$PROXY_URL

"$go_bin" --host 127.0.0.1 --ws-port 0 --grpc-addrs "$SERVER_ADDRS" --log-frames off \
	>"$work/go.log" 2>&1 &
go_pid=$!
LIB_PIDS+=("$go_pid")
go_port=$(lib_wait_line "$work/go.log" 's/^framegate listening on [0-9.]*:\([0-9]*\).*/\1/p' \
	"$go_pid" go-original)
go_url="ws://127.0.0.1:$go_port/ws"

echo "framegate vs the original design (Go): $backends frameserver(s) at --infer-ms 0, 24 KiB replies,"
echo "$conns connections x 1 in flight, $duration s per run, median of $repeats alternating runs"
lib_machine


# run NAME PID URL SECONDS: one framebench run; appends frames/s, CPU/frame, p50, p99, not OK.
run() {
	local name=$1 pid=$2 url=$3 secs=$4 out=$work/$1-$RANDOM.json before after replies
	before=$(lib_cpu_ticks "$pid")
	lib_bench "$secs" "$out" ws --url "$url" --connections "$conns" --inflight 1 \
		--duration "$secs" --input-bytes 100 --connect-timeout 20
	after=$(lib_cpu_ticks "$pid")
	replies=$(lib_json "$out" '.replies')
	lib_json "$out" '.frames_per_s' >>"$work/$name-fps"
	{
		lib_us_per_frame $((after - before)) "$replies"
		echo
	} >>"$work/$name-cpu"
	lib_json "$out" '.latency.round_trip.p50_us' >>"$work/$name-p50"
	lib_json "$out" '.latency.round_trip.p99_us' >>"$work/$name-p99"
	lib_json "$out" '([.replies_by_status | to_entries[] | select(.key != "OK") | .value] | add // 0) + .lost' \
		>>"$work/$name-bad"
	printf '  %-9s %7.0f frames/s, %6s us CPU/frame\n' "$name" "$(tail -n 1 "$work/$name-fps")" \
		"$(tail -n 1 "$work/$name-cpu")"
}

# Warm-up (connections, allocators, Go's runtime), not counted.
run warm-fg "$fg_pid" "$fg_url" 1
run warm-go "$go_pid" "$go_url" 1
for _ in $(seq "$repeats"); do
	run framegate "$fg_pid" "$fg_url" "$duration"
	run go "$go_pid" "$go_url" "$duration"
done

printf '\n%-10s %9s %12s %8s %8s %7s\n' proxy frames/s cpu_us/frame p50_us p99_us not_ok
for name in framegate go; do
	printf '%-10s %9.0f %12s %8s %8s %7s\n' "$name" "$(lib_median "$work/$name-fps")" \
		"$(lib_median "$work/$name-cpu")" "$(lib_median "$work/$name-p50")" "$(lib_median "$work/$name-p99")" \
		"$(paste -sd+ "$work/$name-bad" | bc)"
done
echo "framegate / go: $(lib_ratio "$(lib_median "$work/framegate-fps")" "$(lib_median "$work/go-fps")") x the frames/s," \
	"$(lib_ratio "$(lib_median "$work/go-cpu")" "$(lib_median "$work/framegate-cpu")") x less proxy CPU per frame"
