#!/usr/bin/env bash
# Issue 16's relay figures, from one run in which the compared configurations alternate
# (round 1: every configuration once, round 2: again, …), so a machine busy with other work
# weighs on each alike. A real redis-server, an origin O and two edges E1, E2
# (CLUSTER_MODE=edge), each livesfu one core; livesfu-load publishes to O.
#   single   N_CAP viewers on O alone                         } viewer capacity: CPU time per
#   cluster  N_CAP viewers over E1 and E2 (O relays to both)  } delivered packet on each node
#   pub      no viewer (O's publisher ingest alone)            } the cost of one relay session:
#   local    1 viewer on O                                     } O's and the edge's CPU time
#   relay    1 viewer on E1 (one relay O → E1)                 } per relayed packet
#   hop      N_LAT viewers, even ones on O, odd ones on E1 (all decrypt and time every packet):
#            the one-way latency one relay hop adds, both kinds of viewer in the same seconds
# CPU time per node is the kernel's per-thread run time over livesfu-load's steady window
# (--node-pid). Then perf/scenarios/cluster_summary.py prints the figures, ratios and spread.
#
# Usage: perf/scenarios/cluster-relay.sh [--no-build] [--debug] [-- extra livesfu-load flags]
# Environment: ROUNDS (3), DURATION (12 s per run), N_CAP (200), N_LAT (40), SERVER_CPU (1: every
# node and redis), LOAD_CPU (0), BASE_PORT (8181: O, +1 E1, +2 E2), REDIS_PORT (6391), NICE.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install redis-server)" >&2; exit 2; }
build_all

rounds="${ROUNDS:-3}"
duration="${DURATION:-12}"
n_cap="${N_CAP:-200}"
n_lat="${N_LAT:-40}"
base_port="${BASE_PORT:-8181}"
redis_port="${REDIS_PORT:-6391}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
dir="$out/cluster-relay-$stamp"
mkdir -p "$dir"
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

"${nice_cmd[@]}" taskset -c "$server_cpu" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    >"$dir/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# node <name> <index> <mode>: starts a node pinned to $server_cpu; prints its pid.
node() {
    local name="$1" i="$2" mode="$3" port=$((base_port + $2))
    CLUSTER_REDIS_URL="redis://127.0.0.1:$redis_port" NODE_ID="$name" NODE_URL="http://127.0.0.1:$port" \
        CLUSTER_MODE="$mode" CLUSTER_TOKEN=perf-cluster-secret CLUSTER_HEARTBEAT_SECONDS=1 CLUSTER_NODE_TTL_SECONDS=3 \
        "${nice_cmd[@]}" taskset -c "$server_cpu" "$repo/.build/$config/livesfu" --http-addr "127.0.0.1:$port" --cores 1 \
        --udp-port $((20000 + 10 * i)) --public-ip 127.0.0.1 --max-pending-sessions-per-ip 0 \
        >"$dir/node-$name.log" 2>&1 &
    echo $!
}
o=$(node o 0 redirect); pids+=("$o")
e1=$(node e1 1 edge); pids+=("$e1")
e2=$(node e2 2 edge); pids+=("$e2")
url() { echo "http://127.0.0.1:$((base_port + $1))"; }
for i in 0 1 2; do
    for _ in $(seq 1 100); do curl -fsS "$(url $i)/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
done
sleep 2  # every node registered (heartbeat 1 s)

{
    echo "cluster-relay $stamp"
    echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
    echo "pinning: redis and nodes O (pid $o), E1 (pid $e1), E2 (pid $e2) on CPU $server_cpu; livesfu-load on CPU $load_cpu"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$dir/setup.txt"

# run <config> <round> <livesfu-load args…>
run() {
    local cfg="$1" round="$2"; shift 2
    local stem="$dir/$cfg-$round"
    ulimit -n 20000 2>/dev/null || true
    echo "== round $round: $cfg (load average $(cut -d' ' -f1 /proc/loadavg))"
    "${nice_cmd[@]}" taskset -c "$load_cpu" "$(load_bin)" --cpu "$load_cpu" --server "$(url 0)" --target livesfu \
        --room "relay-$cfg-$round" --duration "$duration" --pacing "${PACING:-2.5}" --quiet \
        --node-pid "$o" --node-pid "$e1" --node-pid "$e2" --json "$stem.json" "$@" "${load_extra[@]}" >"$stem.txt" 2>&1 || true
    grep -E "^(cluster steady|  viewers on|  node pid|packets:|RESULT)" "$stem.txt" | sed 's/^/   /'
    echo "load1=$(cut -d' ' -f1 /proc/loadavg)" >>"$stem.txt"
    sleep 1
}

for r in $(seq 1 "$rounds"); do
    run single "$r" --viewers "$n_cap" --join-rate 100 --verify-sample 0.05 --gro --viewer-server "$(url 0)"
    run cluster "$r" --viewers "$n_cap" --join-rate 100 --verify-sample 0.05 --gro --viewer-server "$(url 1)" --viewer-server "$(url 2)"
    run pub "$r" --viewers 0
    run local "$r" --viewers 1 --verify-sample 1 --viewer-server "$(url 0)"
    run relay "$r" --viewers 1 --verify-sample 1 --viewer-server "$(url 1)"
    run hop "$r" --viewers "$n_lat" --join-rate 50 --verify-sample 1 --viewer-server "$(url 0)" --viewer-server "$(url 1)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$dir/setup.txt"
python3 "$here/cluster_summary.py" "$dir" | tee "$dir/summary.txt"
echo "results: $dir"
