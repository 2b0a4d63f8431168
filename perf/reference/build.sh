#!/usr/bin/env bash
# Builds the Pion reference forwarder into <repo>/.build-reference/pion-sfu,
# from Debian's packages only (GOPATH mode, no module downloads). Installs the
# packages first when they are missing and we are root. Idempotent: a second
# run rebuilds only what changed (Go's build cache lives beside the binary).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$repo/.build-reference"
packages=(golang-go golang-github-pion-webrtc.v3-dev)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    if [ "$(id -u)" != 0 ]; then
        echo "build.sh: missing Debian packages: ${missing[*]}; as root: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "build.sh: installing ${missing[*]}" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
fi

# GOPATH mode: our code in a private GOPATH (a link to this folder), every
# dependency from /usr/share/gocode, where Debian's golang-*-dev packages put
# their sources. Imports with a major version (github.com/pion/webrtc/v3)
# resolve to github.com/pion/webrtc there through Go's "minimal module
# compatibility", which applies only to code beside a go.mod: hence
# perf/reference/go.mod, which is otherwise unused.
mkdir -p "$out/gopath/src"
ln -sfn "$here" "$out/gopath/src/pion-sfu"
export GO111MODULE=off
export GOPATH="$out/gopath:/usr/share/gocode"
export GOCACHE="$out/go-cache"
export GOFLAGS=""
export GOPROXY=off
export CGO_ENABLED=0

cd "$out"
go build -trimpath -o "$out/pion-sfu" pion-sfu
echo "build.sh: built $out/pion-sfu ($(go version | cut -d' ' -f3), pion webrtc $(dpkg-query -W -f='${Version}' golang-github-pion-webrtc.v3-dev))" >&2
