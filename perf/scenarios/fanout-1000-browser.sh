#!/usr/bin/env bash
# As fanout-1000.sh, but the publisher sends keyframes only when asked (PLI/FIR), as a
# browser does, instead of every 2 s as an OBS-like encoder: the steady state is then delta
# frames only. Server on CPU ${SERVER_CPU:-1}, load generator on ${LOAD_CPU:-0}.
# Usage: perf/scenarios/fanout-1000-browser.sh [--target livesfu|pion] [--debug] [--no-build] [-- extra livesfu-load flags]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_all
start_server fanout-1000-browser
run_load fanout-1000-browser --viewers 1000 --join-rate 200 --duration 30 --video-bitrate 2M --fps 30 \
    --keyframe-interval 0 --verify-sample 0.1 --gro --min-delivery 0.999 --max-p99-latency-ms 10
