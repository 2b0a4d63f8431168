#!/usr/bin/env bash
# Regrows the committed corpus (Tests/Fuzz/corpus/<target>) from the real inputs: the browser
# offers (../shared/fixtures/sdp when present, Tests/SFUTests/SDP/Fixtures), the hand-made
# seeds (Tests/Fuzz/seeds), inputs the harness writes with the project's own builders
# (FUZZ_TARGET=seeds), what the existing corpus holds, plus SECONDS of fuzzing per target; then
# minimises it with -merge=1. Run after adding a target or changing a target's input format.
#   Tests/Fuzz/make-corpus.sh [seconds=60] [target…]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
seconds="${1:-60}"; shift || true
bin=".build-fuzz/release/livesfu-fuzz"
[ -x "$bin" ] || Tests/Fuzz/build.sh >&2
export FUZZ_FIXTURES="$ROOT/Tests/SFUTests/SDP/Fixtures" SWIFT_BACKTRACE=enable=no
# Inputs up to 4 KB, 8 KB for the SDP targets (Chromium's offers are 5.6-6.3 KB).
max_len() { case "$1" in sdp|answer-viewer) echo 8192 ;; *) echo 4096 ;; esac; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<< "$(FUZZ_TARGET=list "$bin")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
FUZZ_TARGET=seeds FUZZ_SEED_DIR="$work/gen" "$bin" >&2
offers=(Tests/SFUTests/SDP/Fixtures/*.sdp)
[ -d "$ROOT/../shared/fixtures/sdp" ] && offers+=("$ROOT"/../shared/fixtures/sdp/*.sdp)
for t in "${targets[@]}"; do
  in="$work/in-$t"; mkdir -p "$in"
  [ -d "Tests/Fuzz/corpus/$t" ] && cp -r "Tests/Fuzz/corpus/$t/." "$in/"
  [ -d "$work/gen/$t" ] && cp -r "$work/gen/$t/." "$in/"
  [ -d "Tests/Fuzz/seeds/$t" ] && cp -r "Tests/Fuzz/seeds/$t/." "$in/"
  case "$t" in
    sdp) for f in "${offers[@]}"; do cp "$f" "$in/$(basename "$f")-$RANDOM"; done ;;
    answer-viewer)
      for f in "${offers[@]}"; do
        for c in 0 3 7 11 19 35; do { printf "\\x$(printf %02x $c)"; cat "$f"; } > "$in/$(basename "$f")-$c"; done
      done ;;
  esac
  grown="$work/grown-$t"; mkdir -p "$grown"
  FUZZ_TARGET="$t" nice -n 10 "$bin" "$grown" "$in" -max_total_time="$seconds" -max_len="$(max_len "$t")" -detect_leaks=0 \
    -timeout=20 >"$work/$t.log" 2>&1 || { echo "[corpus] $t crashed while growing:"; tail -30 "$work/$t.log"; exit 1; }
  out="Tests/Fuzz/corpus/$t"; rm -rf "$out"; mkdir -p "$out"
  # -use_counters=0: one input per new edge (not per hit-count bucket) keeps the committed
  # corpus small (~0.9 MB of files, ~230 KB packed; the SDP targets are most of it).
  SWIFT_BACKTRACE=enable=no FUZZ_TARGET="$t" "$bin" -merge=1 -use_counters=0 -max_len="$(max_len "$t")" -detect_leaks=0 -timeout=20 "$out" "$in" "$grown" \
    >"$work/$t-merge.log" 2>&1
  echo "[corpus] $t: $(ls "$out" | wc -l) inputs, $(du -sk "$out" | cut -f1) KB" >&2
done
