#!/usr/bin/env bash
# Sets up what is missing, builds livesfu in release mode and runs it with the given flags.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
swift build -c release --product livesfu >&2
exec "$ROOT/.build/release/livesfu" "$@"
