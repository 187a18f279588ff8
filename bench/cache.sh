#!/bin/bash
# The frame cache (issue 11): frames/s through the proxy with 90% repeated inputs against the
# pool's capacity, and what the Redis round trip adds to a hit.
#
#   bench/cache.sh [BUILD_DIR]            (default: ./build, or $BUILD_DIR)
#
# 1. The pool's capacity: BACKENDS frameservers --cacheable --infer-ms 17, framegate without a
#    cache, closed loop (CONNS connections x INFLIGHT, few enough that nothing is shed), UNIQUE
#    (0.1) of the inputs unique: frames/s.
# 2. With --cache-redis (a redis-server started here, emptied first), open loop at RATE_X (6)
#    times that capacity, the same 10% unique inputs: the misses alone ask 0.6 of the capacity,
#    so every frame can be served. Frames/s served, the share answered from the cache, frames
#    not served, and the ratio to 1.
# 3. A hit's cost: 1 connection, 1 in flight, every input the same (all hits but the first),
#    with --cache-mem only, then with --cache-redis only: the proxy's own time per hit
#    (total_us, p50) and the round trip (p50); the difference is Redis's added p50. The
#    proxy's Redis lookup histogram (framegate_cache_lookup_duration_seconds) gives its mean.
#
# Environment: DURATION seconds per run (default 5), BACKENDS (default 2), CONNS (default 4),
# INFLIGHT (default 8), UNIQUE (default 0.1), RATE_X (default 6), INPUT_BYTES (default 1600:
# 50 ms of 16 kHz PCM).
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
lib_init cache "${1:-}"
command -v redis-server >/dev/null || lib_die "redis-server is missing (scripts/deps.sh test)"

duration=${DURATION:-5}
backends=${BACKENDS:-2}
conns=${CONNS:-4}
inflight=${INFLIGHT:-8}
rate_x=${RATE_X:-6}
unique=${UNIQUE:-0.1}
input_bytes=${INPUT_BYTES:-1600}

redis_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >"$work/redis.log" 2>&1 &
LIB_PIDS+=($!)
lib_wait_line "$work/redis.log" '/Ready to accept connections/p' $! redis-server >/dev/null
redis_url="redis://127.0.0.1:$redis_port"
flush() { printf '*1\r\n$8\r\nFLUSHALL\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$redis_port; cat >&3; head -c 5 <&3" >/dev/null; }

lib_start_servers "$backends" --cacheable --infer-ms 17

echo "frame cache: $backends frameservers --cacheable --infer-ms 17, $conns connections," \
	"$input_bytes-byte inputs, $unique of them unique, $duration s per run"
lib_machine

load() { # OUT.json [--rate R]: the load of 1. (closed loop) or 2. (open loop)
	local out=$1
	shift
	lib_bench "$duration" "$out" ws --url "$PROXY_URL" --connections "$conns" --inflight "$inflight" \
		--duration "$duration" --input-bytes "$input_bytes" --unique "$unique" "$@"
}
cache_share() { lib_json "$1" '[.backends[] | select(.address == "cache") | .share][0] // 0'; }

lib_start_proxy
load "$work/warm.json"
load "$work/pool.json"
lib_stop_proxy

flush
pool_fps=$(lib_json "$work/pool.json" '.frames_per_s')
rate=$(awk -v c="$pool_fps" -v x="$rate_x" 'BEGIN { printf "%d", c * x }')
lib_start_proxy --cache-redis "$redis_url"
sleep 1 # Redis connected, ListModels answered
inflight=64 # open loop: room for the misses' queue
load "$work/cached.json" --rate "$rate"
lib_stop_proxy

cached_fps=$(lib_json "$work/cached.json" '.frames_per_s')
printf '\n%-34s %10s %10s %8s %8s %s\n' "run" "frames/s" "cache" "p50 ms" "p99 ms" "not OK"
for run in pool cached; do
	lib_ws_summary "$work/$run.json"
	printf '%-34s %10.1f %9.1f%% %8.2f %8.2f %s\n' \
		"$([ $run = pool ] && echo "pool, no cache (closed loop)" || echo "--cache-redis, $rate req/s")" \
		"$(lib_json "$work/$run.json" '.frames_per_s')" \
		"$(awk -v s="$(cache_share "$work/$run.json")" 'BEGIN { print s * 100 }')" \
		"$(awk -v v="$WS_P50" 'BEGIN { print v / 1000 }')" "$(awk -v v="$WS_P99" 'BEGIN { print v / 1000 }')" \
		"${WS_NOT_OK:-none}$([ "$WS_LOST" = 0 ] || echo ", $WS_LOST lost")"
done
echo "frames/s with the cache / the pool's capacity: $(lib_ratio "$cached_fps" "$pool_fps")x (target >= 5x)"

# 3. One hit at a time: in-process, then Redis.
hit_run() { # NAME FLAGS...
	local name=$1
	shift
	lib_start_proxy "$@"
	sleep 1
	lib_bench "$duration" "$work/hit-$name.json" ws --url "$PROXY_URL" --connections 1 \
		--inflight 1 --duration "$duration" --input-bytes "$input_bytes"
	curl -s "http://127.0.0.1:$PROXY_PORT/metrics" >"$work/metrics-$name.txt"
	lib_stop_proxy
}
hit_run mem --cache-mem 16MiB
flush
hit_run redis --cache-redis "$redis_url"
p50() { lib_json "$work/hit-$1.json" ".latency.$2.p50_us"; }
lookups=$(sed -n 's/^framegate_cache_lookup_duration_seconds_count \([0-9]*\)$/\1/p' "$work/metrics-redis.txt")
lookup_sum=$(sed -n 's/^framegate_cache_lookup_duration_seconds_sum \([0-9.]*\)$/\1/p' "$work/metrics-redis.txt")
echo
printf '%-34s %14s %14s %10s\n' "one hit at a time" "proxy p50 us" "round p50 us" "frames/s"
for t in mem redis; do
	printf '%-34s %14s %14s %10.1f\n' "$([ $t = mem ] && echo "in-process (--cache-mem)" || echo "Redis (--cache-redis)")" \
		"$(p50 $t proxy_total)" "$(p50 $t round_trip)" "$(lib_json "$work/hit-$t.json" '.frames_per_s')"
done
echo "Redis round trip added to a hit, p50: proxy $(($(p50 redis proxy_total) - $(p50 mem proxy_total))) us," \
	"round trip $(($(p50 redis round_trip) - $(p50 mem round_trip))) us (target <= 200 us);" \
	"mean Redis lookup $(awk -v s="$lookup_sum" -v n="$lookups" 'BEGIN { if (n > 0) printf "%.0f", s * 1e6 / n; else print "-" }') us over $lookups lookups"
