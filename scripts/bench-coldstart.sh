#!/usr/bin/env bash
# Benchmark (not a test): cold start (init time, first invoke, peak RSS, binary size) of every
# function's release binary, next to a bare lambda_http hello-world, under a fake Lambda Runtime
# API, with moto standing in for DynamoDB and S3. Prints a markdown table.
# Usage: scripts/bench-coldstart.sh [--runs 20] [--budget-init 1.5] [--budget-rss 2.0]
# (options go to scripts/bench-coldstart.py). Measures host binaries: the deployed ones are arm64.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

functions=()
for dir in functions/*/; do functions+=("$(basename "$dir")"); done

# One cargo invocation: the shared dependencies build once, and cargo spreads the links over both cores.
step "building release binaries: hello-world ${functions[*]}"
packages=(-p hello-world)
for f in "${functions[@]}"; do packages+=(-p "$f"); done
# The deployed binaries' flags (.cargo/config.toml: no unwind tables, not position-independent),
# for the host. With --target, RUSTFLAGS reach only the binaries' crates, not build scripts and
# proc-macros; the binaries land in target/<host>/release.
host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-C force-unwind-tables=no -C link-arg=-Wl,--no-pie" \
    cargo build --release --locked --target "$host" "${packages[@]}"

step "moto (AWS emulator) in .venv-moto"
ensure_venv .venv-moto scripts/requirements-moto.txt "import moto.server"

step "starting moto"
start_moto
trap stop_moto EXIT

# The same key schema as template.yaml's table. The driver resets moto back to exactly this (empty
# table and bucket) before every run, so each cold start sees the same state.
step "creating table ihome-bench and bucket ihome-bench-avatars"
.venv-moto/bin/python - <<'PY'
import boto3  # picks up AWS_ENDPOINT_URL and the test credentials start_moto exported
# botocore reads AWS_DEFAULT_REGION, not the AWS_REGION that start_moto sets.
session = boto3.Session(region_name="us-east-1")
session.client("dynamodb").create_table(
    TableName="ihome-bench",
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    BillingMode="PAY_PER_REQUEST",
)
session.client("s3").create_bucket(Bucket="ihome-bench-avatars")
PY

step "cold starts"
python3 scripts/bench-coldstart.py --target-dir "target/$host/release" "$@" hello-world "${functions[@]}"
