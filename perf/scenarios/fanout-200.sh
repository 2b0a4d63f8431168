#!/usr/bin/env bash
# 1 publisher (VP8-like 2 Mbps @ 30 fps + Opus-like audio) → 200 viewers joining at 200/s,
# 30 s of media after the last join. Server on CPU ${SERVER_CPU:-1}, load generator on ${LOAD_CPU:-0}.
# Usage: perf/scenarios/fanout-200.sh [--target livesfu|pion] [--debug] [--no-build] [-- extra livesfu-load flags]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_all
start_server fanout-200
run_load fanout-200 --viewers 200 --join-rate 200 --duration 20 --video-bitrate 2M --fps 30 \
    --verify-sample 0.1 --gro --min-delivery 0.999 --max-p99-latency-ms 10
