# shellcheck shell=bash disable=SC2034
# Shared helpers of the benchmark scripts (bench/scaling.sh, overhead.sh, connections.sh, soak.sh).
# Sourced by bash, never run. Everything binds 127.0.0.1; everything started here is recorded and
# stopped by lib_cleanup, which lib_init installs as the EXIT/INT/TERM trap.
#
# Environment understood by every script:
#   BUILD_DIR    build directory with the binaries (default: $root/build; the first script argument wins)
#   FRAMESERVER, FRAMEGATE, FRAMEBENCH   the binaries themselves (default: under BUILD_DIR)
#   BENCH_KEEP   1: keep the work directory with logs and JSON (its path is printed)
#   PROXY_ENV    NAME=VALUE words for framegate's environment only, e.g.
#                "GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864"
#
# After lib_init: $root, $work, $frameserver, $framegate, $framebench, $clk_tck, $page_kib.
# After lib_start_servers: SERVER_PIDS, SERVER_PORTS (arrays), SERVER_ADDRS ("127.0.0.1:P,...").
# After lib_start_proxy: PROXY_PID, PROXY_PORT, PROXY_URL (ws://127.0.0.1:P/ws).
# After lib_sample_rss: SAMPLER_PID. After lib_ws_summary: the WS_* fields of a report.

LIB_PIDS=()
SERVER_PIDS=()
SERVER_PORTS=()
SERVER_ADDRS=""
PROXY_PID=""
PROXY_PORT=""
PROXY_URL=""

lib_die() {
	echo "${LIB_NAME:-bench}: $*" >&2
	exit 1
}

lib_log() {
	echo "${LIB_NAME:-bench}: $*" >&2
}

