#!/bin/sh
# Stop exactly the backends (frameservers or Python) that start-backends.sh started (from its PID file).
#
#   scripts/stop-backends.sh            (FG_RUN_DIR as for start-backends.sh)
#
# Sends SIGTERM (they finish queued frames, up to 5 s), then SIGKILL after 7 s. A PID
# whose executable is no longer the one recorded (the process ended and the PID was
# reused) is left alone.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
run_dir=${FG_RUN_DIR:-$root/.run}
pidfile=$run_dir/backends.pids

if [ ! -f "$pidfile" ]; then
	echo "stop-backends: no $pidfile, nothing to stop"
	exit 0
fi

ours() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ]; }

# How many recorded backends are still running (the PID still runs the recorded binary).
running() {
	count=0
	while read -r pid _port exe; do
		if ours "$pid" "$exe"; then count=$((count + 1)); fi
	done <"$pidfile"
	echo "$count"
}

stopped=0
while read -r pid port exe; do
	if ours "$pid" "$exe"; then
		kill -TERM "$pid" 2>/dev/null || true
		echo "stopping 127.0.0.1:$port (pid $pid)"
		stopped=$((stopped + 1))
	fi
done <"$pidfile"

waited=0
while [ "$(running)" -gt 0 ] && [ "$waited" -lt 70 ]; do
	sleep 0.1
	waited=$((waited + 1))
done

while read -r pid port exe; do
	if ours "$pid" "$exe"; then
		echo "stop-backends: pid $pid (port $port) did not stop after SIGTERM, killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
done <"$pidfile"

rm -f "$pidfile"
echo "stop-backends: $stopped backend(s) stopped"
