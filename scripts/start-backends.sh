#!/bin/sh
# Start N frameservers (or, with --python, N Python backends of backends/python) on
# consecutive ports and wait until each answers Health SERVING.
#
#   scripts/start-backends.sh [--python] N [START_PORT]        (START_PORT defaults to 50051)
#
# Environment:
#   FRAMESERVER           the binary (default: ./build/src/server/frameserver)
#   FRAMESERVER_ARGS      extra flags for every backend, e.g. "--infer-ms 17 --models sanders,obama"
#   PYTHON_BACKEND_ARGS   with --python: extra flags for serve.py, e.g. "--model numpy-face"
#                         (default model: torch-face)
#   FG_RUN_DIR            where the PID file and logs go (default: .run in the repository)
#   FG_BACKEND_TIMEOUT    seconds to wait for SERVING (default 30)
#   FG_HEALTH_TLS         CA[,CERT,KEY]: check the health over TLS (backends with --tls-cert)
#
# The PIDs go to $FG_RUN_DIR/backends.pids ("PID PORT EXE" per line) for stop-backends.sh,
# each backend's output to $FG_RUN_DIR/backend-PORT.log. On any failure everything this
# script started is stopped again and it exits 1.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
python=0
if [ "${1:-}" = --python ]; then
	python=1
	shift
fi
n=${1:-}
start_port=${2:-50051}
frameserver=${FRAMESERVER:-$root/build/src/server/frameserver}
run_dir=${FG_RUN_DIR:-$root/.run}
timeout=${FG_BACKEND_TIMEOUT:-30}
pidfile=$run_dir/backends.pids

die() {
	echo "start-backends: $*" >&2
	exit 1
}

case $n in '' | *[!0-9]*) die "usage: $0 [--python] N [START_PORT]" ;; esac
case $start_port in '' | *[!0-9]*) die "START_PORT must be a number, got '$start_port'" ;; esac
[ "$n" -ge 1 ] || die "N must be at least 1"
[ $((start_port + n - 1)) -le 65535 ] || die "ports $start_port..$((start_port + n - 1)) go past 65535"
if [ "$python" = 1 ]; then
	kind="python backend"
	serve=$root/backends/python/serve.py
	exe=$(readlink -f /usr/bin/python3) # what /proc/PID/exe shows for each backend
	[ -f "$serve" ] || die "$serve is missing"
else
	kind=frameserver
	[ -x "$frameserver" ] || die "$frameserver is not built (build it, or set FRAMESERVER)"
	exe=$(readlink -f "$frameserver") # what /proc/PID/exe will show once setsid has exec'd it
fi

/usr/bin/python3 -c 'import grpc' 2>/dev/null ||
	die "python3-grpcio is needed to check the backends' health (apt-get install python3-grpcio)"

mkdir -p "$run_dir"
if [ -s "$pidfile" ]; then
	while read -r pid _port exe; do
		if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]; then
			die "backends from $pidfile are still running (pid $pid); run scripts/stop-backends.sh first"
		fi
	done <"$pidfile"
fi
: >"$pidfile"

fail() {
	echo "start-backends: $*" >&2
	FG_RUN_DIR=$run_dir "$root/scripts/stop-backends.sh" >&2 || true
	exit 1
}

addrs=""
i=0
while [ "$i" -lt "$n" ]; do
	port=$((start_port + i))
	log=$run_dir/backend-$port.log
	# setsid: the backends outlive this script and ignore the terminal's Ctrl-C;
	# stop-backends.sh is how they end.
	# shellcheck disable=SC2086  # *_ARGS are lists of flags on purpose
	if [ "$python" = 1 ]; then
		setsid /usr/bin/python3 "$serve" --host 127.0.0.1 --port "$port" ${PYTHON_BACKEND_ARGS:-} >"$log" 2>&1 </dev/null &
	else
		setsid "$frameserver" --host 127.0.0.1 --port "$port" ${FRAMESERVER_ARGS:-} >"$log" 2>&1 </dev/null &
	fi
	pid=$!
	echo "$pid $port $exe" >>"$pidfile"
	addrs="$addrs 127.0.0.1:$port"
	i=$((i + 1))
done

# Wait for SERVING, failing fast when a backend exits (port in use, bad flag...).
deadline=$(($(date +%s) + timeout))
while :; do
	while read -r pid port _exe; do
		if ! kill -0 "$pid" 2>/dev/null; then
			fail "backend on port $port (pid $pid) exited; its log ($run_dir/backend-$port.log):
$(tail -n 5 "$run_dir/backend-$port.log")"
		fi
	done <"$pidfile"
	# shellcheck disable=SC2086
	if /usr/bin/python3 "$root/scripts/health-check.py" --timeout 0 --tls "${FG_HEALTH_TLS:-}" $addrs 2>/dev/null; then
		break
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		# shellcheck disable=SC2086
		/usr/bin/python3 "$root/scripts/health-check.py" --timeout 0 --tls "${FG_HEALTH_TLS:-}" $addrs || true
		fail "backends not SERVING after ${timeout}s (FG_BACKEND_TIMEOUT)"
	fi
	sleep 0.2
done

echo "started $n $kind(s), SERVING:"
while read -r pid port _exe; do
	echo "  127.0.0.1:$port  pid $pid  log $run_dir/backend-$port.log"
done <"$pidfile"
echo "stop them with: scripts/stop-backends.sh"
