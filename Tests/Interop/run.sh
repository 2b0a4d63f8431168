#!/usr/bin/env bash
# Interop tests: real WebRTC stacks (aiortc, headless Chromium) against the livesfu binary
# (or the aiortc stand-in when LIVESFU_STANDIN=1). Called by scripts/test.sh from inside a
# loopback-only network namespace when root; runs on 127.0.0.1 either way.
#
# Writes <repo>/test-artifacts/interop-summary.txt as "<passed> <failed>" and exits non-zero
# on failure. Skipped tests (no chromium) are listed, counted apart, and are not failures.
#
# Env: LIVESFU_BIN, LIVESFU_ARGS, LIVESFU_ARGS_TEMPLATE, LIVESFU_STANDIN=1, CHROMIUM_BIN,
# INTEROP_TIMEOUT (600 s), INTEROP_SKIP_QUALITY=1 (leave out the issue-6 loss/bitrate tests),
# INTEROP_PYTEST_ARGS
# (extra pytest arguments, e.g. "-k chromium"); arguments to this script go to pytest too.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ART="$ROOT/test-artifacts"
SUMMARY="$ART/interop-summary.txt"
mkdir -p "$ART"
[ "${1:-}" = --setup ] || rm -f "$SUMMARY" "$ART/interop-counts.txt" "$ART"/*.png "$ART"/server-*.log "$ART"/chromium*.log "$ART"/*-stats.json
fail() { echo "[interop] $*" >&2; echo "0 1" > "$SUMMARY"; exit 1; }
started=$(date +%s)

# Set-up needs the network (PyPI, Debian), which the loopback-only namespace lacks: callers
# should run `run.sh --setup` before entering it (scripts/test.sh). Inside the namespace,
# root tries the host's network namespace through nsenter where the sandbox allows it.
outside() {
  if [ "${LIVESFU_IN_NETNS:-}" = 1 ] && [ "$(id -u)" = 0 ] && command -v nsenter >/dev/null \
     && nsenter --net=/proc/1/ns/net -- true 2>/dev/null; then
    nsenter --net=/proc/1/ns/net -- "$@"
  else
    "$@"
  fi
}
hint() {
  [ "${LIVESFU_IN_NETNS:-}" = 1 ] && echo "[interop] (inside the loopback-only namespace there is no network:" \
    "run 'Tests/Interop/run.sh --setup' before entering it)" >&2
  return 0
}

setup() {
  local VENV="$ROOT/.venv"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "[interop] creating $VENV" >&2
    python3 -m venv "$VENV" || { echo "[interop] python3 -m venv failed (install python3-venv)" >&2; return 1; }
  fi
  if ! "$VENV/bin/python" -c 'import aiortc, aiohttp, pytest, pytest_timeout' 2>/dev/null \
     || ! cmp -s "$HERE/requirements.txt" "$VENV/.interop-requirements.txt"; then
    echo "[interop] installing Python packages" >&2
    outside "$VENV/bin/pip" install -q --disable-pip-version-check --only-binary=:all: \
      -r "$HERE/requirements.txt" >&2 || { echo "[interop] pip install failed" >&2; hint; return 1; }
    cp "$HERE/requirements.txt" "$VENV/.interop-requirements.txt"
  fi
  # Headless Chromium from Debian; tests that need it are skipped when it is still missing
  if [ -z "${CHROMIUM_BIN:-}" ] && ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "[interop] installing chromium" >&2
      { outside timeout 300 apt-get install -y --no-install-recommends chromium \
        || { outside timeout 120 apt-get update && \
             outside timeout 300 apt-get install -y --no-install-recommends chromium; }; } \
        >"$ART/apt-chromium.log" 2>&1 \
        || echo "[interop] could not install chromium (see $ART/apt-chromium.log): browser tests will be skipped" >&2
      hint
    else
      echo "[interop] chromium missing and not root: browser tests will be skipped" >&2
    fi
  fi
  return 0
}

if [ "${1:-}" = --setup ]; then
  setup; exit $?
fi
setup || fail "set-up failed"
VENV="$ROOT/.venv"

if [ "${LIVESFU_STANDIN:-}" = 1 ]; then
  echo "[interop] server under test: STAND-IN (Tests/Interop/standin_sfu.py), not livesfu" >&2
else
  bin="${LIVESFU_BIN:-$ROOT/.build/debug/livesfu}"
  [ -x "$bin" ] || fail "livesfu binary not found at $bin (build it, or set LIVESFU_BIN)"
  echo "[interop] server under test: $bin ${LIVESFU_ARGS:-}" >&2
fi

cd "$HERE"
# shellcheck disable=SC2086
# timeout makes itself a process-group leader: on expiry it signals the whole group, and
# afterwards the group is killed anyway, so no browser or server outlives the run
marker=()
[ "${INTEROP_SKIP_QUALITY:-}" = 1 ] && marker=(-m "not quality")
timeout -k 10 "${INTEROP_TIMEOUT:-600}" "$VENV/bin/python" -m pytest -q "${marker[@]}" ${INTEROP_PYTEST_ARGS:-} "$@" &
pid=$!
wait "$pid"
rc=$?
kill -KILL -- "-$pid" 2>/dev/null

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
