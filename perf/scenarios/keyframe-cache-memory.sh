#!/usr/bin/env bash
# What instant start costs in memory: 100 rooms, each a publisher (VP8-like 2 Mbps @ 30 fps +
# audio) and one viewer, 30 s of media, with a keyframe every 2 s and every 10 s, with
# INSTANT_START_MAX_BYTES=0 (the history holds ~2.5 s of packets) and the default 4 MiB (the
# history grows to hold a keyframe interval and a quarter), interleaved per interval (off, on).
# The server's RSS at the end of each run (sessions still up) is in its report; the
# difference on/off over the 100 video tracks is the keyframe cache's cost per track.
# Usage: perf/scenarios/keyframe-cache-memory.sh [--no-build]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/../out"
build="${1:-}"
intervals="${INTERVALS:-2 10}"
first=1
for k in $intervals; do
    for max in 0 4194304; do
        echo "== keyframe interval $k s, INSTANT_START_MAX_BYTES=$max ($(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg))"
        flag=--no-build
        if ((first)) && [ "$build" != --no-build ]; then flag=""; fi
        first=0
        (
            export INSTANT_START_MAX_BYTES="$max"
            # shellcheck disable=SC1091
            source "$here/lib.sh" $flag
            build_all
            start_server keyframe-cache-memory
            run_load keyframe-cache-memory --rooms 100 --viewers 100 --join-rate 200 --duration 30 --video-bitrate 2M \
                --fps 30 --keyframe-interval "$k" --verify-sample 0.1 --gro --min-delivery 0.999
        ) | grep -E "^(command|viewers|packets|server)" || true
        cp "$out/keyframe-cache-memory-livesfu.json" "$out/keyframe-cache-memory-$k-$max.json"
    done
done
python3 - "$out" $intervals <<'PY'
import json, sys
out, intervals = sys.argv[1], sys.argv[2:]
print("| keyframe interval | RSS, instant start off (0) | RSS, default (4 MiB) | difference | per video track |")
print("|---|---|---|---|---|")
for k in intervals:
    r = {m: json.load(open(f"{out}/keyframe-cache-memory-{k}-{m}.json")) for m in ("0", "4194304")}
    off, on = (r[m]["server_process"]["rss_bytes"] for m in ("0", "4194304"))
    d = on - off
    print(f"| {k} s | {off / 2**20:.1f} MiB | {on / 2**20:.1f} MiB | {d / 2**20:.1f} MiB | {d / 100 / 2**20:.2f} MiB ({d / 100 / 1024:.0f} KiB) |")
    for m in ("0", "4194304"):
        p = r[m]["packets"]
        print(f"  (max {m}: delivery {p['delivery'] * 100:.4f} %, RSS before viewers {r[m]['server_process'].get('rss_before_viewers_bytes', 0) / 2**20:.1f} MiB, peak {r[m]['server_process']['rss_peak_bytes'] / 2**20:.1f} MiB)")
PY
