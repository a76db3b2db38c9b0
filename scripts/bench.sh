#!/usr/bin/env bash
# The benchmark suite (BENCHMARKS.md): builds the function and the reference
# functions (examples/bench_hello.rs, examples/bench_getitem.rs,
# examples/bench_getitem_primed.rs) with the release profile, starts
# DynamoDB Local and moto (a local Secrets Manager, for the keys read from a
# secret at init as deployed), a TLS terminator in front of each and a
# CPU-quota cgroup (scripts/lambda_model.sh), and runs bench/bench.py, which
# drives the real bootstraps through a fake Lambda Runtime API and models
# them on Lambda.
# Then it builds the arm64 bootstrap and reports its size.
#     scripts/bench.sh            (BENCH_STARTS=15 process starts per function;
#                                  BENCH_SKIP_ARM64=1 skips the arm64 build)

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$PROJECT_DIR/scripts/lambda_model.sh"
cd "$PROJECT_DIR" || exit

ensure_tools
ensure_socat
log "release build of the function and the references"
cargo build --locked --release --bin qnlive-user-api --example bench_hello --example bench_getitem \
    --example bench_getitem_primed --example create_table --example api_gateway_event --example fake_im
# The model's arithmetic, checked against the published pair it must reproduce.
python3 bench/lambda_model.py

cleanup() {
    remove_cpu_quota_cgroups
    stop_dynamodb_tls
    stop_dynamodb
    stop_moto
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start_dynamodb "$(free_port)"
start_dynamodb_tls "${AWS_ENDPOINT_URL_DYNAMODB##*:}"
start_moto "$(free_port)"
start_secrets_manager_tls "${AWS_ENDPOINT_URL_SECRETSMANAGER##*:}"
# The deployed MemorySize, at which the keys' read at init is modelled.
LAMBDA_MEMORY_MB="$(awk '/^  MemorySize:/ { found = 1 } found && /Default:/ { print $2; exit }' template.yaml)"
export LAMBDA_MEMORY_MB
# 128 MB's share of a core: per 100 ms, and per 14 ms, about the finest
# period at which the kernel takes that share (a quota is at least 1 ms).
export LAMBDA_CPU_CGROUP_MB=128
make_cpu_quota_cgroups "$LAMBDA_CPU_CGROUP_MB" 100000 14000
USERS_TABLE="bench-$(date +%s)"
export USERS_TABLE
"$TARGET_DIR"/release/examples/create_table
QNLIVE_AK="$QNLIVE_DEV_AK" QNLIVE_SK="$QNLIVE_DEV_SK" \
    "$QNLIVE_PYTHON" bench/bench.py "$AWS_ENDPOINT_URL_DYNAMODB" "$TARGET_DIR"

if [ "${BENCH_SKIP_ARM64:-}" != "1" ]; then
    ensure_arm64_target
    log "arm64 bootstrap (cargo lambda build --release --arm64)"
    cargo lambda build --locked --release --arm64 --bin qnlive-user-api
    size=$(stat -c %s "$TARGET_DIR"/lambda/qnlive-user-api/bootstrap)
    echo "bootstrap (arm64, stripped): $size bytes ($(awk "BEGIN {printf \"%.2f\", $size / 1048576}") MiB)"
fi
