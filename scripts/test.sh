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

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building tests"
cargo test --workspace --locked --no-run

step "starting moto"
start_moto
trap stop_moto EXIT

step "cargo test"
log=target/test-output.log
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
summarize_cargo_tests "$log"
exit "$status"
