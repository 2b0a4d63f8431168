#!/usr/bin/env bash
# Simulcast's cost on the media path: fanout-1000 (1 publisher → 1000 viewers, server on one
# core) with a one-layer publisher and with a three-layer simulcast one (r0 2 Mbps, r1 1/4,
# r2 1/16; viewer i asks for layer i mod 3 once connected), interleaved (single, simulcast,
# single, simulcast, …) with the same binaries, so the machine's other load falls on both.
# MODES adds "simulcast-top" (the three layers published, every viewer left on r0) to separate
# the three-layer ingest from the spread, and "single-500k", "single-125k" (one layer at r1's
# and r2's bitrate) to show what the spread's smaller frames cost per packet without simulcast. CPU per delivered packet of each run is in its
# report (server utime+stime from /proc over the steady window); compare the pairs as ratios.
# With "single" and two "single-<rate>" modes beside "simulcast", the summary also compares the
# spread with its viewers on one-layer streams of their layers' bitrates. PACING=0 makes the
# publisher send each frame as one burst (see lib.sh).
# Usage: perf/scenarios/simulcast-cost.sh [pairs=3]   (MODES, default "single simulcast")
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/../out"
pairs="${1:-3}"
modes="${MODES:-single simulcast}"
bitrate="${BITRATE:-2M}"
tag="$bitrate-pacing${PACING:-2.5}"  # result files: one set per bitrate and pacing
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
        cp "$out/fanout-1000-livesfu$([ "${PACING:-2.5}" = 0 ] && echo -unpaced).json" "$out/simulcast-cost-$tag-$i-$mode.json"
    done
done
python3 - "$out" "$pairs" "$tag" $modes <<'PY'
import json, sys
out, pairs, tag, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
def run(i, m):
    j = json.load(open(f"{out}/simulcast-cost-{tag}-{i}-{m}.json"))
    s = j["server_process"]
    per_message = s["steady_datagrams_sent"] / s["steady_send_messages"] if s.get("steady_send_messages") else 0
    return {"us": s["steady_us_per_packet"], "pps": s["steady_packets_per_second"], "cpu": s["steady_cpu_fraction"],
            "delivery": j["packets"]["delivery"], "bps": s["steady_bytes_received"] / s["steady_seconds"], "per_message": per_message}
# The spread's viewers on one-layer streams of their layers' bitrates: the one-layer runs (the
# top's and the single-<rate> ones) with CPU summed over packets summed, a third of the viewers each.
same_frames = [m for m in modes if m == "single" or m.startswith("single-")] if "simulcast" in modes else []
print("| pair | " + " | ".join(modes) + " | " + " | ".join(f"{m} / {modes[0]}" for m in modes[1:])
      + (" | simulcast / same viewers on one-layer streams |" if len(same_frames) == 3 else " |"))
print("|---" * (2 * len(modes) + (1 if len(same_frames) == 3 else 0)) + "|")
sums = {m: [0.0, 0] for m in modes}
ratios = {m: [] for m in modes[1:]}
same = []
for i in range(1, pairs + 1):
    r = {m: run(i, m) for m in modes}
    for m in modes:
        sums[m][0] += r[m]["us"]
    cells = [f"{r[m]['us']:.2f} µs/pkt, {r[m]['pps'] / 1000:.1f}k pkt/s ({r[m]['bps'] * 8 / 1e6:.0f} Mbit/s), "
             f"{r[m]['per_message']:.2f} pkt/message, {r[m]['cpu'] * 100:.1f} % CPU, delivery {r[m]['delivery'] * 100:.4f} %" for m in modes]
    for m in modes[1:]:
        ratios[m].append(r[m]["us"] / r[modes[0]]["us"])
    tail = ""
    if len(same_frames) == 3:
        cpu = sum(r[m]["us"] * r[m]["pps"] for m in same_frames)
        pkts = sum(r[m]["pps"] for m in same_frames)
        same.append(r["simulcast"]["us"] / (cpu / pkts))
        tail = f" | {same[-1]:.3f}"
    print(f"| {i} | " + " | ".join(cells) + " | " + " | ".join(f"{ratios[m][-1]:.3f}" for m in modes[1:]) + tail + " |")
for m in modes[1:]:
    x = ratios[m]
    print(f"{m} / {modes[0]}: mean of pair ratios {sum(x) / len(x):.3f}, range {min(x):.3f}–{max(x):.3f}; "
          f"ratio of means {sums[m][0] / sums[modes[0]][0]:.3f}")
if same:
    print(f"simulcast / same viewers on one-layer streams: mean {sum(same) / len(same):.3f}, range {min(same):.3f}–{max(same):.3f}")
PY
