#!/usr/bin/env bash
# One room on every core (issue 15). Interleaved rounds of:
#   1 core:  the server on CPU 1 (--cores 1), the load generator on CPU 0 (as fanout-1000.sh);
#   2 cores: the server on CPUs 0-1 (--cores 2, SHARD_MIN_VIEWERS 100), the load generator on CPU 0.
# One publisher (2 Mbps VP8-like + audio) and $VIEWERS viewers in one room, or with ROOMS=100
# that many rooms (viewers round-robin). The load generator shares a CPU with the 2-core server
# here, so the figure is the server's CPU time per delivered packet (not latency), and each
# core thread's CPU seconds (by its pinned CPU) shows the split between the cores.
# Usage: perf/scenarios/one-room-cores.sh [--no-build] [-- extra livesfu-load flags]
# Environment: VIEWERS (1000), ROOMS (1), ROUNDS (2), CORES_LIST ("1 2"), BITRATE (2M: the
# video bitrate; 2 000 viewers of 2 Mbit/s need more than this machine's two CPUs).
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

# Machine-wide CPU over a window of the steady state (every viewer in): the server's own
# utime+stime leaves out the softirq time of the loopback deliveries its sends cause (the
# kernel accounts that apart), and that share differs between a core that has its CPU to
# itself and one that shares it with the load tool. So the window also takes /proc/stat's
# busy time of both CPUs minus the load tool's own CPU time: the server and the kernel work
# for its traffic, per packet the server sent (livesfu_udp_sent_packets_total).
window_cpu() {
    local start=$1 length=$2 name=$3
    sleep "$start"
    local hz; hz=$(getconf CLK_TCK)
    sample() {
        local load_pid; load_pid=$(pgrep -f "livesfu-load --cpu" | head -1)
        echo "$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat)" \
            "$(awk '{print $14 + $15}' /proc/"$server_pid"/stat)" \
            "$(awk '{print $14 + $15}' /proc/"$load_pid"/stat 2>/dev/null || echo 0)" \
            "$(awk '/^cpu / {print $8}' /proc/stat)" \
            "$(curl -fsS "$(server_url)/metrics" | awk '/^livesfu_udp_sent_packets_total/ {s += $NF} END {printf "%d", s}')"
    }
    local a b; a=$(sample); sleep "$length"; b=$(sample)
    echo "$a $b" | awk -v hz="$hz" -v len="$length" '{
        busy = ($6 - $1) / hz; server = ($7 - $2) / hz; load = ($8 - $3) / hz; softirq = ($9 - $4) / hz; sent = $10 - $5
        printf "window %d s (steady): machine busy %.2f s, load tool %.2f s, server threads %.2f s, softirq %.2f s; server sent %d packets: %.2f us machine CPU (busy - load tool) per packet sent, %.2f us server threads only\n", len, busy, load, server, softirq, sent, (busy - load) * 1e6 / sent, server * 1e6 / sent }' \
        | tee "$out/$name-$target-window.txt"
}

for round in $(seq 1 "${ROUNDS:-2}"); do
    for cores in ${CORES_LIST:-1 2}; do
        name="one-room-cores-r${rooms}-v${viewers}-c${cores}-round${round}"
        if [ "$cores" = 1 ]; then server_cpu=1; else server_cpu=0,1; fi
        LIVESFU_ARGS="--cores $cores --max-core-load 0 --shard-min-viewers 100"
        export LIVESFU_ARGS
        start_server "$name"
        # Viewers per core while every viewer is in (the metric is gone once they leave).
        (sleep $((viewers / 200 + 15)); curl -fsS "$(server_url)/metrics" \
            | awk '/^livesfu_room_core_viewers/ {match($0, /core="[0-9]+"/); c = substr($0, RSTART + 6, RLENGTH - 7); v[c] += $NF}
                   END {printf "viewers per core (mid-run):"; for (c in v) printf " core%s=%d", c, v[c]; print ""}' \
            | tee "$out/$name-$target-cores.txt") &
        sampler=$!
        window_cpu $((viewers / 200 + 12)) 12 "$name" &
        windowed=$!
        run_load "$name" --rooms "$rooms" --viewers "$viewers" --join-rate 200 --duration 30 --video-bitrate "${BITRATE:-2M}" \
            --fps 30 --verify-sample 0.1 --gro --min-delivery 0.999 --max-p99-latency-ms 1000 || true
        wait "$sampler" "$windowed" || true
        cat "$out/$name-$target-cores.txt" "$out/$name-$target-window.txt" >>"$out/$name-$target.txt"
        echo "core threads' CPU seconds ($name): $(core_cpu)" | tee -a "$out/$name-$target.txt"
        curl -fsS "$(server_url)/metrics" | grep -E '^livesfu_(core_ring|shard_packets|room_core_viewers)' \
            | grep -v '_viewers{.*core="[0-9]*"} 0$' | head -20 | tee -a "$out/$name-$target.txt" || true
        stop_server
    done
done
