#!/usr/bin/env bash
# 100 rooms × 10 viewers: 100 publishers (2 Mbps VP8-like + audio each), 1000 viewers
# spread round-robin over the rooms, joining at 200/s, 30 s of media.
# Usage: perf/scenarios/rooms-100x10.sh [--target livesfu|pion] [--debug] [--no-build] [-- extra flags]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_all
start_server rooms-100x10
run_load rooms-100x10 --rooms 100 --viewers 1000 --join-rate 200 --duration 30 --video-bitrate 2M --fps 30 \
    --verify-sample 0.1 --gro --min-delivery 0.999 --max-p99-latency-ms 10
