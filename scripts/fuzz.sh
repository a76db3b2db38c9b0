#!/usr/bin/env bash
# Runs each cargo-fuzz target for a bounded time (default 60 s each):
#     scripts/fuzz.sh [SECONDS_PER_TARGET]
# cargo-fuzz wants a nightly compiler; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept its flags, and `--sanitizer none` keeps to what stable
# can build (libFuzzer's coverage guidance still works). A crash leaves its
# input in fuzz/artifacts/<target>/: add it to the tests as a regression case.

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PROJECT_DIR" || exit

SECONDS_PER_TARGET="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz (once)"
    cargo install --locked cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
for target in authorization_header request_parsing; do
    log "fuzzing $target for ${SECONDS_PER_TARGET}s"
    cargo fuzz run --sanitizer none "$target" -- -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048
done
