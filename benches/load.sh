#!/usr/bin/env bash
# Load benchmark of the `edge` example, on loopback.
#
# Builds release binaries, starts the development IdP and three edges, each on a free
# loopback port read from its first line of output:
#
#   edge (default logging)   no RUST_LOG: info, every request's audit event a JSON line
#                            on stderr through the non-blocking writer (to a file here)
#   edge (warn)              RUST_LOG=warn: no per-request audit lines
#   edge --no-cache (warn)   every token verified in full
#
# mints tokens through the IdP's POST /token, and measures with `loadgen`
# (benches/src/bin/loadgen.rs):
#
#   bare handler                 GET /bare on the default-logging edge: an axum handler
#                                doing the same JSON work without authentication (the
#                                baseline)
#   whoami, one token            the same token on every request (the token cache hits),
#                                default logging / warn, and with the cache off
#   whoami, unique tokens        every request a token not seen before, cache on / off
#
# and prints requests/s with p50/p99 latency per case, then the median requests/s of the
# bare handler and the two cached whoami cases (they take turns, ROUNDS times, so a
# change in machine load hits all three alike) and their ratios to the bare handler
# (issue 7 target: default logging within 15%, i.e. a ratio of at least 0.85). Every case is bounded in time (DURATION seconds) and in count
# (MAX_REQUESTS; a unique-token case also stops when its TOKENS run out). Server stderr
# (the audit log of the default-logging edge included) goes to the work directory, kept
# with KEEP=1.
#
# Usage: benches/load.sh            (from anywhere in the repository)
# Knobs (environment): DURATION=10 CONNECTIONS=32 TOKENS=20000 MAX_REQUESTS=5000000
#                      ALG=ES256 (RS256 | ES256 | EdDSA) LOADGEN_THREADS=1 KEEP=0
#                      UNIQUE=1 (0 skips the unique-token cases and their minting)
#                      ROUNDS=3 (turns of bare / default logging / warn; medians reported)
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
TOKENS=${TOKENS:-20000}
MAX_REQUESTS=${MAX_REQUESTS:-5000000}
ALG=${ALG:-ES256}
LOADGEN_THREADS=${LOADGEN_THREADS:-1}
KEEP=${KEEP:-0}
UNIQUE=${UNIQUE:-1}
ROUNDS=${ROUNDS:-3}
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

# start NAME LOG COMMAND...: run COMMAND in the background with stdout in $work/NAME and
# stderr in $work/NAME.err; LOG is a RUST_LOG value, or `default` to run without RUST_LOG
# (the binary's own default).
start() {
    local name=$1 log=$2
    shift 2
    if [[ "$log" == default ]]; then
        env -u RUST_LOG "$@" >"$work/$name" 2>"$work/$name.err" &
    else
        RUST_LOG=$log "$@" >"$work/$name" 2>"$work/$name.err" &
    fi
    pids+=("$!")
}

# serving NAME PID: the edge's address, from its banner.
serving() {
    wait_for_line "$work/$1" '^edge: serving on ' "$2" | awk '{print $4}'
}

start idp warn "$bin/dev-idp" --listen 127.0.0.1:0
idp_pid=${pids[-1]}
issuer=$(wait_for_line "$work/idp" '^dev-idp: issuer ' "$idp_pid" | awk '{print $3}')
echo "load: dev-idp at $issuer" >&2

edge_args=(--issuer "$issuer" --audience "$AUDIENCE" --listen 127.0.0.1:0)
start edge-default default "$bin/edge" "${edge_args[@]}"
default_pid=${pids[-1]}
start edge-warn warn "$bin/edge" "${edge_args[@]}"
warn_pid=${pids[-1]}
start edge-nocache warn "$bin/edge" "${edge_args[@]}" --no-cache
nocache_pid=${pids[-1]}
edge_default=$(serving edge-default "$default_pid")
edge_warn=$(serving edge-warn "$warn_pid")
nocache=$(serving edge-nocache "$nocache_pid")
echo "load: edge (default logging) at $edge_default, edge (warn) at $edge_warn, edge --no-cache at $nocache" >&2

echo "load: minting $ALG tokens" >&2
"$bin/loadgen" mint --token-url "$issuer/token" --audience "$AUDIENCE" --alg "$ALG" \
    --count 1 --out "$work/one.txt"
if [[ "$UNIQUE" == 1 ]]; then
    "$bin/loadgen" mint --token-url "$issuer/token" --audience "$AUDIENCE" --alg "$ALG" \
        --count "$TOKENS" --out "$work/unique.txt"
