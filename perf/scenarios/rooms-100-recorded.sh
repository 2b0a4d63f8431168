#!/usr/bin/env bash
# 100 rooms recorded at once: rooms-100x10 (100 publishers at 2 Mbps + audio, 1000 viewers)
# with RECORD_ENABLED into RECORD_DIR (default /tmp/livesfu-perf-records); then every
# recording's state and what was dropped (none may be damaged, no byte dropped).
# Usage: perf/scenarios/rooms-100-recorded.sh [-- extra livesfu-load flags]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${RECORD_DIR:-/tmp/livesfu-perf-records}"
rm -rf "$dir"
LIVESFU_ARGS="--record-enabled true --record-dir $dir ${LIVESFU_ARGS:-}" "$here/rooms-100x10.sh" "$@"
python3 - "$dir" <<'PY'
import collections, glob, json, sys
files = [f for p in glob.glob(sys.argv[1] + "/*.json") for f in json.load(open(p))["files"]]
states = collections.Counter(f["state"] for f in files)
video = [f for f in files if f["kind"] == "video"]
total = sum(f["bytes"] for f in files)
print(f"recordings: {len(files)} files, states {dict(states)}, {total / 1e6:.1f} MB written")
print(f"video: {len(video)} files, frames {sum(f['frames'] for f in video)}, skipped {sum(f['framesSkipped'] for f in video)}")
damaged = [f for f in files if f["state"] == "damaged"]
print("damaged:", [(f["name"], f.get("damage")) for f in damaged] or "none")
sys.exit(1 if damaged or states.get("recording") else 0)
PY