# lib_init NAME [BUILD_DIR]: finds the binaries, makes the work directory, installs the trap.
lib_init() {
	LIB_NAME=$1
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	local build=${2:-${BUILD_DIR:-$root/build}}
	frameserver=${FRAMESERVER:-$build/src/server/frameserver}
	framegate=${FRAMEGATE:-$build/src/proxy/framegate}
	framebench=${FRAMEBENCH:-$build/bench/framebench}
	local b
	for b in "$frameserver" "$framegate" "$framebench"; do
		[ -x "$b" ] || lib_die "$b is not built (meson setup build --buildtype=release && ninja -C build)"
	done
	command -v jq >/dev/null || lib_die "jq is missing (apt-get install jq)"
	work=$(mktemp -d "/tmp/fg-bench-$LIB_NAME.XXXXXX")
	clk_tck=$(getconf CLK_TCK)
	page_kib=$(($(getconf PAGESIZE) / 1024))
	set -o errtrace
	trap lib_cleanup EXIT
	trap 'lib_log "failed (status $?) at line $LINENO: $BASH_COMMAND"' ERR
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# lib_signal_tree SIGNAL PID: SIGNAL to PID's descendants (deepest first), then to PID. The
# framebench runs are /usr/bin/time -> timeout -> framebench, and time passes no signal on.
lib_signal_tree() {
	local sig=$1 pid=$2 kid
	for kid in $(pgrep -P "$pid" 2>/dev/null || true); do
		lib_signal_tree "$sig" "$kid"
	done
	kill "-$sig" "$pid" 2>/dev/null
}

# lib_stop_pid PID: SIGTERM to it (and to anything it started), up to 5 s for it to exit, then
# SIGKILL; reaps it.
lib_stop_pid() {
	local pid=$1 i
	if lib_signal_tree TERM "$pid"; then
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		lib_signal_tree KILL "$pid" || true
	fi
	wait "$pid" 2>/dev/null || true
}

lib_cleanup() {
	local rc=$? i
	trap - EXIT INT TERM ERR
	# Newest first: the proxy goes before its backends.
	for ((i = ${#LIB_PIDS[@]} - 1; i >= 0; i--)); do
		lib_stop_pid "${LIB_PIDS[i]}"
	done
	LIB_PIDS=()
	if [ -n "${work:-}" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ]; then
			echo "$LIB_NAME: logs and JSON kept in $work" >&2
		else
			rm -rf "$work"
		fi
	fi
	exit "$rc"
}

# lib_forget PID: drops PID from the cleanup list (after the script stopped it itself).
lib_forget() {
	local keep=() pid
	for pid in "${LIB_PIDS[@]}"; do
		[ "$pid" = "$1" ] || keep+=("$pid")
	done
	LIB_PIDS=("${keep[@]}")
}

# lib_stop PID: lib_stop_pid, then lib_forget.
lib_stop() {
	lib_stop_pid "$1"
	lib_forget "$1"
}

# lib_wait_line FILE SED_EXPR PID WHAT: prints the first match of SED_EXPR in FILE; waits up to
# 10 s, failing early if PID died.
lib_wait_line() {
	local file=$1 expr=$2 pid=$3 what=$4 i out
	for i in $(seq 200); do
		out=$(sed -n "$expr" "$file" 2>/dev/null | head -n 1)
		if [ -n "$out" ]; then
			echo "$out"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	lib_log "$what did not start; its log:"
	cat "$file" >&2
	exit 1
}

# lib_start_server PORT LOG FLAGS...: one frameserver (PORT 0: any free one); sets STARTED_PID
# and STARTED_PORT once it listens and its model is loaded (--load-ms 0). Not run in a subshell,
# so the server stays this shell's child and wait reaps it.
lib_start_server() {
	local port=$1 log=$2
	shift 2
	"$frameserver" --host 127.0.0.1 --port "$port" --load-ms 0 "$@" >"$log" 2>&1 &
	STARTED_PID=$!
	LIB_PIDS+=("$STARTED_PID")
	lib_wait_line "$log" '/model .* loaded/p' "$STARTED_PID" frameserver >/dev/null
	STARTED_PORT=$(sed -n 's/.*frameserver listening on [0-9.]*:\([0-9]*\).*/\1/p' "$log" | head -n 1)
	[ -n "$STARTED_PORT" ] || lib_die "no port in $log"
}

# lib_start_servers N FLAGS...: N frameservers on free ports.
lib_start_servers() {
	local n=$1 i
	shift
	SERVER_PIDS=()
	SERVER_PORTS=()
	for i in $(seq 0 $((n - 1))); do
		lib_start_server 0 "$work/server-$i.log" "$@"
		SERVER_PIDS+=("$STARTED_PID")
		SERVER_PORTS+=("$STARTED_PORT")
	done
	SERVER_ADDRS=$(printf '127.0.0.1:%s,' "${SERVER_PORTS[@]}")
	SERVER_ADDRS=${SERVER_ADDRS%,}
}

# lib_stop_servers: stops every frameserver of the last lib_start_servers.
lib_stop_servers() {
	local pid
	for pid in "${SERVER_PIDS[@]}"; do
		lib_stop "$pid"
	done
	SERVER_PIDS=()
	SERVER_PORTS=()
	SERVER_ADDRS=""
}

# lib_start_proxy FLAGS...: framegate in front of SERVER_ADDRS (log: PROXY_LOG, default
# $work/proxy.log); returns once every backend is healthy.
lib_start_proxy() {
	# Set here, not inside the background command's redirection (a subshell's assignment).
	PROXY_LOG=${PROXY_LOG:-$work/proxy.log}
	# shellcheck disable=SC2086 # PROXY_ENV is a list of NAME=VALUE words
	env ${PROXY_ENV:-} "$framegate" --host 127.0.0.1 --ws-port 0 --grpc-addrs "$SERVER_ADDRS" \
		--log-frames off "$@" >"$PROXY_LOG" 2>&1 &
	PROXY_PID=$!
	LIB_PIDS+=("$PROXY_PID")
	PROXY_PORT=$(lib_wait_line "$PROXY_LOG" 's/^framegate listening on [0-9.]*:\([0-9]*\).*/\1/p' \
		"$PROXY_PID" framegate) || exit 1
	PROXY_URL="ws://127.0.0.1:$PROXY_PORT/ws"
	local want=${#SERVER_PORTS[@]} i healthy
	for i in $(seq 200); do
		healthy=$(grep -c ' healthy$' "$PROXY_LOG" || true)
		[ "$healthy" -ge "$want" ] && return 0
		kill -0 "$PROXY_PID" 2>/dev/null || break
		sleep 0.05
	done
	lib_log "framegate: only $healthy of $want backends became healthy; its log:"
	cat "$PROXY_LOG" >&2
	exit 1
}

lib_stop_proxy() {
	lib_stop "$PROXY_PID"
	PROXY_PID=""
}

# lib_cpu_ticks PID: utime + stime in clock ticks (fields 14 and 15 of /proc/PID/stat; the
# command name in field 2 has no spaces here).
lib_cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# lib_rss_kib PID: resident set size in KiB (field 24 of /proc/PID/stat, in pages).
lib_rss_kib() {
	awk -v kib="$page_kib" '{ print $24 * kib }' "/proc/$1/stat"
}

# lib_sample_rss PERIOD FILE [T0]: in the background until the proxy exits (or lib_stop
# "$SAMPLER_PID"), every PERIOD seconds a line "SECONDS KIB" in FILE: seconds since T0 (default:
# now, in date +%s) and the proxy's RSS.
lib_sample_rss() {
	local period=$1 file=$2 t0=${3:-$(date +%s)}
	(
		while kill -0 "$PROXY_PID" 2>/dev/null; do
			echo "$(($(date +%s) - t0)) $(lib_rss_kib "$PROXY_PID" 2>/dev/null || echo 0)"
			sleep "$period"
		done
	) >"$file" &
	SAMPLER_PID=$!
	LIB_PIDS+=("$SAMPLER_PID")
}

# lib_us_per_frame TICKS FRAMES: CPU microseconds per frame.
lib_us_per_frame() {
	awk -v t="$1" -v hz="$clk_tck" -v n="$2" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }'
}

# lib_bench SECONDS OUT.json ARGS...: framebench ARGS --json into OUT.json, killed if it runs
# SECONDS + 60 s; fails with its stderr if it produced no report. Sets BENCH_CPU_S to the CPU
# seconds (user + system) framebench itself used.
lib_bench() {
	local secs=$1 out=$2
	shift 2
	local bound
	bound=$(awk -v s="$secs" 'BEGIN { printf "%d", s + 60 }')
	# In the background and waited for, so that a signal to this script is handled at once.
	/usr/bin/time -f '%U %S' -o "$out.time" timeout -k 5 "$bound" "$framebench" "$@" --json \
		>"$out" 2>"$out.err" &
	local pid=$!
	LIB_PIDS+=("$pid")
	wait "$pid" || true
	lib_forget "$pid"
	jq -e . "$out" >/dev/null 2>&1 || {
		lib_log "framebench $* failed:"
		cat "$out.err" >&2
		exit 1
	}
	BENCH_CPU_S=$(awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { s = $1 + $2 } END { print s + 0 }' "$out.time")
}

# lib_ticks_sum PID...: lib_cpu_ticks summed over several processes.
lib_ticks_sum() {
	local pid sum=0
	for pid in "$@"; do
		sum=$((sum + $(lib_cpu_ticks "$pid")))
	done
	echo "$sum"
}

# lib_json FILE FILTER: one value from a framebench report.
lib_json() {
	jq -r "$2" "$1"
}

# lib_ws_summary FILE: the counts of a `framebench ws` report: WS_SENT, WS_REPLIES, WS_OK,
# WS_NOT_OK ("STATUS N, ..." of the replies other than OK; empty when none), WS_LOST,
# WS_FAILURES (connections), WS_P50, WS_P99, WS_MAX (round trip, us), WS_ERRORS ("; "-joined).
lib_ws_summary() {
	WS_SENT=$(lib_json "$1" '.sent')
	WS_REPLIES=$(lib_json "$1" '.replies')
	WS_OK=$(lib_json "$1" '.replies_by_status.OK // 0')
	WS_NOT_OK=$(lib_json "$1" '[.replies_by_status | to_entries[] | select(.key != "OK") | "\(.key) \(.value)"] | join(", ")')
	WS_LOST=$(lib_json "$1" '.lost')
	WS_FAILURES=$(lib_json "$1" '.connection_failures')
	WS_P50=$(lib_json "$1" '.latency.round_trip.p50_us')
	WS_P99=$(lib_json "$1" '.latency.round_trip.p99_us')
	WS_MAX=$(lib_json "$1" '.latency.round_trip.max_us')
	WS_ERRORS=$(lib_json "$1" '.errors | join("; ")')
}

# lib_median FILE: the median of the numbers in FILE (one a line; blank lines skipped), "-" if none.
lib_median() {
	sort -g "$1" | awk 'NF { v[++n] = $1 } END { if (n == 0) print "-"; else if (n % 2) print v[(n + 1) / 2];
		else print (v[n / 2] + v[n / 2 + 1]) / 2 }'
}

# lib_ratio A B [FORMAT]: A / B.
lib_ratio() {
	awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (b > 0) printf f, a / b; else print "-" }'
}

lib_machine() {
	echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
		"load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr)"
}
