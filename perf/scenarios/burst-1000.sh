#!/usr/bin/env bash
# A burst: 1000 viewers started at once (--join-rate 0) on a 2 Mbps stream; the bar is
# every viewer receiving media within 5 s of the first POST (--max-join-seconds 5).
# Usage: perf/scenarios/burst-1000.sh [--target livesfu|pion] [--debug] [--no-build] [-- extra flags]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_all
start_server burst-1000
run_load burst-1000 --viewers 1000 --join-rate 0 --http-concurrency 32 --duration 15 --video-bitrate 2M --fps 30 \
    --verify-sample 0.1 --gro --max-join-seconds 5 --min-delivery 0.999
