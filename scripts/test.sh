#!/usr/bin/env bash
# Runs every test on a fresh machine. Installs what it needs (rustfmt, clippy, a project-local
# virtualenv with moto, Debian's redis-server), checks formatting and lints, starts moto's server on a free 127.0.0.1
# port and a redis-server beside it, runs the whole test suite against them, and stops them again.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

step "toolchain components"
ensure_rust_components

step "moto (AWS emulator) in .venv-moto"
ensure_venv .venv-moto scripts/requirements-moto.txt "import moto.server"

step "redis-server (Debian package) for the cache tier's tests"
ensure_redis_server
redis-server --version

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building tests"
cargo test --workspace --locked --no-run

# Lints template.yaml, builds the arm64 release binaries with sam build; the replay of events/
# through them runs with the other tests (tests/deploy). A failure here is reported at the end.
step "deploy checks (scripts/deploy-check.sh)"
deploy_status=0
./scripts/deploy-check.sh || deploy_status=$?

step "starting moto and redis-server"
start_moto
start_redis
trap 'stop_moto; stop_redis' EXIT

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
