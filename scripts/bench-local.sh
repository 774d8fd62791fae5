#!/usr/bin/env bash
# Benchmark (not a test): requests per second and p99 latency of the local server with the
# embedded store, under wrk, for GET /api/v1.0/user (logged in) and GET /api/v1.0/imagecode/{id}.
# Usage: scripts/bench-local.sh [seconds per run, default 10] [connections, default 32]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
secs=${1:-10}
conns=${2:-32}

if ! command -v wrk >/dev/null; then
    step "installing wrk (Debian package)"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
step "building ihome-local (release)"
cargo build --release --locked -p ihome-local

data=$(mktemp -d)
port=$(free_port)
# Production-like bcrypt cost; no AWS endpoint, so the embedded store is used. Every request
# comes from 127.0.0.1: the captcha budget per address is lifted so that the run measures
# drawing captchas, not refusing them (the budget's own counter write still runs on each).
env -u AWS_ENDPOINT_URL IHOME_BCRYPT_COST=10 IHOME_LIMIT_CAPTCHA_PER_IP=1000000 target/release/ihome-local --port "$port" --data "$data" >"$data/out.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do grep -q "listening" "$data/out.log" 2>/dev/null && break; sleep 0.1; done

step "registering a user"
token=$(python3 - "$port" "$data" <<'PY'
import json, sys, urllib.request
port, data = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}/api/v1.0"
urllib.request.urlopen(f"{base}/imagecode/bench").read()
text = [json.loads(l) for l in open(f"{data}/captcha.jsonl")][-1]["text"]
mobile = "13700001111"
urllib.request.urlopen(f"{base}/smscode/{mobile}?text={text}&id=bench").read()
msg = [json.loads(l) for l in open(f"{data}/sms.jsonl")][-1]["message"]
code = "".join(c for c in msg if c.isdigit())[:6]
req = urllib.request.Request(f"{base}/users", method="POST", headers={"Content-Type": "application/json"},
    data=json.dumps({"mobile": mobile, "sms_code": code, "password": "bench-password"}).encode())
resp = urllib.request.urlopen(req)
cookie = resp.headers["Set-Cookie"].split(";")[0]
assert json.load(resp)["errno"] == "0"
print(cookie.split("=", 1)[1])
PY
)

check=$(curl -s -H "Cookie: session=$token" "http://127.0.0.1:$port/api/v1.0/user")
grep -q '"errno":"0"' <<<"$check" || { echo "login check failed: $check" >&2; exit 1; }

run() {
    local name=$1; shift
    local out
    out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "$@")
    local rps p99
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '%-34s %10s req/s   p99 %s\n' "$name" "$rps" "$p99"
    grep -E "Non-2xx|Socket errors" <<<"$out" || true
}

step "wrk: $secs s per run, $conns connections, 2 threads, on $(nproc) cores"
run "GET /api/v1.0/user (logged in)" -H "Cookie: session=$token" "http://127.0.0.1:$port/api/v1.0/user"
run "GET /api/v1.0/imagecode/{id}" "http://127.0.0.1:$port/api/v1.0/imagecode/bench-id"

step "login timing: unknown mobile vs wrong password (bcrypt cost 10, sequential)"
python3 - "$port" "$data" <<'PY'
import json, statistics, sys, time, urllib.request
port, data = sys.argv[1], sys.argv[2]
api = f"http://127.0.0.1:{port}/api/v1.0"
def post(path, body):
    req = urllib.request.Request(f"{api}{path}", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps(body).encode())
    t = time.perf_counter()
    out = json.load(urllib.request.urlopen(req))
    return time.perf_counter() - t, out["errno"]
def register(mobile):
    urllib.request.urlopen(f"{api}/imagecode/t{mobile}").read()
    text = [json.loads(l) for l in open(f"{data}/captcha.jsonl")][-1]["text"]
    urllib.request.urlopen(f"{api}/smscode/{mobile}?text={text}&id=t{mobile}").read()
    msg = [json.loads(l) for l in open(f"{data}/sms.jsonl")][-1]["message"]
    code = "".join(c for c in msg if c.isdigit())[:6]
    assert post("/users", {"mobile": mobile, "sms_code": code, "password": "timing-password"})[1] == "0"
# Four failures per mobile stay under the lock (five in ten minutes).
users = [f"1360000{i:04d}" for i in range(8)]
for m in users:
    register(m)
unknown, wrong = [], []
for i in range(32):
    dt, errno = post("/sessions", {"mobile": f"1350000{i:04d}", "password": "wrong-password"})
    assert errno == "4004", errno
    unknown.append(dt)
    dt, errno = post("/sessions", {"mobile": users[i // 4], "password": "wrong-password"})
    assert errno == "4004", errno
    wrong.append(dt)
for name, s in (("unknown mobile", unknown), ("wrong password", wrong)):
    print(f"{name:16s} median {statistics.median(s)*1000:6.1f} ms   p90 {sorted(s)[int(len(s)*0.9)]*1000:6.1f} ms  (n={len(s)})")
PY
