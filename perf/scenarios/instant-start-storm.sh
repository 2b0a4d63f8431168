#!/usr/bin/env bash
# A late-joiner storm: a publisher with a keyframe every 10 s (VP8-like 2 Mbps @ 30 fps +
# audio), then 1000 viewers started at once (--join-rate 0) about 5 s into a keyframe interval.
# Instant start should serve every one of them from the history with no keyframe request
# upstream: the video track's keyframe_requests in /api/rooms is read just before the burst and
# after every viewer connected, with livesfu_instant_starts_total and
# livesfu_keyframe_requests_total from /metrics; the publisher's own count of PLI/FIR received
# is in the load report. Viewers send their usual PLI on join (a browser that waits for a
# keyframe does), unless run with `-- --no-pli`.
# Usage: perf/scenarios/instant-start-storm.sh [--debug] [--no-build] [-- extra livesfu-load flags]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_all
start_server instant-start-storm
url="$(server_url)"
snap="$out/instant-start-storm-snapshots.txt"
: >"$snap"
snapshot() {  # <label>: the room's video track and the core counters
    {
        echo "== $1 ($(date -u +%H:%M:%S.%N | cut -c1-12) UTC)"
        curl -fsS "$url/api/rooms" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["rooms"]:
    for t in r.get("tracks", []):
        if t["kind"] == "video":
            print("room", r["name"], "viewers", r.get("viewers"), "connected", r.get("connected_viewers"), "video keyframes", t["keyframes"],
                  "keyframe_requests", t["keyframe_requests"], "instant_starts", t["instant_starts"])'
        curl -fsS "$url/metrics" | grep -E "^livesfu_(instant_starts_total|keyframe_requests_total|instant_start_(packets|bytes)_total|viewer_keyframe_rerequests_total|pli_sent_total|pli_received_total)" || true
    } >>"$snap" 2>&1
}
run_load instant-start-storm --viewers 1000 --join-rate 0 --http-concurrency 32 --settle 15 --duration 15 \
    --keyframe-interval 10 --video-bitrate 2M --fps 30 --verify-sample 0.1 --gro --min-delivery 0.999 &
load=$!
# The "before" is the last snapshot that still shows no viewer in the room (a snapshot takes
# a moment: one taken while the burst began is not it); then wait for every viewer to connect.
before=""
for _ in $(seq 1 600); do
    : >"$snap"
    snapshot 'before the burst'
    if grep -q " viewers 0 " "$snap"; then before="$(cat "$snap")"; fi
    if [ -n "$before" ] && grep -qE " viewers [1-9]" "$snap"; then break; fi
    sleep 0.05
done
: >"$snap"
for _ in $(seq 1 200); do
    c="$(curl -fsS "$url/api/rooms" 2>/dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin)["rooms"]; print(r[0]["connected_viewers"] if r else 0)' 2>/dev/null || echo 0)"
    if [ "$c" -ge 1000 ]; then break; fi
    sleep 0.1
done
sleep 3
snapshot "after: every viewer connected, +3 s"
wait "$load" || true
echo "$before"
cat "$snap"
