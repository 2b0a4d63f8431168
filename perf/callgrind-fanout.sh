#!/usr/bin/env bash
# Instructions per forwarded copy, by library, counted by callgrind (valid on a loaded machine).
# Usage: [BENCH_FLAGS="--shard|--simulcast top|moved|spread|--picture-id"] [KEEP_FLAT=file] perf/callgrind-fanout.sh [viewers=100] [burst=1] [packets=300] [binary]
# Counts everything under the bench's MeasuringReceiver.measuredBatchEnded (RoomManager.batchEnded
# while measuring: the fan-out, plus the socket flush's user-space part; not set-up, warm-up or
# --simulcast's layer moves) and divides by the copies the viewers received meanwhile.
# valgrind 3.19 cannot read Swift's DWARF 5, so a copy without debug info (symbols kept) is run;
# under valgrind ICE set-up of ~1000 viewers times out, so 100 is the default (the per-copy
# count hardly depends on N). Retries when the set-up fails under load.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n=${1:-100}; b=${2:-1}; p=${3:-300}; bin=${4:-$ROOT/.build/release/livesfu-fanout-bench}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
objcopy --strip-debug "$bin" "$work/bench"
# The measuring shim's measuredBatchEnded (its mangled name changes with its signature).
sym=$(nm "$bin" | grep -o '\$s20livesfu_fanout_bench17MeasuringReceiverC18measuredBatchEnded[A-Za-z0-9_]*tF$' | head -1)
[ -n "$sym" ] || { echo "no MeasuringReceiver.measuredBatchEnded in $bin" >&2; exit 1; }
for try in 1 2 3 4; do
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    --toggle-collect="$sym" \
    "$work/bench" --viewers "$n" --packets "$p" --burst "$b" ${BENCH_FLAGS:-} > "$work/log" 2>&1 || true
  grep -q '"minDelivered"' "$work/log" && break
  echo "set-up failed under valgrind (try $try): $(grep -v '^==' "$work/log" | tail -1)" >&2
done
callgrind_annotate --threshold=100 "$work/cg.out" > "$work/flat"
[ -n "${KEEP_FLAT:-}" ] && cp "$work/flat" "$KEEP_FLAT"
python3 - "$work/flat" "$work/log" <<'PY'
import json, re, sys
# The copies made while measuring, as the bench counts them (what its viewers received):
# callgrind's call counts of srtp_protect_mki are not limited to the toggled function.
copies = json.loads([l for l in open(sys.argv[2]) if l.startswith('{')][-1])['copies']
libsrtp = re.compile(r'srtp|bitvector|rdbx|cipher|auth|key_limit|octet|v128|crypto_kernel|null_')
tot = {}
for line in open(sys.argv[1]):
    m = re.match(r'\s*([\d,]+) \([\s\d.]+%\)\s+(.*)\[(.*)\]\s*$', line)
    if not m: continue
    ir, fn, obj = int(m.group(1).replace(',', '')), m.group(2), m.group(3).split('/')[-1]
    if 'bench' in obj:
        obj = 'libsrtp' if libsrtp.search(fn) and not fn.startswith('???:$s') else 'SFU (Swift: SFU, Reactor)'
    tot[obj] = tot.get(obj, 0) + ir
total = sum(tot.values())
print(f'copies (packets the viewers received while measuring): {copies}')
print(f'instructions per copy: {total / copies:.0f}')
for k, v in sorted(tot.items(), key=lambda x: -x[1]):
    print(f'  {k:28s} {v / copies:7.0f}  ({100 * v / total:4.1f} %)')
PY
