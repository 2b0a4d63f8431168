#!/usr/bin/env bash
# Checks and measures one libsrtp patch against the build without it (AES-GCM over OpenSSL).
# Builds libsrtp 2.5.0 twice in a temporary folder from the tarball scripts/bootstrap.sh fetched
# (.deps/src): "without" = scripts/patches/libsrtp-*.patch minus PATCH, "with" = all of them.
# Then: gcm_differential on both (the hashes must match: same bytes and verdicts), gcm_calls
# on both (round trips and forgeries), and, when valgrind is installed, callgrind's
# instructions per call of srtp_protect / unprotect / protect_rtcp / unprotect_rtcp.
# With RUNTEST=1 also libsrtp's own `make runtest` on the patched tree.
# Usage: perf/SRTPGCMCheck/run.sh [PATCH=the last libsrtp-*.patch in name order]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/perf/SRTPGCMCheck"
patches=("$ROOT"/scripts/patches/libsrtp-*.patch)
target="${1:-${patches[-1]}}"
tarball=$(ls "$ROOT"/.deps/src/libsrtp2_2.5.0*.orig.tar.* 2>/dev/null | head -1)
[ -n "$tarball" ] || { echo "no libsrtp tarball in .deps/src: run scripts/bootstrap.sh" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

for side in without with; do
  mkdir "$work/$side" && tar -xf "$tarball" -C "$work/$side" --strip-components=1
  for p in "${patches[@]}"; do
    [ "$side" = without ] && [ "$(basename "$p")" = "$(basename "$target")" ] && continue
    patch -d "$work/$side" -p1 --forward --quiet < "$p"
  done
  (cd "$work/$side" && ./configure --enable-openssl --disable-pcap >/dev/null \
     && make -j"$(nproc)" libsrtp2.a >/dev/null 2>&1)
  mkdir -p "$work/$side/inc/srtp2" && cp "$work/$side/include/srtp.h" "$work/$side/inc/srtp2/"
  gcc -O2 -I"$work/$side/inc" "$HERE/gcm_calls.c" "$work/$side/libsrtp2.a" -lcrypto -o "$work/calls-$side"
  gcc -O2 -DHAVE_CONFIG_H -I"$work/$side/include" -I"$work/$side/crypto/include" \
    "$HERE/gcm_differential.c" "$work/$side/libsrtp2.a" -lcrypto -o "$work/differential-$side"
done

echo "patch under test: $(basename "$target")"
a=$("$work/differential-without"); b=$("$work/differential-with")
echo "without: $a"; echo "with:    $b"
[ "${a##*hash }" = "${b##*hash }" ] || { echo "DIFFERENT outputs" >&2; exit 1; }
"$work/calls-without" 20000 | sed 's/^/without: /'
"$work/calls-with" 20000 | sed 's/^/with:    /'

if command -v valgrind >/dev/null; then
  echo "callgrind, instructions per call (1200-byte RTP, 100-byte SRTCP):"
  printf '  %-26s %10s %10s\n' function without with
  for fn in srtp_protect_mki srtp_unprotect_mki srtp_protect_rtcp_mki srtp_unprotect_rtcp_mki; do
    row=()
    for side in without with; do
      NOTAMPER=1 valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" --toggle-collect="$fn" \
        "$work/calls-$side" 2000 >/dev/null 2>&1
      total=$(callgrind_annotate "$work/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
      row+=("$((total / 2000))")
    done
    printf '  %-26s %10s %10s\n' "$fn" "${row[0]}" "${row[1]}"
  done
fi

if [ "${RUNTEST:-}" = 1 ]; then
  if (cd "$work/with" && make -j"$(nproc)" >/dev/null 2>&1 && make runtest >"$work/runtest.log" 2>&1); then
    echo "libsrtp make runtest (patched tree): passed"
  else
    tail -20 "$work/runtest.log"; echo "libsrtp make runtest (patched tree): FAILED" >&2; exit 1
  fi
fi
