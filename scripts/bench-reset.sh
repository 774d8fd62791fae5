#!/usr/bin/env bash
# Times reset code requests (GET /smscode/<mobile>?purpose=reset) for a mobile with an account and
# for one without, interleaved, against moto (SNS publishes for real there): the two answers should
# take about as long, so the time does not tell which mobiles have accounts. Prints medians and
# spreads; a benchmark, asserting nothing. Usage: scripts/bench-reset.sh [rounds, default 40]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_venv .venv-moto scripts/requirements-moto.txt "import moto.server"
start_moto
trap stop_moto EXIT
IHOME_BENCH_ROUNDS="${1:-40}" cargo test -p ihome-tests --test api --locked \
    account::bench_reset_code_timing_with_and_without_an_account -- --ignored --nocapture 2>&1 |
    grep -E "reset code|account|test result"
