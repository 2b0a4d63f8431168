#!/usr/bin/env bash
# Idle server: start it pinned, wait 5 s with no client, report its RSS (and after one
# publisher + one viewer came and went, what it keeps).
# Usage: perf/scenarios/idle.sh [--target livesfu|pion] [--debug] [--no-build]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_all
start_server idle
sleep 5
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
echo "idle RSS after 5 s: $rss_kb kB"
run_load idle-after-one --viewers 1 --duration 3 --quiet || true
sleep 2
rss_after_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
echo "RSS after one publisher and one viewer left: $rss_after_kb kB"
printf '{"target":"%s","idle_rss_kb":%s,"rss_after_one_session_kb":%s}\n' "$target" "$rss_kb" "$rss_after_kb" \
    | tee "$out/idle-$target.json"
