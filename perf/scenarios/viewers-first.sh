#!/usr/bin/env bash
# Viewers before the publisher: 10 viewers join an empty room, then the publisher comes;
# every viewer must get media (DESIGN §9: the Go server's viewers never did; Pion's get 404).
# Usage: perf/scenarios/viewers-first.sh [--target livesfu|pion] [--debug] [--no-build] [-- extra flags]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_all
start_server viewers-first
run_load viewers-first --viewers-first --viewers 10 --duration 5 --settle 2 --gro --min-delivery 0.99
