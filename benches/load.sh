#!/usr/bin/env bash
# Load benchmark of the `edge` example, on loopback.
#
# Builds release binaries, starts the development IdP, an edge with the verified-token
# cache and one without (`--no-cache`), each on a free loopback port read from its
# first line of output, mints tokens through the IdP's POST /token, and measures with
# `loadgen` (benches/src/bin/loadgen.rs):
#
#   bare handler                 GET /bare, no authentication (the baseline)
#   whoami, one token            the same token on every request, cache on / off
#   whoami, unique tokens        every request a token not seen before, cache on / off
#
# and prints requests/s with p50/p99 latency per case. Every case is bounded in time
# (DURATION seconds) and in count (MAX_REQUESTS; a unique-token case also stops when its
# TOKENS run out). The servers log at warn (RUST_LOG) so per-request audit lines do not
# dominate; their stderr goes to the work directory, kept with KEEP=1.
#
# Usage: benches/load.sh            (from anywhere in the repository)
# Knobs (environment): DURATION=10 CONNECTIONS=32 TOKENS=20000 MAX_REQUESTS=5000000
#                      ALG=ES256 (RS256 | ES256 | EdDSA) LOADGEN_THREADS=1 KEEP=0
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
TOKENS=${TOKENS:-20000}
MAX_REQUESTS=${MAX_REQUESTS:-5000000}
ALG=${ALG:-ES256}
LOADGEN_THREADS=${LOADGEN_THREADS:-1}
KEEP=${KEEP:-0}
AUDIENCE=api

cd "$(dirname "$0")/.."

echo "load: building release binaries" >&2
cargo build --release --quiet -p examples --bin edge --bin dev-idp -p benches --bin loadgen
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target_dir/release"

work=$(mktemp -d "${TMPDIR:-/tmp}/baton-load.XXXXXX")
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ "$KEEP" == 1 ]]; then
        echo "load: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for_line FILE PATTERN PID: print the first line of FILE matching PATTERN, waiting
# at most 30 s, and fail if the process PID exits first.
wait_for_line() {
    local file=$1 pattern=$2 pid=$3 line tries
    for ((tries = 0; tries < 300; tries++)); do
        line=$(grep -m1 -e "$pattern" "$file" 2>/dev/null || true)
        if [[ -n "$line" ]]; then
            printf '%s\n' "$line"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "load: process $pid exited before printing '$pattern'; its stderr:" >&2
            cat "$file.err" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    echo "load: no '$pattern' from process $pid within 30 s" >&2
    return 1
}

# start NAME COMMAND...: run COMMAND in the background with stdout in $work/NAME and
# stderr in $work/NAME.err.
start() {
    local name=$1
    shift
    RUST_LOG=${RUST_LOG:-warn} "$@" >"$work/$name" 2>"$work/$name.err" &
    pids+=("$!")
}

start idp "$bin/dev-idp" --listen 127.0.0.1:0
idp_pid=${pids[-1]}
issuer=$(wait_for_line "$work/idp" '^dev-idp: issuer ' "$idp_pid" | awk '{print $3}')
echo "load: dev-idp at $issuer" >&2

start edge "$bin/edge" --issuer "$issuer" --audience "$AUDIENCE" --listen 127.0.0.1:0
edge_pid=${pids[-1]}
start edge-nocache "$bin/edge" --issuer "$issuer" --audience "$AUDIENCE" --listen 127.0.0.1:0 --no-cache
nocache_pid=${pids[-1]}
edge=$(wait_for_line "$work/edge" '^edge: serving on ' "$edge_pid" | awk '{print $4}')
nocache=$(wait_for_line "$work/edge-nocache" '^edge: serving on ' "$nocache_pid" | awk '{print $4}')
echo "load: edge at $edge, edge --no-cache at $nocache" >&2

echo "load: minting 1 + $TOKENS $ALG tokens" >&2
"$bin/loadgen" mint --token-url "$issuer/token" --audience "$AUDIENCE" --alg "$ALG" \
    --count 1 --out "$work/one.txt"
"$bin/loadgen" mint --token-url "$issuer/token" --audience "$AUDIENCE" --alg "$ALG" \
    --count "$TOKENS" --out "$work/unique.txt"

run() {
    "$bin/loadgen" run --connections "$CONNECTIONS" --duration "$DURATION" \
        --max-requests "$MAX_REQUESTS" --threads "$LOADGEN_THREADS" "$@"
}

echo >&2
echo "edge load, loopback, $CONNECTIONS connections, at most ${DURATION}s and $MAX_REQUESTS requests per case, $ALG tokens"
printf '%-36s %10s %12s %10s %10s %8s\n' case requests 'requests/s' 'p50 ms' 'p99 ms' errors
run --label "bare handler (no auth)" --url "$edge/bare"
run --label "whoami, one token, cache on" --url "$edge/whoami" --tokens "$work/one.txt"
run --label "whoami, one token, cache off" --url "$nocache/whoami" --tokens "$work/one.txt"
run --label "whoami, unique tokens, cache on" --url "$edge/whoami" --tokens "$work/unique.txt" --unique
run --label "whoami, unique tokens, cache off" --url "$nocache/whoami" --tokens "$work/unique.txt" --unique
