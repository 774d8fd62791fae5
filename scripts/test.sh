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

# What the tests need besides Rust, fetched while they compile (mostly downloads, logs in target/):
# moto's and Schemathesis's virtualenvs, Debian's redis-server, and the deploy check's tools
# (aws-sam-cli, cfn-lint, cargo-lambda with zig, the arm64 standard library). Each is waited for
# where it is first needed; scripts/deploy-check.sh and scripts/schemathesis.sh make their own
# again, and say why, should a background install have failed.
step "in the background: moto, Schemathesis, redis-server, deploy tools (target/install-*.log)"
mkdir -p target
ensure_venv .venv-moto scripts/requirements-moto.txt "import moto.server" >target/install-moto.log 2>&1 &
moto_install=$!
ensure_venv .venv-schemathesis scripts/requirements-schemathesis.txt "import schemathesis, yaml" \
    >target/install-schemathesis.log 2>&1 &
schemathesis_install=$!
# apt: finished before the deploy check, which may apt-get qemu (one dpkg at a time).
ensure_redis_server >target/install-redis.log 2>&1 &
redis_install=$!
( ensure_venv .venv-deploy scripts/requirements-deploy.txt "import cfnlint, samcli, ziglang" &&
    { rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
        rustup target add aarch64-unknown-linux-gnu; } ) >target/install-deploy.log 2>&1 &
deploy_install=$!

# waited NAME PID: waits for a background install; on failure shows its log and stops.
waited() {
    wait "$2" || { echo "installing $1 failed:" >&2; cat "target/install-$1.log" >&2; exit 1; }
}

step "cargo fmt --check"
cargo fmt --all -- --check

# The workspace's crates are compiled by clippy-driver (scripts/clippy-rustc, as `cargo clippy`
# does it), denying every warning: one build lints every target and makes the test binaries.
# `cargo test` below runs with the same wrapper, so it finds them fresh.
lint_wrapper="$PWD/scripts/clippy-rustc"
# A CI run builds from nothing and never again: incremental compilation's bookkeeping is only cost.
if [ "${CI:-}" = true ]; then
    export CARGO_INCREMENTAL=0
fi
lint_and_build() { RUSTC_WORKSPACE_WRAPPER="$lint_wrapper" cargo "$@"; }

step "cargo clippy -D warnings, and the tests' build"
lint_and_build test --workspace --all-targets --locked --no-run

# Lints template.yaml and builds the arm64 release binaries with sam build, in the background:
# the tests that need none of its artifacts, and Schemathesis, run meanwhile (they mostly wait
# on moto, the build on the CPU), at a lower priority (nice), so the tests' timings are theirs; its
# log is shown when it ends. Cargo locks each profile's directory apart, so this release build and
# the tests' debug ones do not wait on each other.
step "deploy checks (scripts/deploy-check.sh) in the background: target/deploy-check.log"
waited redis "$redis_install"
redis-server --version
wait "$deploy_install" || echo "(deploy tools: see target/install-deploy.log; deploy-check.sh tries again)"
# Its own process group (setsid), so that stopping early stops all of it.
setsid nice -n 15 ./scripts/deploy-check.sh >target/deploy-check.log 2>&1 &
deploy_check=$!
trap 'kill -- -"$deploy_check" 2>/dev/null || true' EXIT

step "starting moto and redis-server"
waited moto "$moto_install"
start_moto
start_redis
trap 'stop_moto; stop_redis; kill -- -"$deploy_check" 2>/dev/null || true' EXIT

# The tests of the deploy check's artifacts (the events replayed through the arm64 binaries, the
# connection opened during init, the cache tier in a function) run after it, by these names
# (`--skip` below, the filters after). Every test runs once, in one phase or the other.
artifact_tests=(replay:: warm_up:: cache_tier::)
skips=()
for t in "${artifact_tests[@]}"; do skips+=(--skip "$t"); done

step "cargo test, all but the deploy artifacts' tests"
log=target/test-output.log
status=0
lint_and_build test --workspace --locked --no-fail-fast -- "${skips[@]}" 2>&1 | tee "$log" || status=$?

# Fuzzes ihome-local (embedded store, a fresh data directory) against openapi.yaml; runs whatever
# cargo test said. Its operations count in the closing line, its failure in the exit status.
step "Schemathesis (scripts/schemathesis.sh)"
schemathesis_status=0
wait "$schemathesis_install" || echo "(Schemathesis: see target/install-schemathesis.log; schemathesis.sh tries again)"
# With the same compiler wrapper, its build of the workspace finds cargo test's binaries fresh.
RUSTC_WORKSPACE_WRAPPER="$lint_wrapper" ./scripts/schemathesis.sh || schemathesis_status=$?

step "deploy checks: waiting for them to end"
deploy_status=0
wait "$deploy_check" || deploy_status=$?
cat target/deploy-check.log
echo "(deploy checks ended with status $deploy_status)"

step "cargo test, the deploy artifacts' tests"
if [ "$deploy_status" = 0 ]; then
    lint_and_build test --workspace --locked --no-fail-fast -- "${artifact_tests[@]}" 2>&1 | tee -a "$log" ||
        status=$?
else
    echo "skipped: the deploy checks failed, so there are no artifacts to test"
fi

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