fi

ticks_per_second=$(getconf CLK_TCK)

# cpu_ticks PID: user + system CPU time the process has used so far, in clock ticks
# (all its threads, the log writer included).
cpu_ticks() {
    # Fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the command name.
    sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# run PID ARGS...: one loadgen row against the server PID, with the server's CPU time per
# request appended (robust where requests/s is not: other work on the machine slows the
# server down but does not make a request cost more CPU), printed and kept in
# $work/results.
run() {
    local pid=$1 before after row
    shift
    before=$(cpu_ticks "$pid")
    row=$("$bin/loadgen" run --connections "$CONNECTIONS" --duration "$DURATION" \
        --max-requests "$MAX_REQUESTS" --threads "$LOADGEN_THREADS" "$@")
    after=$(cpu_ticks "$pid")
    awk -v row="$row" -v ticks=$((after - before)) -v hz="$ticks_per_second" 'BEGIN {
        split(row, f, " +"); n = 0; for (i in f) n++
        requests = f[n - 4]
        printf "%s %12.1f\n", row, (requests > 0 ? ticks * 1e6 / hz / requests : 0)
    }' | tee -a "$work/results"
}

# rps LABEL: the requests/s of every row whose label starts with LABEL, one per line.
rps() {
    awk -v label="$1" 'index($0, label) == 1 { print $(NF - 4) }' "$work/results"
}

# cpu LABEL: the server CPU microseconds per request of every row whose label starts with LABEL.
cpu() {
    awk -v label="$1" 'index($0, label) == 1 { print $NF }' "$work/results"
}

# median: the median of the numbers on stdin (the lower middle for an even count).
median() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'
}

bare="bare handler (no auth)"
cached_default="whoami, one token, log default"
cached_warn="whoami, one token, log warn"

echo >&2
echo "edge load, loopback, $CONNECTIONS connections, at most ${DURATION}s and $MAX_REQUESTS requests per case, $ALG tokens"
printf '%-36s %10s %12s %10s %10s %8s %12s\n' case requests 'requests/s' 'p50 ms' 'p99 ms' errors 'server us/req'
# The three compared cases take turns, ROUNDS times, so a load change on the machine
# hits all three alike.
for ((round = 1; round <= ROUNDS; round++)); do
    run "$default_pid" --label "$bare #$round" --url "$edge_default/bare"
    run "$default_pid" --label "$cached_default #$round" --url "$edge_default/whoami" --tokens "$work/one.txt"
    run "$warn_pid" --label "$cached_warn #$round" --url "$edge_warn/whoami" --tokens "$work/one.txt"
done
run "$nocache_pid" --label "whoami, one token, cache off" --url "$nocache/whoami" --tokens "$work/one.txt"
if [[ "$UNIQUE" == 1 ]]; then
    run "$warn_pid" --label "whoami, unique tokens, cache on" --url "$edge_warn/whoami" --tokens "$work/unique.txt" --unique
    run "$nocache_pid" --label "whoami, unique tokens, cache off" --url "$nocache/whoami" --tokens "$work/unique.txt" --unique
fi

echo
echo "medians over $ROUNDS rounds (target: default logging at >= 0.85 of the bare handler's requests/s)"
printf '%-36s %12s %8s %14s %8s\n' case 'requests/s' ratio 'server us/req' ratio
bare_rps=$(rps "$bare #" | median)
bare_cpu=$(cpu "$bare #" | median)
for label in "$bare" "$cached_default" "$cached_warn"; do
    awk -v label="$label" -v r="$(rps "$label #" | median)" -v c="$(cpu "$label #" | median)" \
        -v br="$bare_rps" -v bc="$bare_cpu" 'BEGIN {
        printf "%-36s %12.0f %8.3f %14.1f %8.3f\n", label, r, (br > 0 ? r / br : 0), c, (bc > 0 ? c / bc : 0)
    }'
done
echo "per round, default logging / bare:" $(
    for ((round = 1; round <= ROUNDS; round++)); do
        awk -v a="$(rps "$cached_default #$round")" -v b="$(rps "$bare #$round")" \
            'BEGIN { printf "%.3f ", (b > 0 ? a / b : 0) }'
    done
)
# The writer may still hold the last lines of a batch; the count is a lower bound.
audit_lines=$(grep -c '"target":"baton::audit"' "$work/edge-default.err" || true)
echo "audit lines written by the default-logging edge: $audit_lines"
