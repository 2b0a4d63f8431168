#!/usr/bin/env bash
# Simulcast's cost on the media path: fanout-1000 (1 publisher → 1000 viewers, server on one
# core) with a one-layer publisher and with a three-layer simulcast one (r0 2 Mbps, r1 1/4,
# r2 1/16; viewer i asks for layer i mod 3 once connected), interleaved (single, simulcast,
# single, simulcast, …) with the same binaries, so the machine's other load falls on both.
# MODES adds "simulcast-top" (the three layers published, every viewer left on r0) to separate
# the three-layer ingest from the spread, and "single-500k", "single-125k" (one layer at r1's
# and r2's bitrate) to show what the spread's smaller frames cost per packet without simulcast. CPU per delivered packet of each run is in its
# report (server utime+stime from /proc over the steady window); compare the pairs as ratios.
# Usage: perf/scenarios/simulcast-cost.sh [pairs=3]   (MODES, default "single simulcast")
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/../out"
pairs="${1:-3}"
modes="${MODES:-single simulcast}"
bitrate="${BITRATE:-2M}"
"$here/fanout-1000.sh" --no-build -- --duration 1 >/dev/null 2>&1 || true  # warm the page cache
for i in $(seq 1 "$pairs"); do
    for mode in $modes; do
        case "$mode" in
            single) extra=(--video-bitrate "$bitrate") ;;
            simulcast) extra=(--video-bitrate "$bitrate" --simulcast 3 --spread-layers) ;;
            simulcast-top) extra=(--video-bitrate "$bitrate" --simulcast 3) ;;
            # One layer at another bitrate (r1's or r2's: BITRATE/4, /16): what the same
            # viewers cost per packet on a stream of that layer's frame sizes.
            single-*) extra=(--video-bitrate "${mode#single-}") ;;
            *) echo "unknown mode $mode (single, simulcast, simulcast-top, single-<bitrate>)" >&2; exit 2 ;;
        esac
        echo "== pair $i, $mode ($(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg))"
        # Admission control off, as in the other before/after comparisons: every run gets all 1 000 viewers.
        LIVESFU_ARGS="--max-core-load 0 ${LIVESFU_ARGS:-}" "$here/fanout-1000.sh" --no-build -- "${extra[@]}" \
            | grep -E "^(command|viewers|packets|simulcast|server|latency, steady)" || true
        cp "$out/fanout-1000-livesfu.json" "$out/simulcast-cost-$bitrate-$i-$mode.json"
    done
done
python3 - "$out" "$pairs" "$bitrate" $modes <<'PY'
import json, sys
out, pairs, bitrate, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
def run(i, m):
    j = json.load(open(f"{out}/simulcast-cost-{bitrate}-{i}-{m}.json"))
    s = j["server_process"]
    return s["steady_us_per_packet"], s["steady_packets_per_second"], s["steady_cpu_fraction"], j["packets"]["delivery"], \
        s["steady_bytes_received"] / s["steady_seconds"]
print("| pair | " + " | ".join(modes) + " | " + " | ".join(f"{m} / {modes[0]}" for m in modes[1:]) + " |")
print("|---" * (2 * len(modes)) + "|")
sums = {m: [0.0, 0] for m in modes}
ratios = {m: [] for m in modes[1:]}
for i in range(1, pairs + 1):
    r = {m: run(i, m) for m in modes}
    for m in modes:
        sums[m][0] += r[m][0]
    cells = [f"{r[m][0]:.2f} µs/pkt, {r[m][1] / 1000:.1f}k pkt/s ({r[m][4] * 8 / 1e6:.0f} Mbit/s), {r[m][2] * 100:.1f} % CPU, delivery {r[m][3] * 100:.4f} %" for m in modes]
    for m in modes[1:]:
        ratios[m].append(r[m][0] / r[modes[0]][0])
    print(f"| {i} | " + " | ".join(cells) + " | " + " | ".join(f"{ratios[m][-1]:.3f}" for m in modes[1:]) + " |")
for m in modes[1:]:
    x = ratios[m]
    print(f"{m} / {modes[0]}: mean of pair ratios {sum(x) / len(x):.3f}, range {min(x):.3f}–{max(x):.3f}; "
          f"ratio of means {sums[m][0] / sums[modes[0]][0]:.3f}")
PY
