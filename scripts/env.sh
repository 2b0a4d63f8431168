# Sourced by the project's scripts: where SwiftPM finds the project-built libsrtp2_ossl.
LIVESFU_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PKG_CONFIG_PATH="$LIVESFU_ROOT/.deps/prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
