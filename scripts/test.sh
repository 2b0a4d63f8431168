#!/usr/bin/env bash
# The whole test suite: sets up what is missing, builds, then runs the Swift tests and the
# interop tests inside a loopback-only network namespace (when root), so no test traffic
# can leave 127.0.0.1. Ends with one summary line: "N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ "${LIVESFU_IN_NETNS:-}" != 1 ]; then
  # ffmpeg: the recording tests decode the files they write (skipped without it);
  # redis-server: the cluster tests start their own (Tests/Interop/test_cluster.py);
  # prometheus: its promtool checks /metrics and the alert rules (Tests/Interop/test_operations.py).
  LIVESFU_EXTRA_PKGS="iproute2 curl python3 python3-venv ffmpeg redis-server prometheus ${LIVESFU_EXTRA_PKGS:-}" \
    "$ROOT/scripts/bootstrap.sh" || { echo "0 passed, 1 failed"; exit 1; }
  source "$ROOT/scripts/env.sh"
  echo "[test] building" >&2
  blog="$(mktemp)"
  if ! swift build --build-tests >"$blog" 2>&1; then
    grep -E 'error|warning' "$blog" | head -50 >&2; tail -5 "$blog" >&2; echo "0 passed, 1 failed"; exit 1
  fi
  grep -E 'warning:' "$blog" | sort -u | head -20 >&2; rm -f "$blog"
  # The libFuzzer harness (release, ASan; its own scratch path): built here, where package
  # resolution can reach the network; run below. A failed build fails the fuzz step.
  if [ "${LIVESFU_SKIP_FUZZ:-}" != 1 ]; then
    echo "[test] building the fuzz harness" >&2
    mkdir -p "$ROOT/test-artifacts"; rm -f "$ROOT/test-artifacts/fuzz-summary.txt"
    fstart=$(date +%s)
    if ! "$ROOT/Tests/Fuzz/build.sh" >"$ROOT/test-artifacts/fuzz-build.log" 2>&1; then
      grep -E 'error' "$ROOT/test-artifacts/fuzz-build.log" | head -20 >&2
      rm -f "$ROOT/.build-fuzz/release/livesfu-fuzz"
    fi
    echo "[test] fuzz harness build: $(( $(date +%s) - fstart )) s" >&2
  fi
  # Interop set-up (venv, pip, chromium) needs the network: before the namespace.
  if [ -x "$ROOT/Tests/Interop/run.sh" ] && [ "${LIVESFU_SKIP_INTEROP:-}" != 1 ]; then
    "$ROOT/Tests/Interop/run.sh" --setup || echo "[test] interop set-up failed" >&2
  fi
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    echo "[test] entering a loopback-only network namespace" >&2
    exec unshare --net -- env LIVESFU_IN_NETNS=1 bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
  fi
  echo "[test] not root: running without a private network namespace" >&2
fi
source "$ROOT/scripts/env.sh"

passed=0; failed=0
out="$(mktemp)"
# Serial: many suites start live servers with pinned cores; in parallel on a 2-core machine
# they starve each other past the tests' socket timeouts.
swift test --skip-build --no-parallel "$@" 2>&1 | tee "$out"
swift_rc=${PIPESTATUS[0]}
# Swift Testing's summary: "Test run with N tests in M suites passed/failed after ..., with K issues"
line="$(grep -aE 'Test run with [0-9]+ test' "$out" | tail -1)"
n=$(echo "$line" | sed -nE 's/.*Test run with ([0-9]+) test.*/\1/p'); n=${n:-0}
f=$(echo "$line" | sed -nE 's/.*with ([0-9]+) issue.*/\1/p'); f=${f:-0}
if [ "$swift_rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
failedtests=$(grep -aE 'Test ".*" (failed|recorded an issue)' "$out" | grep -aoE 'Test "[^"]*"' | sort -u | wc -l)
[ "$failedtests" -gt 0 ] && f=$failedtests
passed=$((passed + n - f)); failed=$((failed + f))
rm -f "$out"

# Fuzzing: every libFuzzer target for FUZZ_SECONDS (10; under 3 min for the 14 targets) from the committed corpus, one
# pass or fail per target (Tests/Fuzz/short-run.sh).
if [ "${LIVESFU_SKIP_FUZZ:-}" != 1 ]; then
  "$ROOT/Tests/Fuzz/short-run.sh"
  if [ -f "$ROOT/test-artifacts/fuzz-summary.txt" ]; then
    read -r fp ff < "$ROOT/test-artifacts/fuzz-summary.txt"
    passed=$((passed + fp)); failed=$((failed + ff))
  else failed=$((failed + 1)); fi
fi

if [ -x "$ROOT/Tests/Interop/run.sh" ] && [ "${LIVESFU_SKIP_INTEROP:-}" != 1 ]; then
  "$ROOT/Tests/Interop/run.sh"
  ip_rc=$?
  if [ -f "$ROOT/test-artifacts/interop-summary.txt" ]; then
    read -r ip ifail < "$ROOT/test-artifacts/interop-summary.txt"
    passed=$((passed + ip)); failed=$((failed + ifail))
  elif [ $ip_rc != 0 ]; then failed=$((failed + 1)); fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
