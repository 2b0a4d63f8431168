#!/usr/bin/env bash
# A longer libFuzzer run of one target (a campaign; the test command runs each for seconds):
#   Tests/Fuzz/run.sh <target> [seconds=600] [more libFuzzer flags…]
# Targets: FUZZ_TARGET=list .build-fuzz/release/livesfu-fuzz. Starts from the committed corpus
# and keeps what it finds in .build-fuzz/corpus/<target>; crashes go to .build-fuzz/crash-<target>-*,
# the whole log to .build-fuzz/run-<target>.log.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${1:?target (FUZZ_TARGET=list .build-fuzz/release/livesfu-fuzz lists them)}"
seconds="${2:-600}"
shift $(( $# >= 2 ? 2 : 1 ))
"$ROOT/scripts/bootstrap.sh" >&2
"$ROOT/Tests/Fuzz/build.sh" >&2
cd "$ROOT"
# Inputs up to 4 KB, 8 KB for the SDP targets (Chromium's offers are 5.6-6.3 KB).
max_len() { case "$1" in sdp|answer-viewer) echo 8192 ;; *) echo 4096 ;; esac; }
corpus=".build-fuzz/corpus/$target"
log=".build-fuzz/run-$target.log"
mkdir -p "$corpus"
SWIFT_BACKTRACE=enable=no FUZZ_TARGET="$target" FUZZ_FIXTURES="$ROOT/Tests/SFUTests/SDP/Fixtures" nice -n 10 .build-fuzz/release/livesfu-fuzz \
  "$corpus" "Tests/Fuzz/corpus/$target" -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=20 -rss_limit_mb=3072 \
  -detect_leaks=0 -print_final_stats=1 -artifact_prefix=".build-fuzz/crash-$target-" "$@" >"$log" 2>&1 || rc=$?
# The last status lines (runs, cov, ft, exec/s) and the final stats; the whole log stays in $log.
grep -aE '^#[0-9]+[[:space:]]+(pulse|DONE)|^stat::|Test unit written|ERROR|invariant' "$log" | tail -12
exit "${rc:-0}"
