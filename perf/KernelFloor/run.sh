#!/usr/bin/env bash
# The kernel's share of one forwarded copy, on this machine: see README.md.
# Usage: perf/KernelFloor/run.sh [destinations (1000)] [rounds (2000)]   (root: makes a network namespace)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
n="${1:-1000}"
rounds="${2:-2000}"
send_cpu="${SERVER_CPU:-1}"
recv_cpu="${LOAD_CPU:-0}"
bin="$(mktemp -d)/udp_floor"
gcc -O2 -Wall -Wextra -o "$bin" "$here/udp_floor.c" -lpthread

ns="lsfu-floor-$$"
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$(dirname "$bin")"; }
trap cleanup EXIT
ip netns add "$ns"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
# A veth whose peer drops every frame at once (wrong destination MAC): what remains on the
# sender's CPU is the UDP/IP send path, as towards a NIC.
in_ns ip link add v0 type veth peer name v1
in_ns ip addr add 10.99.0.1/24 dev v0
in_ns ip link set v0 up
in_ns ip link set v1 up
in_ns ip neigh replace 10.99.0.2 lladdr 02:00:00:00:00:99 dev v0 nud permanent

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "sender on CPU $send_cpu, loopback receivers drained on CPU $recv_cpu; $n destinations × $rounds rounds of 1200-byte datagrams, sendmmsg batches of 64"
for i in 1 2 3; do
    in_ns "$bin" loopback "$n" "$rounds" "$send_cpu" "$recv_cpu"
    in_ns "$bin" dest 10.99.0.2 "$n" "$rounds" "$send_cpu"
done
