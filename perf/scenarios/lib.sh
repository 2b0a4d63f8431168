#!/usr/bin/env bash
# Shared by the scenario scripts: build, start the server pinned to one CPU, run
# livesfu-load pinned to the other, stop the server. Sourced, not run.
#
#   --target livesfu|pion   which server (default livesfu)
#   --debug                 use debug builds (quick checks; figures are not representative)
#   --no-build              use the binaries already built
#   anything after --       passed to livesfu-load (e.g. -- --duration 60)
#
# Environment: SERVER_CPU (default 1), LOAD_CPU (default 0), LIVESFU_ARGS (extra server
# flags), LIVESFU_BIN (another livesfu binary, e.g. a saved base build for a before/after),
# PACING (the publishers' pacing factor, default 2.5 as libwebrtc's pacer, with libwebrtc's
# 40 ms burst budget: livesfu-load --pacing-burst-ms; 0 sends each video frame as one burst), LIVESFU_PORT (8080), PION_PORT (8090), PION_UDP_PORT (40000), NICE (e.g. -10: run
# both server and load generator at that niceness, each in a session and autogroup of its own
# with that niceness too, for a machine that is busy with other work).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$repo/perf/out"
mkdir -p "$out"

target=livesfu
config=release
build=1
load_extra=()
while (($#)); do
    case "$1" in
        --target) target="$2"; shift 2 ;;
        --target=*) target="${1#--target=}"; shift ;;
        --debug) config=debug; shift ;;
        --no-build) build=0; shift ;;
        --) shift; load_extra=("$@"); break ;;
        *) echo "unknown argument: $1 (see perf/scenarios/lib.sh)" >&2; exit 2 ;;
    esac
done
case "$target" in livesfu|pion) ;; *) echo "--target is livesfu or pion" >&2; exit 2 ;; esac

server_cpu="${SERVER_CPU:-1}"
load_cpu="${LOAD_CPU:-0}"
server_pid=""
nice_cmd=()
if [ -n "${NICE:-}" ]; then
    # With autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled = 1) a nice value only
    # ranks a process within its session's group, and each session's group gets an equal share
    # of a CPU: plain `nice` does nothing against builds started from other sessions. So each
    # process is put in a session of its own (setsid: an autogroup of its own) and that group
    # gets the niceness too. Being in its own session, it no longer gets the terminal's Ctrl-C:
    # the load tool then ends at the end of its --duration.
    nice_cmd=(setsid sh -c 'echo "$0" >/proc/self/autogroup 2>/dev/null; exec nice -n "$0" "$@"' "$NICE")
fi

build_all() {
    ((build)) || return 0
    # shellcheck disable=SC1091
    source "$repo/scripts/env.sh"
    (cd "$repo" && swift build -c "$config" --product livesfu-load)
    if [ "$target" = livesfu ]; then
        (cd "$repo" && swift build -c "$config" --product livesfu)
    else
        "$repo/perf/reference/build.sh"
    fi
}

load_bin() { echo "$repo/.build/$config/livesfu-load"; }

server_url() {
    if [ "$target" = livesfu ]; then echo "http://127.0.0.1:${LIVESFU_PORT:-8080}"; else echo "http://127.0.0.1:${PION_PORT:-8090}"; fi
}

# Starts the server on $server_cpu; sets server_pid. Its output goes to $out/<name>-<target>-server.log.
start_server() {
    local name="$1" log="$out/$1-$target-server.log"
    if [ "$target" = livesfu ]; then
        # The load generator's viewers all come from 127.0.0.1 and stand for many clients, so
        # the per-IP cap on sessions in set-up (MAX_PENDING_SESSIONS_PER_IP) is off here.
        # shellcheck disable=SC2086
        "${nice_cmd[@]}" taskset -c "$server_cpu" "${LIVESFU_BIN:-$repo/.build/$config/livesfu}" --http-addr "127.0.0.1:${LIVESFU_PORT:-8080}" \
            --cores 1 --max-pending-sessions-per-ip 0 ${LIVESFU_ARGS:-} >"$log" 2>&1 &
    else
        "${nice_cmd[@]}" taskset -c "$server_cpu" "$repo/.build-reference/pion-sfu" -http "127.0.0.1:${PION_PORT:-8090}" \
            -udp-port "${PION_UDP_PORT:-40000}" >"$log" 2>&1 &
    fi
    server_pid=$!
    trap stop_server EXIT
    local url; url="$(server_url)"
    for _ in $(seq 1 100); do
        if curl -fsS "$url/healthz" >/dev/null 2>&1; then break; fi
        if ! kill -0 "$server_pid" 2>/dev/null; then echo "server exited; see $log" >&2; exit 2; fi
        sleep 0.1
    done
    curl -fsS "$url/healthz" >/dev/null || { echo "server not healthy at $url; see $log" >&2; exit 2; }
    echo "server: $target pid $server_pid at $url, pinned with taskset to CPU $server_cpu ($(grep Cpus_allowed_list /proc/$server_pid/status | tr -s '\t' ' '))"
    echo "load generator: pinned with taskset to CPU $load_cpu (and --cpu $load_cpu for its threads)"
}

stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}

# run_load <scenario name> <livesfu-load args...>: prints and saves the report.
run_load() {
    local name="$1"; shift
    local stem="$out/$name-$target"
    if [ "${PACING:-2.5}" = 0 ]; then stem="$stem-unpaced"; fi
    ulimit -n 20000 2>/dev/null || true
    set -- --pacing "${PACING:-2.5}" "$@"
    echo "command: ${nice_cmd[*]:+${nice_cmd[*]} }taskset -c $load_cpu $(load_bin) --cpu $load_cpu --server $(server_url) --target $target --server-pid $server_pid --json $stem.json $* ${load_extra[*]:-}"
    set +e
    "${nice_cmd[@]}" taskset -c "$load_cpu" "$(load_bin)" --cpu "$load_cpu" --server "$(server_url)" --target "$target" \
        --server-pid "$server_pid" --json "$stem.json" "$@" "${load_extra[@]}" 2>&1 | (trap '' INT; tee "$stem.txt")
    local rc=${PIPESTATUS[0]}
    set -e
    echo "results: $stem.txt, $stem.json (exit $rc)"
    return "$rc"
}
