#!/usr/bin/env bash
# 100 rooms recorded at once: 100 publishers (2 Mbps VP8-like + audio each), one viewer per
# room (the fan-out is not what is measured here), 30 s of media, RECORD_ENABLED into
# RECORD_DIR (default /tmp/livesfu-perf-records); then every recording's state, bytes and
# frames: none may be damaged and no byte dropped (the writer thread keeps up with 100 × 2 Mbps).
# Usage: perf/scenarios/rooms-100-recorded.sh [--no-build] [-- extra livesfu-load flags]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dir="${RECORD_DIR:-/tmp/livesfu-perf-records}"
rm -rf "$dir"
LIVESFU_ARGS="--max-core-load 0 --record-enabled true --record-dir $dir ${LIVESFU_ARGS:-}"
build_all
start_server rooms-100-recorded
rc=0
run_load rooms-100-recorded --rooms 100 --viewers 100 --join-rate 200 --duration 30 --video-bitrate 2M --fps 30 \
    --verify-sample 0.1 --gro --min-delivery 0.999 || rc=$?
metrics="$(curl -fsS "$(server_url)/metrics" | grep -E '^livesfu_recording_(dropped|bytes_written)|^livesfu_recordings_damaged' || true)"
stop_server
echo "$metrics"
python3 - "$dir" <<'PY' || rc=1
import collections, glob, json, sys
files = [f for p in glob.glob(sys.argv[1] + "/*.json") for f in json.load(open(p))["files"]]
states = collections.Counter(f["state"] for f in files)
video = [f for f in files if f["kind"] == "video"]
print(f"recordings: {len(files)} files, states {dict(states)}, {sum(f['bytes'] for f in files) / 1e6:.1f} MB written")
print(f"video: {len(video)} files, {sum(f['frames'] for f in video)} frames, {sum(f['framesSkipped'] for f in video)} skipped")
damaged = [(f["name"], f.get("damage")) for f in files if f["state"] != "finalised"]
print("not finalised:", damaged or "none")
sys.exit(1 if damaged or len(files) != 200 else 0)
PY
exit "$rc"
