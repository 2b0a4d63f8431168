#!/usr/bin/env bash
# Installs and builds livesfu's native dependencies; idempotent and quick when all is there.
#  - Debian packages (when root and missing): libssl-dev, liburing-dev, libogg-dev,
#    libcurl4-openssl-dev (S3 uploads), libhiredis-dev (the cluster directory), pkg-config,
#    build tools.
#  - libsrtp 2.5.0 from Debian's *source* package, built --enable-openssl into .deps/prefix
#    as libsrtp2_ossl (its own name and .pc, so Debian's NSS-based copy can never be picked
#    by accident; NATIVE.md measured it 4x slower). scripts/patches/libsrtp-*.patch are applied
#    (in name order, -p1) to the fresh source before configure; a change to them rebuilds it.
# Set LIVESFU_SRTP=debian to use Debian's binary libsrtp2-dev instead (a fallback only).
# Source this file's output: it prints nothing but progress; callers use scripts/env.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"
PREFIX="$DEPS/prefix"
log() { echo "[bootstrap] $*" >&2; }

need_pkgs=()
for p in libssl-dev liburing-dev libogg-dev libcurl4-openssl-dev libhiredis-dev pkg-config make gcc curl ca-certificates patch; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ "${LIVESFU_SRTP:-}" = "debian" ]; then
  dpkg -s libsrtp2-dev >/dev/null 2>&1 || need_pkgs+=(libsrtp2-dev)
fi
for extra in ${LIVESFU_EXTRA_PKGS:-}; do
  dpkg -s "$extra" >/dev/null 2>&1 || need_pkgs+=("$extra")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian packages: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || apt-get update
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    log "missing Debian packages (run as root or install them): ${need_pkgs[*]}"; exit 1
  fi
fi

# A folder holding only GCC's libstdc++.a: Package.swift puts it on the release livesfu's
# library path, so the C++ runtime is linked in statically (less idle RSS than the .so).
if [ ! -e "$DEPS/static-cxx/libstdc++.a" ]; then
  cxx_archive="$(gcc -print-file-name=libstdc++.a 2>/dev/null || true)"
  if [ -f "$cxx_archive" ]; then
    mkdir -p "$DEPS/static-cxx" && ln -sf "$cxx_archive" "$DEPS/static-cxx/libstdc++.a"
  else
    log "no libstdc++.a (libstdc++-dev): release livesfu links libstdc++.so instead"
  fi
fi

[ "${LIVESFU_SRTP:-}" = "debian" ] && { log "using Debian's libsrtp2 (NSS backend, slower)"; exit 0; }

# The patches' names and contents: the build is redone when they change.
srtp_patches=()
for p in "$ROOT"/scripts/patches/libsrtp-*.patch; do [ -f "$p" ] && srtp_patches+=("$p"); done
if [ ${#srtp_patches[@]} -gt 0 ]; then
  patch_stamp="$(cd "$ROOT/scripts/patches" && sha256sum "${srtp_patches[@]##*/}" | sha256sum | cut -d' ' -f1)"
else
  patch_stamp="none"
fi
if [ -f "$PREFIX/lib/pkgconfig/libsrtp2_ossl.pc" ] && [ -f "$PREFIX/lib/libsrtp2_ossl.a" ] \
   && [ "$(cat "$PREFIX/lib/libsrtp2_ossl.patches" 2>/dev/null)" = "$patch_stamp" ]; then
  exit 0
fi

log "building libsrtp 2.5.0 against OpenSSL into $PREFIX"
mkdir -p "$DEPS/src" "$DEPS/apt/lists/partial" "$DEPS/apt/sources"
cd "$DEPS/src"
if ! ls libsrtp2_2.5.0*.orig.tar.* >/dev/null 2>&1; then
  # A private deb-src list built from the system's first deb822 stanza: the system's
  # apt configuration is left untouched.
  awk 'BEGIN{RS="";ORS="\n\n"} NR==1{print}' /etc/apt/sources.list.d/debian.sources \
    | sed 's/^Types: deb$/Types: deb-src/' > "$DEPS/apt/sources/src.sources"
  APT_OPTS=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$DEPS/apt/sources"
            -o Dir::State::Lists="$DEPS/apt/lists" -o Debug::NoLocking=1)
  apt-get "${APT_OPTS[@]}" update -qq >/dev/null
  apt-get "${APT_OPTS[@]}" source --download-only libsrtp2 >/dev/null
fi
tarball=$(ls libsrtp2_2.5.0*.orig.tar.* | head -1)
rm -rf build && mkdir build && tar -xf "$tarball" -C build --strip-components=1
cd build
for p in "${srtp_patches[@]}"; do
  log "applying ${p##*/}"
  patch -p1 --forward --quiet < "$p"
done
./configure --enable-openssl --prefix="$PREFIX" --disable-pcap >/dev/null
make -j"$(nproc)" libsrtp2.a >/dev/null
mkdir -p "$PREFIX/lib/pkgconfig" "$PREFIX/include/srtp2"
cp libsrtp2.a "$PREFIX/lib/libsrtp2_ossl.a"
cp include/srtp.h crypto/include/auth.h crypto/include/cipher.h crypto/include/crypto_types.h "$PREFIX/include/srtp2/"
cat > "$PREFIX/lib/pkgconfig/libsrtp2_ossl.pc" <<PC
prefix=$PREFIX
Name: libsrtp2_ossl
Description: libsrtp 2.5.0 built against OpenSSL for livesfu
Version: 2.5.0
Cflags: -I\${prefix}/include
Libs: -L\${prefix}/lib -lsrtp2_ossl -lcrypto
PC
echo "$patch_stamp" > "$PREFIX/lib/libsrtp2_ossl.patches"
log "libsrtp2_ossl ready (patches: ${#srtp_patches[@]}); relink: rm -f .build/*/livesfu*"
