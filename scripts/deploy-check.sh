#!/usr/bin/env bash
# Deploy checks, offline (no Docker, no AWS account): lints template.yaml with cfn-lint and
# `sam validate --lint` (as it is, and with the cache tier on), builds every function with
# `sam build` through cargo-lambda (arm64, in source, reusing target/), and checks that each
# function's artifact is an arm64 executable.
#
# Installs what it needs: .venv-deploy/ (scripts/requirements-deploy.txt), the Rust target
# aarch64-unknown-linux-gnu, and, on a non-arm64 machine, Debian's qemu-user-static with the arm64
# C runtime, so that the tests (tests/deploy, run by `cargo test`) can replay events/ through the
# very binaries `sam build` produced.
#
# Run by scripts/test.sh before the tests; runs alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

export SAM_CLI_TELEMETRY=0
# Plain `sam validate` wants a region; nothing here calls AWS.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
# zig (brought by cargo-lambda) caches inside the project.
export ZIG_GLOBAL_CACHE_DIR="$PWD/target/zig-cache"
export ZIG_LOCAL_CACHE_DIR="$PWD/target/zig-cache"

step "deploy tools (cfn-lint, aws-sam-cli, cargo-lambda) in .venv-deploy"
ensure_venv .venv-deploy scripts/requirements-deploy.txt "import cfnlint, samcli, ziglang"
# sam build runs `cargo lambda` and finds zig through `python3 -m ziglang`: this venv first.
export PATH="$PWD/.venv-deploy/bin:$PATH"

step "rust target aarch64-unknown-linux-gnu"
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
fi

have_qemu() {
    { command -v qemu-aarch64-static || command -v qemu-aarch64; } >/dev/null &&
        [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] && [ -e /usr/aarch64-linux-gnu/lib/libgcc_s.so.1 ]
}
if [ "$(uname -m)" != aarch64 ] && ! have_qemu; then
    step "qemu-user-static and the arm64 C runtime (to run the arm64 artifacts here)"
    if [ "$(id -u)" != 0 ]; then
        echo "need root to apt-get install qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross >/dev/null
fi

# The template in both settings of the cache tier: as it is (CacheTier off by default) and a copy
# whose CacheTier defaults to on (sam validate's linter evaluates the parameters' defaults).
step "template.yaml with CacheTier=on, for the linters"
mkdir -p target/deploy-check
python - <<'EOF'
import re, sys

text = open("template.yaml").read()
on, n = re.subn(r'(\n  CacheTier:\n(?:    .*\n)*?    Default: )"off"\n', r'\1"on"\n', text)
if n != 1:
    sys.exit('template.yaml: no parameter CacheTier with Default: "off" to turn on')
open("target/deploy-check/template.cache-on.yaml", "w").write(on)
print("target/deploy-check/template.cache-on.yaml")
EOF

step "cfn-lint template.yaml, CacheTier off and on (no error, no warning)"
cfn-lint --version
cfn-lint template.yaml
cfn-lint target/deploy-check/template.cache-on.yaml
echo "cfn-lint: clean"

step "sam validate --lint, CacheTier off and on"
sam validate --lint --template template.yaml --region "$AWS_DEFAULT_REGION"
sam validate --lint --template target/deploy-check/template.cache-on.yaml --region "$AWS_DEFAULT_REGION"

step "sam build (rust-cargolambda, arm64, in source)"
started=$(date +%s)
# sam builds the functions one cargo invocation at a time, so on two cores their links ran one
# after another. Built first in one invocation (the same profile, target and features: sam's own
# builds then find every artifact fresh), the dependencies compile once and the links share both
# cores.
packages=()
for dir in functions/*/; do packages+=(-p "$(basename "$dir")"); done
cargo lambda build --release --arm64 --locked "${packages[@]}"
echo "cargo lambda build took $(( $(date +%s) - started )) s"
sam build --beta-features --template template.yaml --build-dir .aws-sam/build
echo "sam build took $(( $(date +%s) - started )) s"

step "build artifacts"
# Every function of the template has an arm64 ELF executable `bootstrap`; sizes as deployed.
python - <<'EOF'
import os, sys, zlib

from cfnlint.decode import decode

template, errors = decode("template.yaml")
if errors:
    sys.exit(f"template.yaml does not parse: {errors}")
names = [k for k, r in template["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"]
if not names:
    sys.exit("no AWS::Serverless::Function in template.yaml")
bad = []
print(f"{'function':28} {'bootstrap':>12} {'zipped':>10}")
for logical_id in names:
    path = os.path.join(".aws-sam", "build", logical_id, "bootstrap")
    try:
        data = open(path, "rb").read()
    except OSError as e:
        bad.append(f"{logical_id}: {e}")
        continue
    # ELF, 64-bit, e_machine 0xB7 (AArch64), executable bit set.
    if data[:5] != b"\x7fELF\x02" or int.from_bytes(data[18:20], "little") != 0xB7:
        bad.append(f"{logical_id}: {path} is not an arm64 ELF executable")
    if not os.access(path, os.X_OK):
        bad.append(f"{logical_id}: {path} is not executable")
    gz = len(zlib.compress(data, 6))
    print(f"{logical_id:28} {len(data) / 1e6:9.2f} MB {gz / 1e6:7.2f} MB")
if bad:
    sys.exit("missing or wrong artifacts:\n  " + "\n  ".join(bad))
print(f"{len(names)} artifacts, all arm64 executables")
EOF
