#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds, lints
# template.yaml, starts DynamoDB Local, moto (a local Secrets Manager) and a
# throwaway MariaDB, runs the whole suite (cargo tests, the events/ checks
# and the import's MySQL tests among them; the release bootstrap under a
# memory limit reading the largest users; then, against the function served
# by `cargo lambda watch`, the
# official Qiniu Python and Node SDKs, Schemathesis with openapi.yaml, and
# the MySQL import end to end), and stops what it started, also when a test
# fails.
#
# The run itself happens in a private network namespace when the machine
# allows one (root, `unshare`): DynamoDB Local cannot bind to 127.0.0.1 only,
# so the namespace is what keeps it, and every test, on loopback.
#
# Usage: scripts/test.sh [cargo test filter and options]

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PROJECT_DIR" || exit
# A throwaway MariaDB beside DynamoDB Local, for the MySQL import.
source scripts/mariadb.sh

if [ "${QNLIVE_INSIDE_NETNS:-}" != "1" ]; then
    ensure_tools
    ensure_node_tools
    ensure_mariadb  # apt needs the network: before the namespace
    log "building (the first build of aws-sdk-dynamodb takes a few minutes)"
    cargo build --locked --tests --bins --examples
    # The shipped bootstrap, for scripts/worst_case_memory.sh.
    cargo build --locked --release --bin qnlive-user-api
    if [ "$(id -u)" -eq 0 ] && unshare --net true 2>/dev/null; then
        QNLIVE_INSIDE_NETNS=1 exec unshare --net -- "$0" "$@"
    fi
    log "warning: no private network namespace here; DynamoDB Local listens on every interface during the run"
else
    ip link set lo up
fi

# Everything is built: nothing below needs the network.
export CARGO_NET_OFFLINE=true

trap stop_all EXIT
trap 'exit 130' INT TERM

log "linting template.yaml (cfn-lint, sam validate --lint, the checkov security scan)"
cfn-lint template.yaml
sam validate --lint --template template.yaml --region us-east-1
scripts/iac_scan.sh template.yaml

start_dynamodb "$(free_port)"
start_moto "$(free_port)"     # a local Secrets Manager: AWS_ENDPOINT_URL_SECRETSMANAGER
start_mariadb "$(free_port)"  # MYSQL_URL for import/tests; stop_all stops it

log "cargo test"
cargo test --locked "$@"

# The release bootstrap at the deployed MemorySize, reading the largest users.
scripts/worst_case_memory.sh

log "the official Qiniu Python SDK against cargo lambda watch"
WATCH_PORT="$(free_port)"
E2E_TABLE="e2e-$(date +%s)-$$"
USERS_TABLE="$E2E_TABLE" cargo run --locked --quiet --example create_table
USERS_TABLE="$E2E_TABLE" QINIU_KEYS="$QNLIVE_DEV_AK:$QNLIVE_DEV_SK" RUST_LOG=warn start_watch "$WATCH_PORT"
export QNLIVE_AK="$QNLIVE_DEV_AK" QNLIVE_SK="$QNLIVE_DEV_SK"
"$QNLIVE_PYTHON" tests/e2e/qiniu_sdk_client.py "http://127.0.0.1:$WATCH_PORT" \
    || { tail -n 50 "$TOOLS_DIR/watch-$WATCH_PORT.log" >&2; exit 1; }

log "the official Qiniu Node SDK's signer through Node's http, on the same function"
node tests/e2e/qiniu_node_client.js "http://127.0.0.1:$WATCH_PORT" \
    || { tail -n 50 "$TOOLS_DIR/watch-$WATCH_PORT.log" >&2; exit 1; }

# openapi.yaml validated, then Schemathesis against the same function.
scripts/schemathesis.sh "http://127.0.0.1:$WATCH_PORT" \
    || { tail -n 50 "$TOOLS_DIR/watch-$WATCH_PORT.log" >&2; exit 1; }

# A generated live_users table imported into a new table by the real binary;
# then the function, started afresh on that table (an instance started
# before the import would still hold IM ids leased below the imported ones:
# docs/MIGRATION.md), serves the migrated users, and a new user gets an IM
# id above theirs.
log "the MySQL import end to end: qnlive-user-import, then the function on the imported table"
IMPORT_TABLE="e2e-import-$(date +%s)-$$"
IMPORT_EXPECTED="$MARIADB_DIR/expected.json"  # removed with the server
IMPORT_PORT="$(free_port)"
python3 tests/import/gen_dataset.py 1500 --widen-user-id --table live_users_e2e \
    --expected "$IMPORT_EXPECTED" 2>/dev/null | mariadb_client
USERS_TABLE="$IMPORT_TABLE" cargo run --locked --quiet --example create_table
cargo run --locked --quiet --bin qnlive-user-import -- --mysql-url "$MYSQL_URL" \
    --mysql-table live_users_e2e --users-table "$IMPORT_TABLE" | tail -n 8
stop_watch
USERS_TABLE="$IMPORT_TABLE" QINIU_KEYS="$QNLIVE_DEV_AK:$QNLIVE_DEV_SK" RUST_LOG=warn start_watch "$IMPORT_PORT"
"$QNLIVE_PYTHON" tests/e2e/migrated_users.py "http://127.0.0.1:$IMPORT_PORT" "$IMPORT_EXPECTED" \
    || { tail -n 50 "$TOOLS_DIR/watch-$IMPORT_PORT.log" >&2; exit 1; }
