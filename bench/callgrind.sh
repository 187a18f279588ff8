#!/bin/bash
# Instructions and system calls per frame in framegate, the two repeatable figures on a noisy
# machine: callgrind counts instructions whatever else runs, strace counts syscalls.
#   bench/callgrind.sh BUILD_DIR        (env: CONNS="1 100", SECONDS_MEASURED=4)
# One frameserver at --infer-ms 0, framebench ws with 100-byte requests and 24 KiB replies, one
# request in flight per connection; counters are zeroed after a warm-up and read after the
# measured window, so start-up is left out.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
lib_init callgrind "${1:?usage: bench/callgrind.sh BUILD_DIR}"
measured=${SECONDS_MEASURED:-4}
real_framegate=$framegate

load() { # json conns seconds
	lib_bench "$3" "$1" ws --url "$PROXY_URL" --connections "$2" --inflight 1 --duration "$3" \
		--input-bytes 100 --connect-timeout 60
}

# framegate under callgrind, started through lib_start_proxy like the real one.
cat >"$work/cg-framegate" <<WRAP
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file="\$CG_OUT" "$real_framegate" "\$@"
WRAP
chmod +x "$work/cg-framegate"

lib_start_servers 1 --infer-ms 0
printf '%-6s %10s %16s %18s\n' conns frames instr/frame syscalls/frame
for conns in ${CONNS:-1 100}; do
	export CG_OUT="$work/cg.$conns"
	framegate="$work/cg-framegate"
	lib_start_proxy
	load "$work/warm.json" "$conns" 2
	callgrind_control -z "$PROXY_PID" >/dev/null
	load "$work/cg.json" "$conns" "$measured"
	callgrind_control -d "$PROXY_PID" >/dev/null
	frames=$(lib_json "$work/cg.json" '.replies')
	dump=$(ls -t "$work"/cg."$conns".* | head -1)
	ir=$(grep -E '^(summary|totals):' "$dump" | head -1 | awk '{print $2}')
	lib_stop_proxy

	framegate=$real_framegate
	lib_start_proxy
	load "$work/warm.json" "$conns" 1
	strace -c -f -p "$PROXY_PID" -o "$work/strace.$conns" &
	strace_pid=$!
	sleep 0.5
	load "$work/st.json" "$conns" "$measured"
	kill -INT "$strace_pid"
	wait "$strace_pid" || true
	st_frames=$(lib_json "$work/st.json" '.replies')
	calls=$(awk '$NF=="total" {print $(NF-2)}' "$work/strace.$conns")
	lib_stop_proxy
	printf '%-6s %10s %16s %18s\n' "$conns" "$frames" "$((ir / frames))" \
		"$(awk -v a="$calls" -v b="$st_frames" 'BEGIN {printf "%.2f", a / b}')"
done
