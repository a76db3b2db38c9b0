#!/usr/bin/env bash
# Where one endpoint's CPU goes (BENCHMARKS.md, "CPU per endpoint"): builds
# the function with symbols (the release profile, not stripped, with line
# tables) into target/profile, starts DynamoDB Local behind TLS as
# scripts/bench.sh does, and records REQUESTS warm requests of one endpoint
# with `perf record` (cpu-clock sampling, which works without hardware
# counters, and DWARF call graphs). Prints `perf report` by shared object
# and by function, self and with callees; the samples stay in
# target/profile/perf.data for `perf report -i`.
#     scripts/bench_profile.sh ["register/batch, 100 users"] [REQUESTS]
# Endpoints: info, profile, register, update, "infos, 100 ids",
# "profiles, 100 ids", "register/batch, 100 users" (bench/bench.py).

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$PROJECT_DIR/scripts/lambda_model.sh"
cd "$PROJECT_DIR" || exit

ENDPOINT="${1:-register/batch, 100 users}"
REQUESTS="${2:-300}"
# Debian 12's perf; a newer build of the same kernel series is taken with
# a warning (see scripts/mariadb.sh for why).
LINUX_PERF_VERSION="6.1.187-1"
LINUX_PERF_SERIES="6.1."

ensure_perf() {
    if command -v perf >/dev/null; then
        return
    fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq -o DPkg::Lock::Timeout=300
    local version="$LINUX_PERF_VERSION" candidate
    candidate="$(apt-cache policy linux-perf | awk '/Candidate:/ { print $2 }')"
    if ! apt-cache madison linux-perf | awk -F ' [|] ' '{ print $2 }' | grep -qxF "$version"; then
        if [[ "$candidate" != "$LINUX_PERF_SERIES"* ]]; then
            echo "linux-perf $version is not available (Debian offers '${candidate:-nothing}'); update LINUX_PERF_VERSION in scripts/bench_profile.sh" >&2
            return 1
        fi
        log "warning: linux-perf $version is gone from Debian; installing $candidate of the same series"
        version="$candidate"
    fi
    log "installing linux-perf $version (Debian)"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
        --no-install-recommends "linux-perf=$version" >/dev/null
}

ensure_tools
ensure_socat
ensure_perf
log "release build with symbols (target/profile)"
CARGO_TARGET_DIR=target/profile cargo build --locked --release --bin qnlive-user-api \
    --config profile.release.strip=false --config 'profile.release.debug="line-tables-only"'
cargo build --locked --release --example create_table --example api_gateway_event

cleanup() {
    stop_dynamodb_tls
    stop_dynamodb
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start_dynamodb "$(free_port)"
start_dynamodb_tls "${AWS_ENDPOINT_URL_DYNAMODB##*:}"
USERS_TABLE="profile-$(date +%s)"
export USERS_TABLE
"$TARGET_DIR"/release/examples/create_table
data=target/profile/perf.data
BENCH_PROFILE="$ENDPOINT" BENCH_PROFILE_REQUESTS="$REQUESTS" BENCH_PROFILE_DATA="$data" \
    BENCH_PROFILE_BINARY=target/profile/release/qnlive-user-api \
    QNLIVE_AK="$QNLIVE_DEV_AK" QNLIVE_SK="$QNLIVE_DEV_SK" \
    "$QNLIVE_PYTHON" bench/bench.py "$AWS_ENDPOINT_URL_DYNAMODB" "$TARGET_DIR"

echo "## by shared object"
perf report -i "$data" --stdio --quiet --no-children --sort dso --percent-limit 1 -g none
echo "## by function, self"
perf report -i "$data" --stdio --quiet --no-children --sort dso,symbol --percent-limit 1 -g none
echo "## by function, with callees"
perf report -i "$data" --stdio --quiet --children --sort symbol --percent-limit 4 -g none
