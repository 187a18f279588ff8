#!/bin/sh
# Benchmark of the reference backend frameserver with h2load (nghttp2-client).
#
#   bench/frameserver.sh [BUILD_DIR]          (default: ./build)
#
# 1. --infer-ms 0, 100 concurrent streams (1 connection x 100, and 4 connections x 25):
#    Render calls/s and server CPU microseconds per call (utime+stime from /proc/PID/stat).
# 2. --infer-ms 17, 4 concurrent clients (4 connections, 1 stream each): frames/s
#    (the simulated GPU allows 1000/17 = 58.8; target >= 57).
#
# Environment: FRAMESERVER (binary), BENCH_SECONDS (per run, default 5).
# Every request is the same 24576-byte-reply Render ("sanders", frame 1). h2load counts HTTP
# status only, so a final nghttp call checks that the server really answers grpc-status 0.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
frameserver=${FRAMESERVER:-$build/src/server/frameserver}
seconds=${BENCH_SECONDS:-5}
path=/framegate.v1.FrameService/Render

[ -x "$frameserver" ] || { echo "bench: $frameserver is not built" >&2; exit 1; }
command -v h2load >/dev/null || { echo "bench: h2load missing (apt-get install nghttp2-client)" >&2; exit 1; }

work=$(mktemp -d)
server_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# gRPC message: flag 0, length 11, then RenderRequest{model: "sanders" (field 1), frame: 1 (field 2)}.
printf '\000\000\000\000\013\012\007sanders\020\001' >"$work/render.bin"

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# start_server FLAGS...: starts frameserver on a free port; sets server_pid and addr.
start_server() {
	"$frameserver" --host 127.0.0.1 --port 0 --load-ms 0 "$@" >"$work/server.log" 2>&1 &
	server_pid=$!
	i=0
	while ! addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$work/server.log" | head -n 1) ||
		[ -z "$addr" ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "bench: frameserver did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
		sleep 0.05
	done
	"$root/scripts/health-check.py" --timeout 10 "$addr"
}

stop_server() {
	kill -TERM "$server_pid"
	wait "$server_pid" || true
	server_pid=""
}

# run_h2load LABEL CONNECTIONS STREAMS: prints "calls/s" and CPU us per call.
run_h2load() {
	before=$(cpu_ticks "$server_pid")
	h2load -c "$2" -m "$3" -D "$seconds" -d "$work/render.bin" \
		-H 'content-type: application/grpc' -H 'te: trailers' \
		"http://$addr$path" >"$work/h2load.out" 2>&1
	after=$(cpu_ticks "$server_pid")
	ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$work/h2load.out")
	failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' "$work/h2load.out")
	rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$work/h2load.out")
	if [ -z "$ok" ] || [ "$ok" -eq 0 ]; then
		echo "bench: h2load failed:" >&2
		cat "$work/h2load.out" >&2
		exit 1
	fi
	cpu_us=$(awk -v t="$((after - before))" -v hz="$clk_tck" -v n="$ok" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
	printf '%-44s %10s calls/s  %7s us CPU/call  (%s ok, %s failed)\n' "$1" "$rps" "$cpu_us" "$ok" "$failed"
}

check_grpc_status() {
	if command -v nghttp >/dev/null; then
		if ! nghttp -v -d "$work/render.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
			"http://$addr$path" 2>&1 | grep -q 'grpc-status: 0'; then
			echo "bench: WARNING: frameserver did not answer grpc-status 0" >&2
			exit 1
		fi
	fi
}

echo "frameserver benchmark: $(nproc) cores, $seconds s per run, $(h2load --version | head -n 1)"

start_server --infer-ms 0
check_grpc_status
run_h2load "--infer-ms 0, 1 conn x 100 streams" 1 100
run_h2load "--infer-ms 0, 4 conns x 25 streams" 4 25
stop_server
echo "  server exit log: $(tail -n 1 "$work/server.log")"

start_server --infer-ms 17
run_h2load "--infer-ms 17, 4 clients x 1 stream" 4 1
echo "  frames/s above; the simulated GPU allows $(awk 'BEGIN { printf "%.1f", 1000 / 17 }'), target >= 57"
stop_server
