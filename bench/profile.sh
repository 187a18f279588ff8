#!/bin/bash
# Where the proxy's CPU per frame goes, under the overhead load (bench/overhead.sh: one
# --infer-ms 0 backend, CONNS WebSocket connections with 1 frame in flight, 100-byte requests,
# 24 KiB replies).
#
#   bench/profile.sh [BUILD_DIR]             (default: ./build, or $BUILD_DIR)
#
# Three passes, each on a fresh proxy:
#   perf    `perf record -e cpu-clock --call-graph dwarf` on framegate: the top functions by self
#           time, and by inclusive time (children) for the proxy's own code.
#   strace  `strace -c -f` on framegate: system calls per frame.
#   malloc  framegate under valgrind (memcheck's heap summary): heap allocations per frame, from
#           two runs of different length (the difference cancels start-up and shutdown).
# Environment: PASSES (default "perf strace malloc"), CONNS (default 100), DURATION seconds per
# run (default 8), TOP rows per table (default 25). For readable stacks, profile a build with
# -fno-omit-frame-pointer and -g (e.g. --buildtype=debugoptimized).
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
lib_init profile "${1:-}"

passes=${PASSES:-perf strace malloc}
conns=${CONNS:-100}
duration=${DURATION:-8}
top=${TOP:-25}

load() { # load OUT.json SECONDS
	lib_bench "$2" "$1" ws --url "$PROXY_URL" --connections "$conns" --inflight 1 --duration "$2" \
		--input-bytes 100 --connect-timeout 60
}

# traced OUT.json SECONDS LOG CMD...: CMD (a tracer attached to the proxy; stdout and stderr to
# LOG) runs while `load OUT.json SECONDS` does, then gets SIGINT so that it writes its report.
traced() {
	local out=$1 secs=$2 log=$3 pid
	shift 3
	"$@" >"$log" 2>&1 &
	pid=$!
	LIB_PIDS+=("$pid")
	sleep 0.5
	load "$out" "$secs"
	kill -INT "$pid"
	wait "$pid" || true
	lib_forget "$pid"
}

echo "framegate profile: $conns connections x 1 in flight, 1 backend at --infer-ms 0, $duration s"
lib_machine
lib_start_servers 1 --infer-ms 0

for pass in $passes; do
	case $pass in
	perf)
		command -v perf >/dev/null || lib_die "perf is missing (apt-get install linux-perf)"
		lib_start_proxy
		load "$work/warm.json" 1
		traced "$work/perf.json" "$duration" "$work/perf.log" \
			perf record -e cpu-clock -F 1999 --call-graph dwarf,16384 -o "$work/perf.data" -p "$PROXY_PID"
		frames=$(lib_json "$work/perf.json" '.replies')
		echo
		echo "== perf: $frames frames; top $top by self time (% of the proxy's CPU samples)"
		perf report -i "$work/perf.data" --stdio --no-children --sort symbol,dso -g none --percent-limit 0.3 \
			2>/dev/null | grep -E '^ +[0-9]' | head -n "$top" || true
		echo
		echo "== perf: top $top by inclusive time (children), framegate's own functions"
		perf report -i "$work/perf.data" --stdio --children --sort symbol,dso -g none --percent-limit 1 \
			2>/dev/null | grep -E '^ +[0-9]' | grep framegate | head -n "$top" || true
		lib_stop_proxy
		;;
	strace)
		command -v strace >/dev/null || lib_die "strace is missing (apt-get install strace)"
		lib_start_proxy
		load "$work/warm.json" 1
		traced "$work/strace.json" "$duration" /dev/null strace -c -f -o "$work/strace.txt" -p "$PROXY_PID"
		frames=$(lib_json "$work/strace.json" '.replies')
		echo
		echo "== strace -c -f: $frames frames (strace slows the proxy; counts per frame are what matter)"
		printf '%-20s %10s %10s\n' syscall calls per_frame
		awk -v n="$frames" '$1 ~ /^[0-9.]+$/ && NF >= 5 { name = $NF; calls = $4;
			if (calls ~ /^[0-9]+$/) printf "%-20s %10d %10.2f\n", name, calls, calls / n }' "$work/strace.txt" |
			sort -k2,2nr | head -n "$top" || true
		lib_stop_proxy
		;;
	malloc)
		command -v valgrind >/dev/null || lib_die "valgrind is missing (apt-get install valgrind)"
		allocs=() frames_run=()
		for secs in 2 $((duration + 2)); do
			framegate_real=$framegate
			framegate=$work/vg-framegate.sh
			printf '#!/bin/sh\nexec valgrind --tool=memcheck --leak-check=no --log-file=%s %s "$@"\n' \
				"$work/vg-$secs.log" "$framegate_real" >"$framegate"
			chmod +x "$framegate"
			lib_start_proxy
			framegate=$framegate_real
			load "$work/vg-$secs.json" "$secs"
			lib_stop_proxy
			allocs+=("$(sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' "$work/vg-$secs.log" | tr -d ,)")
			frames_run+=("$(lib_json "$work/vg-$secs.json" '.replies')")
		done
		echo
		echo "== malloc (valgrind memcheck heap summary)"
		echo "run 1: ${frames_run[0]} frames, ${allocs[0]} allocs; run 2: ${frames_run[1]} frames, ${allocs[1]} allocs"
		echo "heap allocations per frame: $(awk -v a1="${allocs[0]}" -v a2="${allocs[1]}" \
			-v f1="${frames_run[0]}" -v f2="${frames_run[1]}" \
			'BEGIN { if (f2 != f1) printf "%.2f", (a2 - a1) / (f2 - f1); else print "-" }')"
		;;
	*) lib_die "unknown pass '$pass' (perf, strace, malloc)" ;;
	esac
done
