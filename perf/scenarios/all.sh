#!/usr/bin/env bash
# Every scenario against livesfu and the Pion reference, one after the other, then the
# Markdown tables of perf/RESULTS.md (perf/scenarios/summarize.py). Builds once first.
# Usage: perf/scenarios/all.sh [--no-build] [scenario…]   (default: all of them)
# Environment as for each scenario (SERVER_CPU, LOAD_CPU, PACING, NICE, …).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build=(--no-build)
if [ "${1:-}" = --no-build ]; then shift; else
    (source "$here/../../scripts/env.sh" && cd "$here/../.." && swift build -c release --product livesfu \
        && swift build -c release --product livesfu-load) || exit 2
    "$here/../reference/build.sh" || exit 2
fi
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
    scenarios=(idle fanout-200 fanout-1000 fanout-1000-browser burst-1000 rooms-100x10 fanout-2000)
fi
for s in "${scenarios[@]}"; do
    for target in livesfu pion; do
        echo "=== $s against $target ($(date -u +%H:%M:%S))"
        "$here/$s.sh" "${build[@]}" --target "$target" | tail -40
    done
done
"$here/summarize.py"
