#!/usr/bin/env bash
# The long run of the deterministic room simulation: SIM_SEEDS seeds (default 10 000) from
# SIM_FIRST_SEED (default 1), on one core and on two, in the debug test build `swift test` uses. Writes a result file
# (command, machine, date, seeds, failures, time) to perf/out/simulation-seeds.txt; each
# failure's report (scenario and replay command) is in the log next to it.
#   perf/simulation-seeds.sh            # 10 000 seeds
#   SIM_SEEDS=2000 perf/simulation-seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export SIM_SEEDS="${SIM_SEEDS:-10000}" SIM_FIRST_SEED="${SIM_FIRST_SEED:-1}"
mkdir -p perf/out
log=perf/out/simulation-seeds.log
swift build --build-tests >/dev/null
start=$(date +%s)
status=0
swift test --skip-build --filter "RoomSimulationTests/seeds" >"$log" 2>&1 || status=$?
end=$(date +%s)
summary=$(grep -E "^room simulation" "$log" | tr "\n" ";" || echo "no summary (status $status)")
{
  echo "command: SIM_SEEDS=$SIM_SEEDS SIM_FIRST_SEED=$SIM_FIRST_SEED perf/simulation-seeds.sh"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit: $(git rev-parse --short HEAD)"
  echo "result: $summary"
  echo "wall time: $((end - start)) s"
} | tee perf/out/simulation-seeds.txt
exit $status
