#!/usr/bin/env bash
# Runs every test on a fresh machine. Installs what it needs (rustfmt, clippy, a project-local
# virtualenv with moto), checks formatting and lints, starts moto's server on a free 127.0.0.1
# port, runs the whole test suite against it, and stops the server again.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

step "toolchain components"
ensure_rust_components

step "moto (AWS emulator) in .venv-moto"
ensure_venv .venv-moto scripts/requirements-moto.txt "import moto.server"

step "cargo fmt --check"
cargo fmt --all -- --check

# Lints template.yaml and builds the arm64 release binaries with sam build; the replay of events/
# through them runs with the other tests (tests/deploy). It runs alongside the lints and the test
# build: the two builds use separate target directories (arm64 release, host debug), and each
# leaves a core idle for minutes while it compiles one large crate or links. Its output is shown
# when it ends; a failure is reported at the end.
mkdir -p target
deploy_log=target/deploy-check.log
step "deploy checks (scripts/deploy-check.sh), in the background: $deploy_log"
# Its own process group (setsid), so that a failing step here stops it and all it started.
setsid ./scripts/deploy-check.sh >"$deploy_log" 2>&1 &
deploy_pid=$!
trap 'kill -- "-$deploy_pid" 2>/dev/null || true' EXIT

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building tests"
cargo test --workspace --locked --no-run

step "waiting for the deploy checks"
deploy_status=0
wait "$deploy_pid" || deploy_status=$?
cat "$deploy_log"

step "starting moto"
start_moto
trap stop_moto EXIT

step "cargo test"
log=target/test-output.log
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
summarize_cargo_tests "$log"
if [ "$deploy_status" != 0 ]; then
    echo "deploy checks failed: scripts/deploy-check.sh exited $deploy_status" >&2
    [ "$status" != 0 ] || status=$deploy_status
fi
exit "$status"
