#!/usr/bin/env bash
# The MySQL import's benchmark: BENCH_ROWS generated live_users
# rows (default 100,000: about 90 % valid, the rest deleted or invalid) in a
# throwaway MariaDB, imported by the release binary into a new table on
# DynamoDB Local; then the same import again (everything already present,
# nothing written) and a dry run. A first, smaller import (WARM_ROWS into
# another table) warms DynamoDB Local's JIT up; it is reported too, as
# "cold". For each: rows/s, how long the import
# waited for each side, and the CPU seconds the importer, DynamoDB Local and
# MariaDB used, which says where the time goes on this machine. Prints a
# Markdown table for BENCHMARKS.md.
#
# Usage: scripts/bench_import.sh
# Environment: BENCH_ROWS (100000), BENCH_WARM_ROWS (20000), BENCH_CONCURRENCY (64),
# BENCH_PAGE_SIZE (1000)

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$PROJECT_DIR/scripts/mariadb.sh"
cd "$PROJECT_DIR" || exit

ROWS="${BENCH_ROWS:-100000}"
WARM_ROWS="${BENCH_WARM_ROWS:-20000}"
CONCURRENCY="${BENCH_CONCURRENCY:-64}"
PAGE_SIZE="${BENCH_PAGE_SIZE:-1000}"

if [ "${QNLIVE_INSIDE_NETNS:-}" != "1" ]; then
    ensure_tools
    ensure_mariadb
    log "building the import (release: about 11 minutes the first time on 2 cores)"
    cargo build --locked --release --bin qnlive-user-import
    cargo build --locked --example create_table
    # As scripts/test.sh: DynamoDB Local on loopback only, where possible.
    if [ "$(id -u)" -eq 0 ] && unshare --net true 2>/dev/null; then
        QNLIVE_INSIDE_NETNS=1 exec unshare --net -- "$0" "$@"
    fi
else
    ip link set lo up
fi
export CARGO_NET_OFFLINE=true
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
IMPORT="$TARGET_DIR/release/qnlive-user-import"

trap stop_all EXIT
trap 'exit 130' INT TERM
start_dynamodb "$(free_port)"
start_mariadb "$(free_port)"

# CPU seconds (user + system) a process has used so far.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"
}
minus() { python3 -c "print(f'{$1 - $2:.1f}')"; }

log "generating and loading $ROWS rows (and $WARM_ROWS for the warm-up)"
SECONDS=0
python3 tests/import/gen_dataset.py "$ROWS" 2>/dev/null | mariadb_client
python3 tests/import/gen_dataset.py "$WARM_ROWS" --seed 2 --table live_users_warmup 2>/dev/null | mariadb_client
log "loaded in $SECONDS s"
TABLE="bench-import-$(date +%s)"
USERS_TABLE="$TABLE" "$TARGET_DIR/debug/examples/create_table" >/dev/null
USERS_TABLE="$TABLE-warmup" "$TARGET_DIR/debug/examples/create_table" >/dev/null

RESULTS="$MARIADB_DIR/results.md"
printf '| run | wall s | rows/s | waited for DynamoDB s | importer CPU s | DynamoDB Local CPU s | MariaDB CPU s | load avg |\n|---|---|---|---|---|---|---|---|\n' >"$RESULTS"

# measure LABEL IMPORT-ARGS...: one run of the release binary, a row in $RESULTS.
measure() {
    local label="$1" out="$MARIADB_DIR/run.txt" timing="$MARIADB_DIR/run.time"
    shift
    log "$label"
    local java0 maria0 load wall user sys
    java0="$(cpu_seconds "$DYNAMODB_PID")" maria0="$(cpu_seconds "$MARIADB_PID")"
    load="$(cut -d' ' -f1 /proc/loadavg)"
    TIMEFORMAT='%R %U %S'
    { time "$IMPORT" --mysql-url "$MYSQL_URL" --concurrency "$CONCURRENCY" --page-size "$PAGE_SIZE" "$@" \
        >"$out" 2>/dev/null; } 2>"$timing"
    read -r wall user sys <"$timing"
    grep -A9 '^summary' "$out" >&2
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$wall" \
        "$(sed -n 's/^summary: .*, \([0-9]*\) rows\/s$/\1/p' "$out")" \
        "$(sed -n 's/.*waited for .*DynamoDB \([0-9.]*\) s$/\1/p' "$out")" \
        "$(python3 -c "print(f'{$user + $sys:.1f}')")" \
        "$(minus "$(cpu_seconds "$DYNAMODB_PID")" "$java0")" \
        "$(minus "$(cpu_seconds "$MARIADB_PID")" "$maria0")" "$load" >>"$RESULTS"
}

measure "warm-up: $WARM_ROWS rows, DynamoDB Local fresh" --mysql-table live_users_warmup --users-table "$TABLE-warmup"
measure "import" --users-table "$TABLE"
measure "rerun (all already present)" --users-table "$TABLE"
measure "dry run" --users-table "$TABLE" --dry-run
echo
echo "$ROWS rows, --concurrency $CONCURRENCY --page-size $PAGE_SIZE, $(nproc) cores:"
cat "$RESULTS"
