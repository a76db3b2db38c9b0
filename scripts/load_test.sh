#!/usr/bin/env bash
# The bounded load test (BENCHMARKS.md): DynamoDB Local, the function under
# `cargo lambda watch` with several instances, and tests/e2e/load.py sending
# mixed signed requests, then checking every successful write.
#     scripts/load_test.sh [REQUESTS] [CONCURRENCY] [INSTANCES]   (5000 32 4)
# Traffic goes to 127.0.0.1 only; everything started is stopped at the end.

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PROJECT_DIR" || exit

REQUESTS="${1:-5000}" CONCURRENCY="${2:-32}" INSTANCES="${3:-4}"
ensure_tools
cargo build --locked --release --bins --examples

trap stop_all EXIT
trap 'exit 130' INT TERM

start_dynamodb "$(free_port)"
USERS_TABLE="load-$(date +%s)"
export USERS_TABLE
cargo run --locked --quiet --release --example create_table
PORT="$(free_port)"
QINIU_KEYS="$QNLIVE_DEV_AK:$QNLIVE_DEV_SK" RUST_LOG=warn start_watch "$PORT" --release --concurrency "$INSTANCES"
log "$REQUESTS requests at concurrency $CONCURRENCY, $INSTANCES function instances (release build)"
QNLIVE_AK="$QNLIVE_DEV_AK" QNLIVE_SK="$QNLIVE_DEV_SK" \
    "$QNLIVE_PYTHON" tests/e2e/load.py "http://127.0.0.1:$PORT" "$REQUESTS" "$CONCURRENCY"
