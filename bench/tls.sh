#!/bin/bash
# What TLS on both sides costs: the same load through two proxies in one run, one in plaintext
# (ws:// to framegate, h2c to a frameserver) and one encrypted end to end (wss:// to framegate
# with --tls-cert, grpcs to a frameserver with --tls-cert, framegate --backend-tls verifying it).
# Certificates come from a CA made here with openssl.
#
#   bench/tls.sh [BUILD_DIR]            (default: ./build, or $BUILD_DIR)
#
# Prints frames/s, round-trip latency p50/p99 and CPU microseconds per frame of the proxy
# (utime + stime from /proc/PID/stat over the run, divided by its replies), of the backend and
# of framebench, for each side; then the proxy's CPU per frame with TLS against plaintext
# (the target: at most +50%). Plaintext and TLS runs alternate REPEATS times; every figure is
# the median over the repeats.
#
# Both sides get the same offered load (open loop, RATE frames/s spread over the connections):
# CPU per frame depends on how many frames share one loop iteration, so a closed loop, where the
# slower side also runs at a lower rate, would charge TLS for less batching too.
#
# Environment: DURATION seconds per run (default 5), REPEATS (default 3), CONNS (default 100),
# RATE (frames/s over all connections, default 2000; 0: closed loop, 1 in flight each),
# INPUT_BYTES (default 100; the replies are frameserver's default 128x64 rgb24 = 24 KiB).
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
lib_init tls "${1:-}"

duration=${DURATION:-5}
repeats=${REPEATS:-3}
conns=${CONNS:-100}
rate=${RATE:-2000}
load=(--inflight 1)
[ "$rate" != 0 ] && load=(--rate "$rate" --inflight 4)
input_bytes=${INPUT_BYTES:-100}
command -v openssl >/dev/null || lib_die "openssl is missing (apt-get install openssl)"

# A CA and one certificate for 127.0.0.1/localhost, used by both TLS servers.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/ca.key" -out "$work/ca.pem" -days 1 \
	-subj "/CN=bench CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$work/server.key" -out "$work/server.csr" \
	-subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$work/server.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
	-CAcreateserial -out "$work/server.pem" -days 1 -extfile "$work/server.ext" 2>/dev/null
cert=(--tls-cert "$work/server.pem" --tls-key "$work/server.key")

lib_start_server 0 "$work/fs-plain.log" --infer-ms 0
plain_srv=$STARTED_PID
SERVER_PORTS=("$STARTED_PORT") SERVER_ADDRS="127.0.0.1:$STARTED_PORT" PROXY_LOG=$work/proxy-plain.log
lib_start_proxy
plain_pid=$PROXY_PID plain_url=$PROXY_URL

lib_start_server 0 "$work/fs-tls.log" --infer-ms 0 "${cert[@]}"
tls_srv=$STARTED_PID
SERVER_PORTS=("$STARTED_PORT") SERVER_ADDRS="127.0.0.1:$STARTED_PORT" PROXY_LOG=$work/proxy-tls.log
lib_start_proxy "${cert[@]}" --backend-tls --backend-ca "$work/ca.pem"
tls_pid=$PROXY_PID tls_url="wss://127.0.0.1:$PROXY_PORT/ws"

echo "framegate TLS cost: $conns connections, ${load[*]}, $input_bytes-byte requests," \
	"24 KiB replies, --infer-ms 0, $duration s per run, median of $repeats runs"
lib_machine
for mode in plain tls; do # warm up: connections, allocator, session caches
	url_var=${mode}_url
	lib_bench 2 "$work/warm-$mode.json" ws --url "${!url_var}" --tls-ca "$work/ca.pem" \
		--connections 4 --duration 1 --input-bytes "$input_bytes"
done

keep() { echo "$3" >>"$work/m-$1-$2"; }
med() { lib_median "$work/m-$1-$2" | awk '{ printf ($1 ~ /^[0-9.]+$/ ? "%.1f" : "%s"), $1 }'; }

# run MODE I: one run through that proxy; records its figures.
run_one() {
	local mode=$1 i=$2 out=$work/$1-$2.json url_var=${1}_url pid_var=${1}_pid srv_var=${1}_srv
	local p0 p1 s0 s1 replies
	p0=$(lib_cpu_ticks "${!pid_var}")
	s0=$(lib_cpu_ticks "${!srv_var}")
	lib_bench "$duration" "$out" ws --url "${!url_var}" --tls-ca "$work/ca.pem" \
		--connections "$conns" "${load[@]}" --duration "$duration" --input-bytes "$input_bytes" \
		--connect-timeout 20
	p1=$(lib_cpu_ticks "${!pid_var}")
	s1=$(lib_cpu_ticks "${!srv_var}")
	replies=$(lib_json "$out" '.replies')
	keep "$mode" fps "$(lib_json "$out" '.frames_per_s')"
	keep "$mode" p50 "$(lib_json "$out" '.latency.round_trip.p50_us')"
	keep "$mode" p99 "$(lib_json "$out" '.latency.round_trip.p99_us')"
	keep "$mode" proxy "$(lib_us_per_frame $((p1 - p0)) "$replies")"
	keep "$mode" backend "$(lib_us_per_frame $((s1 - s0)) "$replies")"
	keep "$mode" client "$(awk -v s="$BENCH_CPU_S" -v n="$replies" 'BEGIN { printf "%.1f", s * 1e6 / n }')"
	keep "$mode" replies "$replies"
	keep "$mode" bad "$(lib_json "$out" '([.replies_by_status | to_entries[] | select(.key != "OK") | .value] | add // 0) + .lost')"
	printf '  run %d %-5s %6.0f frames/s, p50 %6s us, proxy %6s us CPU/frame\n' "$i" "$mode" \
		"$(tail -n 1 "$work/m-$mode-fps")" "$(tail -n 1 "$work/m-$mode-p50")" \
		"$(tail -n 1 "$work/m-$mode-proxy")"
}

for i in $(seq "$repeats"); do
	run_one plain "$i"
	run_one tls "$i"
done

printf '\n%-6s %9s %7s %7s | %s\n' mode frames/s p50_us p99_us "CPU us/frame: proxy backend client"
for mode in plain tls; do
	printf '%-6s %9.0f %7s %7s | %6s %7s %6s\n' "$mode" "$(med "$mode" fps)" "$(med "$mode" p50)" \
		"$(med "$mode" p99)" "$(med "$mode" proxy)" "$(med "$mode" backend)" "$(med "$mode" client)"
done
total() { paste -sd+ "$work/m-$1-$2" | bc; }
echo
echo "Medians of $repeats runs; CPU from /proc/PID/stat (proxy, backend) and wait4 (framebench)."
echo "proxy CPU per frame, TLS on both sides vs plaintext:" \
	"$(awk -v t="$(med tls proxy)" -v p="$(med plain proxy)" 'BEGIN { printf "%+.0f%% (%.1f vs %.1f us)", (t / p - 1) * 100, t, p }')" \
	"(target <= +50%)"
echo "replies: plaintext $(total plain replies), TLS $(total tls replies); not OK or lost:" \
	"$(total plain bad) and $(total tls bad)"
