#!/usr/bin/env bash
# Abuse check (not a test: it takes minutes): floods a local server (release build, embedded
# store, default budgets) from one address for N seconds with solved captchas asking for SMS
# codes, first a fresh mobile per request (SMS pumping to many numbers), then 200 rotating mobiles,
# each against a fresh server, and prints SMS sent (budget: 20 per address per hour) and refusals.
# Usage: scripts/abuse-check.sh [seconds, default 60] [threads, default 4]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
secs=${1:-60}
threads=${2:-4}

step "building ihome-local (release)"
cargo build --release --locked -p ihome-local

run() {
    local label=$1 mobiles=$2 data port pid
    data=$(mktemp -d)
    port=$(free_port)
    env -u AWS_ENDPOINT_URL target/release/ihome-local --port "$port" --data "$data" >"$data/out.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do grep -q "listening" "$data/out.log" 2>/dev/null && break; sleep 0.1; done
    step "$label: ${secs} s, ${threads} threads, one address (127.0.0.1)"
    python3 scripts/abuse-check.py "http://127.0.0.1:$port" "$data" --seconds "$secs" --threads "$threads" --mobiles "$mobiles"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$data"
}

run "a fresh mobile per request" fresh
run "200 rotating mobiles" 200
