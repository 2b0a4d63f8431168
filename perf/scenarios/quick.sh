#!/usr/bin/env bash
# The quick check: 3 viewers for 5 s; prints RESULT: PASS or FAIL and exits non-zero on FAIL.
# Usage: perf/scenarios/quick.sh [--target livesfu|pion] [--debug] [--no-build]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_all
start_server quick
run_load quick --viewers 3 --duration 5 --min-delivery 0.99 --gro
