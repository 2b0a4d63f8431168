#!/usr/bin/env bash
# The fuzzing part of the test command (scripts/test.sh): every target of the harness for
# FUZZ_SECONDS (default 10) from the committed corpus (Tests/Fuzz/corpus/<target>, copied
# to a scratch folder so the committed one is never changed), under AddressSanitizer.
# A crash, a sanitizer report, a broken invariant, a timeout or an out-of-memory fails the
# target; its input is saved as test-artifacts/fuzz/<target>-crash-… (libFuzzer's name).
# Prints one line per target and leaves "passed failed" in test-artifacts/fuzz-summary.txt.
#   Tests/Fuzz/short-run.sh [target…]    (expects Tests/Fuzz/build.sh to have run)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
bin=".build-fuzz/release/livesfu-fuzz"
seconds="${FUZZ_SECONDS:-10}"
art="$ROOT/test-artifacts/fuzz"
rm -rf "$art"; mkdir -p "$art"  # this run's logs and crash inputs only
summary="$ROOT/test-artifacts/fuzz-summary.txt"
if [ ! -x "$bin" ]; then
  echo "[fuzz] no harness binary ($bin): the fuzz build failed" >&2
  echo "0 1" > "$summary"; exit 1
fi
# Inputs up to 4 KB, 8 KB for the SDP targets (Chromium's offers are 5.6-6.3 KB).
max_len() { case "$1" in sdp|answer-viewer) echo 8192 ;; *) echo 4096 ;; esac; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<< "$(FUZZ_TARGET=list "$bin")"
if [ ${#targets[@]} = 0 ]; then
  echo "[fuzz] the harness lists no targets (FUZZ_TARGET=list $bin failed)" >&2
  echo "0 1" > "$summary"; exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0; failed=0
export FUZZ_FIXTURES="$ROOT/Tests/SFUTests/SDP/Fixtures"
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  [ -d "Tests/Fuzz/corpus/$t" ] && cp -r "Tests/Fuzz/corpus/$t/." "$work/$t/"
  [ -d "Tests/Fuzz/seeds/$t" ] && cp -r "Tests/Fuzz/seeds/$t/." "$work/$t/"
  case "$t" in sdp|answer-viewer) cp Tests/SFUTests/SDP/Fixtures/*.sdp "$work/$t/" ;; esac
  log="$art/$t.log"
  # -detect_leaks=0: the Swift runtime's metadata caches and the harness's once-made state
  # (identities, sockets) are reported as leaks; memory growth is caught by -rss_limit_mb.
  SWIFT_BACKTRACE=enable=no FUZZ_TARGET="$t" nice -n 10 "$bin" "$work/$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=20 \
    -rss_limit_mb=3072 -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$art/$t-" >"$log" 2>&1
  rc=$?
  runs=$(grep -aoE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  cov=$(grep -aoE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  if [ $rc = 0 ]; then
    passed=$((passed + 1))
    echo "[fuzz] $t: ok, ${runs:-?} runs in ${seconds}s, coverage ${cov:-?} edges" >&2
  else
    failed=$((failed + 1))
    echo "[fuzz] $t: FAILED (exit $rc), input saved under test-artifacts/fuzz/, log $log:" >&2
    grep -aE 'ERROR|invariant|Fatal error|SUMMARY|Test unit written' "$log" | head -8 >&2
  fi
done
echo "$passed $failed" > "$summary"
[ "$failed" = 0 ]
