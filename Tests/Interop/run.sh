#!/usr/bin/env bash
# Interop tests: real WebRTC stacks (aiortc, headless Chromium) against the livesfu binary
# (or the aiortc stand-in when LIVESFU_STANDIN=1). Called by scripts/test.sh from inside a
# loopback-only network namespace when root; runs on 127.0.0.1 either way.
#
# Writes <repo>/test-artifacts/interop-summary.txt as "<passed> <failed>" and exits non-zero
# on failure. Skipped tests (no chromium) are listed, counted apart, and are not failures.
#
# Env: LIVESFU_BIN, LIVESFU_ARGS, LIVESFU_STANDIN=1, CHROMIUM_BIN, INTEROP_PYTEST_ARGS
# (extra pytest arguments, e.g. "-k chromium"); arguments to this script go to pytest too.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ART="$ROOT/test-artifacts"
SUMMARY="$ART/interop-summary.txt"
mkdir -p "$ART"
rm -f "$SUMMARY" "$ART/interop-counts.txt" "$ART"/*.png "$ART"/server-*.log "$ART"/chromium*.log
fail() { echo "[interop] $*" >&2; echo "0 1" > "$SUMMARY"; exit 1; }
started=$(date +%s)

# Python environment (wheels only, from PyPI)
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[interop] creating $VENV" >&2
  python3 -m venv "$VENV" || fail "python3 -m venv failed (install python3-venv)"
fi
if ! "$VENV/bin/python" -c 'import aiortc, aiohttp, pytest, pytest_timeout' 2>/dev/null \
   || ! cmp -s "$HERE/requirements.txt" "$VENV/.interop-requirements.txt"; then
  echo "[interop] installing Python packages" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check --only-binary=:all: -r "$HERE/requirements.txt" >&2 \
    || fail "pip install failed"
  cp "$HERE/requirements.txt" "$VENV/.interop-requirements.txt"
fi

# Headless Chromium from Debian (no network in the namespace: install only works outside
# it, so try here and let tests that need it skip when it is still missing)
if [ -z "${CHROMIUM_BIN:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[interop] installing chromium" >&2
    timeout 300 apt-get install -y --no-install-recommends chromium >"$ART/apt-chromium.log" 2>&1 \
      || { timeout 120 apt-get update >>"$ART/apt-chromium.log" 2>&1 \
           && timeout 300 apt-get install -y --no-install-recommends chromium >>"$ART/apt-chromium.log" 2>&1; } \
      || echo "[interop] could not install chromium (see $ART/apt-chromium.log): browser tests will be skipped" >&2
  else
    echo "[interop] chromium missing and not root: browser tests will be skipped" >&2
  fi
fi

if [ "${LIVESFU_STANDIN:-}" = 1 ]; then
  echo "[interop] server under test: STAND-IN (Tests/Interop/standin_sfu.py), not livesfu" >&2
else
  bin="${LIVESFU_BIN:-$ROOT/.build/debug/livesfu}"
  [ -x "$bin" ] || fail "livesfu binary not found at $bin (build it, or set LIVESFU_BIN)"
  echo "[interop] server under test: $bin ${LIVESFU_ARGS:-}" >&2
fi

cd "$HERE"
# shellcheck disable=SC2086
timeout -k 10 600 "$VENV/bin/python" -m pytest -q ${INTEROP_PYTEST_ARGS:-} "$@"
rc=$?

if [ -f "$ART/interop-counts.txt" ]; then
  read -r passed failed skipped < "$ART/interop-counts.txt"
else
  passed=0; failed=1; skipped=0
fi
# pytest errors that are not test outcomes (collection, crash, timeout kill) count as a failure
if [ "$rc" != 0 ] && [ "$rc" != 5 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "$passed $failed" > "$SUMMARY"
echo "[interop] $passed passed, $failed failed, $skipped skipped in $(( $(date +%s) - started ))s" \
     "(artifacts: $ART)" >&2
[ "$failed" = 0 ]
