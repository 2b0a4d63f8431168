#!/usr/bin/env bash
# Recording's cost on the media path: fanout-1000 (1 publisher at 2 Mbps → 1000 viewers) with
# the room recorded and without, interleaved in pairs (off, on, off, on, …), same binaries.
# CPU per delivered packet of each run is in its report; compare the pairs as ratios.
# Usage: perf/scenarios/recording-cost.sh [pairs=2]   (RECORD_DIR: scratch folder, default /tmp/livesfu-perf-records)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pairs="${1:-2}"
dir="${RECORD_DIR:-/tmp/livesfu-perf-records}"
"$here/fanout-1000.sh" --no-build -- --duration 1 >/dev/null 2>&1 || true  # warm the page cache
for i in $(seq 1 "$pairs"); do
    for mode in off on; do
        rm -rf "$dir"
        # Admission control off, as in the other before/after comparisons: every run gets all 1 000 viewers.
        if [ "$mode" = on ]; then args="--max-core-load 0 --record-enabled true --record-dir $dir"; else args="--max-core-load 0"; fi
        echo "== pair $i, recording $mode"
        LIVESFU_ARGS="$args" "$here/fanout-1000.sh" --no-build | grep -E "CPU|per delivered|delivery|allocat" || true
        cp "$here/../out/fanout-1000-livesfu.json" "$here/../out/recording-cost-$i-$mode.json"
        if [ "$mode" = on ]; then
            python3 - "$dir" <<'PY'
import glob, json, sys
files = [f for p in glob.glob(sys.argv[1] + "/*.json") for f in json.load(open(p))["files"]]
print("recorded:", [(f["kind"], f["state"], f["frames"], f["bytes"], f.get("damage")) for f in files])
PY
        fi
    done
done
