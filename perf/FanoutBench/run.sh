#!/bin/sh
# Runs livesfu-fanout-bench 3 times for each viewer count and prints each run's report (its last line is JSON).
# Usage: perf/FanoutBench/run.sh [viewer counts...]   (default: 1 10 100 500)
# Build first: source scripts/env.sh && swift build -c release --product livesfu-fanout-bench
set -e
cd "$(dirname "$0")/../.."
BIN=.build/release/livesfu-fanout-bench
[ -x "$BIN" ] || { echo "build $BIN first" >&2; exit 1; }
COUNTS=${*:-"1 10 100 500"}
for n in $COUNTS; do
    for run in 1 2 3; do
        "$BIN" --viewers "$n"
    done
done
