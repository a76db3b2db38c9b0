#!/usr/bin/env bash
# The largest legal batch reads against the release bootstrap at the memory
# it is deployed with (template.yaml's MemorySize, which the cargo lambda
# deploy metadata in Cargo.toml must match) and at the smallest an operator
# may choose (the parameter's MinValue): users of the largest size an
# update can leave, and of the 400 KB an older version let updates reach,
# are written straight into a fresh table; the function then serves batch
# infos and profiles of 200 of them inside a cgroup memory limit of that
# size. Prints the peak of each request; fails if one goes unanswered, the
# kernel kills the function, or the peak passes WORST_CASE_BUDGET_MB (64).
#
# scripts/test.sh runs it against its DynamoDB Local; alone, it starts one.
# Setting the limit needs root and cgroup v1 (as in scripts/test.sh's CI);
# elsewhere the peak RSS is held to the same budget without a limit.

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PROJECT_DIR" || exit

budget_mb="${WORST_CASE_BUDGET_MB:-64}"
template_mb="$(awk '/^  MemorySize:/ { found = 1 } found && /Default:/ { print $2; exit }' template.yaml)"
smallest_mb="$(awk '/^  MemorySize:/ { found = 1 } found && /MinValue:/ { print $2; exit }' template.yaml)"
metadata_mb="$(awk '/^\[package.metadata.lambda.deploy\]/ { found = 1 } found && /^memory *=/ { print $3; exit }' Cargo.toml)"
if [ -z "$template_mb" ] || [ "$template_mb" != "$metadata_mb" ]; then
    echo "template.yaml's MemorySize ($template_mb) and Cargo.toml's deploy memory ($metadata_mb) differ" >&2
    exit 1
fi

if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
    ensure_tools
    trap stop_dynamodb EXIT
    trap 'exit 130' INT TERM
    start_dynamodb "$(free_port)"
else
    ensure_python_tools
fi

cargo build --locked --release --bin qnlive-user-api
cargo build --locked --example create_table --example api_gateway_event
# Written the way the MySQL import writes them (no API limit on that path).
cargo build --locked -p qnlive-user-import --example seed_large_users

USERS_TABLE="worst-case-$(date +%s)-$$"
export USERS_TABLE
"$TARGET_DIR"/debug/examples/create_table
# 64 entries: the most an update may leave; 96: about 400 KB, DynamoDB's
# item limit, as updates could grow a user before the bound.
"$TARGET_DIR"/debug/examples/seed_large_users legal 200 64
"$TARGET_DIR"/debug/examples/seed_large_users grown 200 96

for memory_mb in $(printf '%s\n' "$template_mb" "$smallest_mb" | sort -un); do
    log "the largest batch reads at $memory_mb MB (MemorySize $template_mb, at least $smallest_mb)"
    QNLIVE_AK="$QNLIVE_DEV_AK" QNLIVE_SK="$QNLIVE_DEV_SK" "$QNLIVE_PYTHON" tests/e2e/worst_case_memory.py \
        "$TARGET_DIR"/release/qnlive-user-api "$TARGET_DIR"/debug/examples/api_gateway_event "$memory_mb" "$budget_mb"
done
