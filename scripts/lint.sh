#!/usr/bin/env bash
# The gate CI runs before the tests (.ci/run): the code is formatted, clippy
# finds nothing in any package or target, and the shell scripts are clean
# for ShellCheck (settings in .shellcheckrc). Each check runs even when an
# earlier one failed, so that one run shows everything to fix.
#     scripts/lint.sh

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PROJECT_DIR" || exit

ensure_rust_lints
ensure_shellcheck

failed=()
log "cargo fmt --all --check"
cargo fmt --all --check || failed+=("cargo fmt (run: cargo fmt --all)")
log "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings || failed+=("cargo clippy")
log "shellcheck scripts/*.sh .ci/run"
shellcheck scripts/*.sh .ci/run || failed+=("shellcheck")

if [ "${#failed[@]}" -gt 0 ]; then
    printf 'lint failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
log "lint clean"
