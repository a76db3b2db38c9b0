#!/usr/bin/env bash
# The run command (README): installs what is missing, starts DynamoDB Local
# (in memory), creates the users table, and serves the API at
# http://127.0.0.1:9000 through `cargo lambda watch`, signed with the
# development key pair from scripts/lib.sh. Ctrl-C stops everything.
#
# Environment: PORT (default 9000), DYNAMODB_PORT (default 8000),
# USERS_TABLE (default qnlive-users), QINIU_KEYS (default the development
# pair, unless QINIU_KEYS_SECRET_ID names a secret to read instead), and any
# variable from the README's configuration table.
#
# IM_PROVIDER=maxim without MAXIM_API_URL also starts the test suite's fake
# Lanying IM (examples/fake_im.rs) on FAKE_IM_PORT (default 9411) and
# points the function at it; with MAXIM_API_URL set, the real IM is used.

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PROJECT_DIR" || exit

PORT="${PORT:-9000}"
DYNAMODB_PORT="${DYNAMODB_PORT:-8000}"
export USERS_TABLE="${USERS_TABLE:-qnlive-users}"
if [ -z "${QINIU_KEYS_SECRET_ID:-}" ]; then
    export QINIU_KEYS="${QINIU_KEYS:-$QNLIVE_DEV_AK:$QNLIVE_DEV_SK}"
fi

ensure_tools
FAKE_IM_PID=""
trap 'stop_all; [ -z "$FAKE_IM_PID" ] || kill "$FAKE_IM_PID" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
start_dynamodb "$DYNAMODB_PORT"
cargo run --locked --quiet --example create_table

if [ "${IM_PROVIDER:-local}" = "maxim" ] && [ -z "${MAXIM_API_URL:-}" ]; then
    export MAXIM_APP_ID="${MAXIM_APP_ID:-qnlive-dev-app}" MAXIM_ADMIN_TOKEN="${MAXIM_ADMIN_TOKEN:-qnlive-dev-im-token}"
    export MAXIM_API_URL="http://127.0.0.1:${FAKE_IM_PORT:-9411}"
    cargo build --locked --quiet --example fake_im
    FAKE_IM_PORT="${FAKE_IM_PORT:-9411}" "$TARGET_DIR"/debug/examples/fake_im >/dev/null &
    FAKE_IM_PID=$!
    log "IM_PROVIDER=maxim: a fake Lanying IM (examples/fake_im.rs) serves $MAXIM_API_URL"
fi

if [ -n "${QINIU_KEYS_SECRET_ID:-}" ]; then
    log "serving http://127.0.0.1:$PORT/server/user with the keys in the secret $QINIU_KEYS_SECRET_ID; Ctrl-C stops"
elif [ "$QINIU_KEYS" = "$QNLIVE_DEV_AK:$QNLIVE_DEV_SK" ]; then
    log "serving http://127.0.0.1:$PORT/server/user, signed with the development pair (AK $QNLIVE_DEV_AK, SK $QNLIVE_DEV_SK); Ctrl-C stops"
else
    log "serving http://127.0.0.1:$PORT/server/user with the keys in QINIU_KEYS; Ctrl-C stops"
fi
log "try: $QNLIVE_PYTHON scripts/qiniu_request.py POST http://127.0.0.1:$PORT/server/user/register '{\"user_id\":\"user-1\"}'"
# In the background so that Ctrl-C or a TERM reaches the trap at once.
cargo lambda watch --bin qnlive-user-api --invoke-address 127.0.0.1 --invoke-port "$PORT" &
WATCH_PID=$!
wait "$WATCH_PID"
