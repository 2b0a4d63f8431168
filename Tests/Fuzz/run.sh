#!/usr/bin/env bash
# Runs one libFuzzer target over livesfu's parsers for a while.
#   Tests/Fuzz/run.sh <stun|rtp|rtcp|sdp|trickle|http|recording> [seconds=60]
# Builds the harness in release with -sanitize=fuzzer (and lld: gold cannot link it here)
# into .build-fuzz/, keeps each target's corpus in .build-fuzz/corpus/<target>/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${1:?target: stun rtp rtcp sdp trickle http recording}"
seconds="${2:-60}"
"$ROOT/scripts/bootstrap.sh"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
LIVESFU_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product livesfu-fuzz \
  -Xswiftc -sanitize=fuzzer -Xswiftc -use-ld=lld >&2
corpus=".build-fuzz/corpus/$target"
mkdir -p "$corpus"
seeds="$ROOT/Tests/Fuzz/seeds/$target"; mkdir -p "$corpus"
FUZZ_TARGET="$target" .build-fuzz/release/livesfu-fuzz "$corpus" ${seeds:+$( [ -d "$seeds" ] && echo "$seeds")} \
  -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 2>&1 | tail -25
