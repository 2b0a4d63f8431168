#!/usr/bin/env bash
# Builds the libFuzzer harness: release, -sanitize=fuzzer,address, -enable-testing (the
# harness reaches internal types), linked with lld (gold cannot link it here), in its own
# scratch path .build-fuzz/ (the flags differ from the normal build's, so nothing is shared).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
LIVESFU_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product livesfu-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing -Xswiftc -use-ld=lld "$@"
