#!/usr/bin/env bash
# The run command (README): installs what is missing, starts DynamoDB Local
# (in memory), creates the users table, and serves the API at
# http://127.0.0.1:9000 through `cargo lambda watch`, signed with the
# development key pair from scripts/lib.sh. Ctrl-C stops everything.
#
# Environment: PORT (default 9000), DYNAMODB_PORT (default 8000),
# USERS_TABLE (default qnlive-users), QINIU_KEYS (default the development
# pair), and any variable from the README's configuration table.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PROJECT_DIR"

PORT="${PORT:-9000}"
DYNAMODB_PORT="${DYNAMODB_PORT:-8000}"
export USERS_TABLE="${USERS_TABLE:-qnlive-users}"
export QINIU_KEYS="${QINIU_KEYS:-$QNLIVE_DEV_AK:$QNLIVE_DEV_SK}"

ensure_tools
trap stop_all EXIT
trap 'exit 130' INT TERM
start_dynamodb "$DYNAMODB_PORT"
cargo run --locked --quiet --example create_table

if [ "$QINIU_KEYS" = "$QNLIVE_DEV_AK:$QNLIVE_DEV_SK" ]; then
    log "serving http://127.0.0.1:$PORT/server/user, signed with the development pair (AK $QNLIVE_DEV_AK, SK $QNLIVE_DEV_SK); Ctrl-C stops"
else
    log "serving http://127.0.0.1:$PORT/server/user with the keys in QINIU_KEYS; Ctrl-C stops"
fi
log "try: $QNLIVE_PYTHON scripts/qiniu_request.py POST http://127.0.0.1:$PORT/server/user/register '{\"user_id\":\"user-1\"}'"
# In the background so that Ctrl-C or a TERM reaches the trap at once.
cargo lambda watch --bin qnlive-user-api --invoke-address 127.0.0.1 --invoke-port "$PORT" &
WATCH_PID=$!
wait "$WATCH_PID"
