#!/usr/bin/env bash
# Instructions per received publisher RTP packet on the ingest path (RoomManager.handleRTP,
# inclusive: SRTP unprotect, parse, NACK/TWCC bookkeeping, rewrite into the history; not the
# fan-out, which perf/callgrind-fanout.sh counts), by callgrind: valid on a loaded machine.
# Usage: [BENCH_FLAGS=--shard] perf/callgrind-ingest.sh [viewers=20] [packets=2000] [binary]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n=${1:-20}; p=${2:-2000}; bin=${3:-$ROOT/.build/release/livesfu-fanout-bench}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
objcopy --strip-debug "$bin" "$work/bench"
# The measuring shim's received (its mangled name changes with its signature).
sym=$(nm "$bin" | grep -o '\$s20livesfu_fanout_bench17MeasuringReceiverC8received_4from[A-Za-z0-9_]*tF$' | head -1)
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
  --toggle-collect="$sym" \
  "$work/bench" --viewers "$n" --packets "$p" --burst 1 ${BENCH_FLAGS:-} > "$work/log" 2>&1 || true
grep -q '"minDelivered"' "$work/log" || { echo "bench failed: $(tail -1 "$work/log")" >&2; exit 1; }
python3 - "$work/cg.out" <<'PY'
import re, sys
raw = open(sys.argv[1]).read()
names = {m.group(1): m.group(2) for m in re.finditer(r'^c?fn=\((\d+)\) (\S+)', raw, re.M)}
ids = {k for k, v in names.items() if 'RoomManagerC9handleRTP' in v}
calls = incl = 0
for m in re.finditer(r'^cfn=\((\d+)\).*\ncalls=(\d+)[^\n]*\n\S+ (\d+)', raw, re.M):
    if m.group(1) in ids:
        calls += int(m.group(2)); incl += int(m.group(3))
print(f'publisher RTP packets (handleRTP calls): {calls}')
print(f'instructions per packet, handleRTP inclusive: {incl / max(calls, 1):.0f}')
PY
