#!/usr/bin/env bash
# The benchmark suite (BENCHMARKS.md): builds the function and the two
# reference functions (examples/bench_hello.rs, examples/bench_getitem.rs)
# with the release profile, starts DynamoDB Local and moto (a local Secrets
# Manager), and runs bench/bench.py, which drives the real bootstraps
# through a fake Lambda Runtime API.
# Then it builds the arm64 bootstrap and reports its size.
#     scripts/bench.sh            (BENCH_STARTS=15 process starts per function)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PROJECT_DIR"

ensure_tools
log "release build of the function and the references"
cargo build --locked --release --bin qnlive-user-api --example bench_hello --example bench_getitem --example create_table \
    --example api_gateway_event --example fake_im

trap stop_all EXIT
trap 'exit 130' INT TERM
start_dynamodb "$(free_port)"
start_moto "$(free_port)"  # the keys read from a secret at init, as deployed
export USERS_TABLE="bench-$(date +%s)"
target/release/examples/create_table
QNLIVE_AK="$QNLIVE_DEV_AK" QNLIVE_SK="$QNLIVE_DEV_SK" \
    "$QNLIVE_PYTHON" bench/bench.py "$AWS_ENDPOINT_URL_DYNAMODB" "$PROJECT_DIR/target"

if [ "${BENCH_SKIP_ARM64:-}" != "1" ]; then
    ensure_arm64_target
    log "arm64 bootstrap (cargo lambda build --release --arm64)"
    cargo lambda build --locked --release --arm64 --bin qnlive-user-api
    size=$(stat -c %s target/lambda/qnlive-user-api/bootstrap)
    echo "bootstrap (arm64, stripped): $size bytes ($(awk "BEGIN {printf \"%.2f\", $size / 1048576}") MiB)"
fi
