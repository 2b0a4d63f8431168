#!/usr/bin/env bash
# One room on every core (issue 15). Interleaved rounds of:
#   1 core:  the server on CPU 1 (--cores 1), the load generator on CPU 0 (as fanout-1000.sh);
#   2 cores: the server on CPUs 0-1 (--cores 2, SHARD_MIN_VIEWERS 100), the load generator on CPU 0.
# One publisher (2 Mbps VP8-like + audio) and $VIEWERS viewers in one room, or with ROOMS=100
# that many rooms (viewers round-robin). The load generator shares a CPU with the 2-core server
# here, so the figure is the server's CPU time per delivered packet (not latency), and each
# core thread's CPU seconds (by its pinned CPU) shows the split between the cores.
# Usage: perf/scenarios/one-room-cores.sh [--no-build] [-- extra livesfu-load flags]
# Environment: VIEWERS (1000), ROOMS (1), ROUNDS (2), CORES_LIST ("1 2").
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_all

viewers="${VIEWERS:-1000}"
rooms="${ROOMS:-1}"

# CPU seconds of each of the server's threads pinned to one CPU, as "cpuN=seconds".
core_cpu() {
    local hz; hz=$(getconf CLK_TCK)
    for task in /proc/"$server_pid"/task/*; do
        local cpus ticks
        cpus=$(awk '/Cpus_allowed_list/ {print $2}' "$task/status")
        case "$cpus" in *,*|*-*) continue ;; esac
        ticks=$(awk '{print $14 + $15}' "$task/stat")
        echo "cpu$cpus=$(awk -v t="$ticks" -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}')"
    done | sort | tr '\n' ' '
}

for round in $(seq 1 "${ROUNDS:-2}"); do
    for cores in ${CORES_LIST:-1 2}; do
        name="one-room-cores-r${rooms}-v${viewers}-c${cores}-round${round}"
        if [ "$cores" = 1 ]; then server_cpu=1; else server_cpu=0,1; fi
        LIVESFU_ARGS="--cores $cores --max-core-load 0 --shard-min-viewers 100"
        export LIVESFU_ARGS
        start_server "$name"
        run_load "$name" --rooms "$rooms" --viewers "$viewers" --join-rate 200 --duration 30 --video-bitrate 2M \
            --fps 30 --verify-sample 0.1 --gro --min-delivery 0.999 --max-p99-latency-ms 1000 || true
        echo "core threads' CPU seconds ($name): $(core_cpu)" | tee -a "$out/$name-$target.txt"
        curl -fsS "$(server_url)/metrics" | grep -E '^livesfu_(core_ring|shard_packets|room_core_viewers)' \
            | grep -v '_viewers{.*core="[0-9]*"} 0$' | head -20 | tee -a "$out/$name-$target.txt" || true
        stop_server
    done
done
