#!/usr/bin/env bash
# Runs every test on a fresh machine. Installs what it needs (rustfmt, clippy, a project-local
# virtualenv with moto, Debian's redis-server), checks formatting, lints while building the tests,
# starts moto's server on a free 127.0.0.1 port and a redis-server beside it, runs the whole test
# suite against them, and stops them again; then fuzzes the local server against openapi.yaml with
# Schemathesis (scripts/schemathesis.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

step "toolchain components"
ensure_rust_components

step "moto (AWS emulator) in .venv-moto, and Schemathesis in .venv-schemathesis beside it"
# Schemathesis's virtualenv is made meanwhile (mostly downloads), for scripts/schemathesis.sh at
# the end; should this fail, that script makes it again and says why.
mkdir -p target
ensure_venv .venv-schemathesis scripts/requirements-schemathesis.txt "import schemathesis, yaml" \
    >target/venv-schemathesis.log 2>&1 &
schemathesis_venv=$!
ensure_venv .venv-moto scripts/requirements-moto.txt "import moto.server"
wait "$schemathesis_venv" || echo "(Schemathesis's virtualenv: see target/venv-schemathesis.log; retried later)"

# The deploy check's tools (mostly downloads: aws-sam-cli, cfn-lint, cargo-lambda with zig, the
# arm64 standard library) arrive while the tests compile; scripts/deploy-check.sh finds them ready,
# or installs them again and says why.
step "deploy tools and the arm64 target, in the background (target/deploy-tools.log)"
( ensure_venv .venv-deploy scripts/requirements-deploy.txt "import cfnlint, samcli, ziglang" &&
    { rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
        rustup target add aarch64-unknown-linux-gnu; } ) >target/deploy-tools.log 2>&1 &
deploy_tools=$!

step "redis-server (Debian package) for the cache tier's tests"
ensure_redis_server
redis-server --version

step "cargo fmt --check"
cargo fmt --all -- --check

# The workspace's crates are compiled by clippy-driver (scripts/clippy-rustc, as `cargo clippy`
# does it), denying every warning: one build lints every target and makes the test binaries.
# `cargo test` below runs with the same wrapper, so it finds them fresh.
lint_and_build() { RUSTC_WORKSPACE_WRAPPER="$PWD/scripts/clippy-rustc" cargo "$@"; }

step "cargo clippy -D warnings, and the tests' build"
lint_and_build test --workspace --all-targets --locked --no-run

# Lints template.yaml, builds the arm64 release binaries with sam build; the replay of events/
# through them runs with the other tests (tests/deploy). A failure here is reported at the end.
step "deploy checks (scripts/deploy-check.sh)"
deploy_status=0
wait "$deploy_tools" || echo "(deploy tools: see target/deploy-tools.log; deploy-check.sh tries again)"
./scripts/deploy-check.sh || deploy_status=$?

step "starting moto and redis-server"
start_moto
start_redis
trap 'stop_moto; stop_redis' EXIT

step "cargo test"
log=target/test-output.log
status=0
lint_and_build test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?

# Fuzzes ihome-local (embedded store, a fresh data directory) against openapi.yaml; runs whatever
# cargo test said. Its operations count in the closing line, its failure in the exit status.
step "Schemathesis (scripts/schemathesis.sh)"
schemathesis_status=0
./scripts/schemathesis.sh || schemathesis_status=$?

summarize_tests "$log" target/schemathesis/result
if [ "$schemathesis_status" != 0 ]; then
    echo "schemathesis failed: scripts/schemathesis.sh exited $schemathesis_status" >&2
    [ "$status" != 0 ] || status=$schemathesis_status
fi
if [ "$deploy_status" != 0 ]; then
    echo "deploy checks failed: scripts/deploy-check.sh exited $deploy_status" >&2
    [ "$status" != 0 ] || status=$deploy_status
fi
exit "$status"
