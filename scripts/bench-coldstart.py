#!/usr/bin/env python3
"""Cold-start benchmark of the Lambda binaries against a bare lambda_http hello-world.

Each run starts a fresh process under a fake Lambda Runtime API on 127.0.0.1 and measures:
  init          spawn -> its first GET /next (what Lambda reports as Init Duration)
  first invoke  event handed out -> its response (or error) POST
  peak RSS      VmHWM of the process after that first response
and prints one markdown table, with ratios to hello-world. Each binary is first evicted from the
page cache and started once, untimed, so that every one runs from a cache as a read from disk
leaves it; then the rounds, each in its own (seeded) order.

Usage: bench-coldstart.py [--runs 20] [--target-dir target/release] NAME...
AWS_ENDPOINT_URL (moto) is passed through, and reset to an empty table and bucket before each
run; scripts/bench-coldstart.sh sets it up. Exit code 1 if any run failed (no /next, or no
response within --timeout seconds).
"""

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BASELINE = "hello-world"
PREFIX = "/2018-06-01/runtime"
TABLE = "ihome-bench"
BUCKET = "ihome-bench-avatars"


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # The process is killed with its connection open; a reset then is expected, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Run:
    """What one process did, filled in by the fake Runtime API's handler threads."""

    def __init__(self, event: bytes):
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.first_next = threading.Event()
        self.answered = threading.Event()
        self.parked = threading.Event()  # the second /next: the first invocation is wholly done
        self.finished = threading.Event()  # releases the handler parked on the second /next
        self.t_next = self.t_handed = self.t_answer = None
        self.outcome = None  # "response", "error" or "init error"
        self.body = b""
        self.nexts = 0
        self.lock = threading.Lock()


def make_handler(run: Run):
    class Handler(BaseHTTPRequestHandler):
        # The runtime client keeps its connection alive, as it does against the real API.
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    chunk = self.rfile.read(size + 2)[:size]
                    if size == 0:
                        # Trailers (streaming mode) end with an empty line.
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return data
                    data += chunk
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def do_GET(self):
            if self.path != f"{PREFIX}/invocation/next":
                return self.reply(404)
            now = time.perf_counter()
            with run.lock:
                run.nexts += 1
                first = run.nexts == 1
            if not first:
                # One invocation per cold start: park the process here until it is killed.
                run.parked.set()
                run.finished.wait(60)
                self.close_connection = True
                return
            run.t_next = now
            run.first_next.set()
            deadline = int(time.time() * 1000) + 30_000
            trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
            headers = [
                ("Content-Type", "application/json"),
                ("Lambda-Runtime-Aws-Request-Id", run.request_id),
                ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench"),
                ("Lambda-Runtime-Trace-Id", trace),
            ]
            run.t_handed = time.perf_counter()
            self.reply(200, run.event, headers)

        def do_POST(self):
            now = time.perf_counter()
            body = self.read_body()
            if self.path == f"{PREFIX}/init/error":
                outcome = "init error"
            elif self.path == f"{PREFIX}/invocation/{run.request_id}/response":
                outcome = "response"
            elif self.path == f"{PREFIX}/invocation/{run.request_id}/error":
                outcome = "error"
            else:
                return self.reply(404)
            if not run.answered.is_set():
                run.t_answer, run.outcome, run.body = now, outcome, body
                run.answered.set()
            self.reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])

    return Handler


def wait_for(flag: threading.Event, proc: subprocess.Popen, timeout: float) -> bool:
    """Waits for flag; False if the process exits or the time runs out first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if flag.wait(0.005):
            return True
        if proc.poll() is not None:
            return flag.is_set()
    return False


def peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def cold_start(binary: Path, name: str, event: bytes, timeout: float) -> dict:
    run = Run(event)
    server = Server(("127.0.0.1", 0), make_handler(run))
    # A short poll interval: shutdown() waits for it, once per run.
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "IHOME_TABLE": TABLE,
        "IHOME_AVATAR_BUCKET": BUCKET,
    }
    if os.environ.get("AWS_ENDPOINT_URL"):
        env["AWS_ENDPOINT_URL"] = os.environ["AWS_ENDPOINT_URL"]
    result = {"ok": False}
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(binary)], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_for(run.first_next, proc, timeout):
            result["why"] = f"exited with {proc.returncode} before /next" if proc.poll() is not None \
                else f"no /next within {timeout:g} s"
            if run.answered.is_set():
                result["why"] += f" ({run.outcome}: {run.body[:200].decode(errors='replace')})"
            return result
        if not wait_for(run.answered, proc, timeout):
            result["why"] = f"exited with {proc.returncode} during the invocation" if proc.poll() is not None \
                else f"no response within {timeout:g} s"
            return result
        # Peak RSS once the process has finished with the first invocation (it has read the
        # runtime's reply and asked for the next event), just before the kill.
        run.parked.wait(1)
        try:
            rss = peak_rss(proc.pid)
        except OSError:
            result["why"] = f"exited with {proc.poll()} right after its first response"
            return result
        result.update(ok=True, init=run.t_next - t0, invoke=run.t_answer - run.t_handed, rss=rss,
                      outcome=run.outcome, status=status_of(run))
        return result
    finally:
        proc.kill()
        proc.wait()
        run.finished.set()
        server.shutdown()
        server.server_close()


def fresh_emulator(endpoint: str):
    """Resets moto to an empty table and bucket. Without it the runs diverge: state left by one
    run changes the path the next takes (login locks its mobile out after five failures)."""

    def call(service, method, path, body=b"", headers=()):
        # moto routes on the credential scope and checks no signature.
        scope = f"test/20260101/us-east-1/{service}/aws4_request"
        auth = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"
        headers = {"Authorization": auth, **dict(headers)}
        urllib.request.urlopen(urllib.request.Request(endpoint + path, body, headers, method=method), timeout=10).read()

    call("moto", "POST", "/moto-api/reset")
    table = {
        "TableName": TABLE,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    call("dynamodb", "POST", "/", json.dumps(table).encode(),
         [("X-Amz-Target", "DynamoDB_20120810.CreateTable"), ("Content-Type", "application/x-amz-json-1.0")])
    call("s3", "PUT", f"/{BUCKET}")


def status_of(run: Run) -> str:
    """A short label for what the function answered: its HTTP status, or the error type."""
    try:
        body = json.loads(run.body)
    except ValueError:
        return run.outcome
    if run.outcome == "response" and isinstance(body, dict) and "statusCode" in body:
        # Most answers are 200 either way; the API's errno tells which path the event took.
        try:
            errno = json.loads(body.get("body") or "").get("errno")
        except (ValueError, AttributeError):
            errno = None
        return f"{body['statusCode']}" + (f" errno {errno}" if errno is not None else "")
    if isinstance(body, dict) and "errorType" in body:
        return f"{run.outcome} {body['errorType']}"
    return run.outcome


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of the machine's CPU time in use over a short sample taken while this script idles,
    i.e. by something else. A busy machine delays these short-lived processes by whole scheduler
    slices (a few ms each), which swamps the differences measured here."""

    def sample():
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]  # user .. steal
        return sum(ticks), ticks[3] + ticks[4]  # total, idle + iowait

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def evict(path: Path):
    """Drops the file's pages from the page cache (written back first: dirty pages stay).
    Best effort: a file system that cannot leaves the cache as it is, with a warning."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError as e:
        print(f"warning: could not evict {path} from the page cache: {e}", file=sys.stderr)
    finally:
        os.close(fd)


def p90(values):
    """Nearest-rank 90th percentile: a value that was actually measured."""
    s = sorted(values)
    return s[math.ceil(0.9 * len(s)) - 1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="+", metavar="NAME", help=f"binaries to measure ({BASELINE} always comes first)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--target-dir", type=Path, default=Path("target/release"))
    ap.add_argument("--events-dir", type=Path, default=Path("events"))
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds allowed for init, and for the first invoke")
    ap.add_argument("--budget-init", type=float, default=1.5, help="report init medians above this × hello's")
    ap.add_argument("--budget-rss", type=float, default=2.0, help="report RSS medians above this × hello's")
    ap.add_argument("--keep-state", action="store_true", help="do not reset moto before each run")
    ap.add_argument("--seed", type=int, default=1, help="seed of the order of the binaries in each round")
    args = ap.parse_args()

    names = [BASELINE] + [n for n in dict.fromkeys(args.names) if n != BASELINE]
    events = {}
    for name in names:
        binary = args.target_dir / name
        event = args.events_dir / ("get-session.json" if name == BASELINE else f"{name}.json")
        for path in (binary, event):
            if not path.is_file():
                print(f"missing {path}", file=sys.stderr)
                return 2
        events[name] = event.read_bytes()

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    results = {name: [] for name in names}
    failures = []
    busy0 = cpu_busy()
    print(f"{args.runs} cold starts each of {len(names)} binaries, {os.cpu_count()} cores, "
          f"{busy0:.0%} busy beforehand", file=sys.stderr)
    # Every binary's page cache as a first read from disk leaves it, as in a container whose code
    # was just fetched: evicted, then read by one untimed start. Left as the linker wrote them
    # (many small writes), identical binaries differed by up to 0.4 ms from one build to the next.
    for name in names:
        evict(args.target_dir / name)
        if endpoint and not args.keep_state:
            fresh_emulator(endpoint)
        cold_start(args.target_dir / name, name, events[name], args.timeout)

    # Round-robin rather than one binary at a time: load from anything else on the machine then
    # spreads over every binary alike instead of skewing the ratios. Each round in its own order
    # (seeded, so reruns compare): in a fixed order the binary after `login` (70 ms of bcrypt and
    # moto's work, then the kill) started 0.2-0.3 ms slower than its twins in every run.
    order = random.Random(args.seed)
    for i in range(args.runs):
        for name in order.sample(names, len(names)):
            if endpoint and not args.keep_state:
                fresh_emulator(endpoint)
            r = cold_start(args.target_dir / name, name, events[name], args.timeout)
            if r["ok"]:
                results[name].append(r)
            else:
                failures.append(f"{name} run {i + 1}: {r['why']}")
                print(f"FAIL {failures[-1]}", file=sys.stderr)
        if sys.stderr.isatty():
            print(f"  run {i + 1}/{args.runs}", file=sys.stderr, end="\r")

    stats = {}
    for name in names:
        rs = results[name]
        if rs:
            stats[name] = {
                "init": statistics.median(r["init"] for r in rs),
                "init90": p90([r["init"] for r in rs]),
                "invoke": statistics.median(r["invoke"] for r in rs),
                "rss": statistics.median(r["rss"] for r in rs),
            }
    sizes = {name: (args.target_dir / name).stat().st_size for name in names}
    base = stats.get(BASELINE)

    def ratio(name, key):
        if base is None or name not in stats:
            return "—"
        return f"{stats[name][key] / base[key]:.2f}×"

    header = ["function", "init median", "init p90", "first invoke median", "peak RSS median", "binary",
              "init × hello", "RSS × hello", "binary × hello"]
    rows = []
    for name in names:
        s = stats.get(name)
        label = name if len(results[name]) == args.runs else f"{name} ({args.runs - len(results[name])} failed)"
        cells = [f"{s['init'] * 1e3:.1f} ms", f"{s['init90'] * 1e3:.1f} ms", f"{s['invoke'] * 1e3:.1f} ms",
                 f"{s['rss'] / 1e6:.1f} MB"] if s else ["—"] * 4
        rows.append([label, *cells, f"{sizes[name] / 1e6:.2f} MB", ratio(name, "init"), ratio(name, "rss"),
                     f"{sizes[name] / sizes[BASELINE]:.1f}×"])
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

    def line(cells):
        padded = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return "| " + " | ".join(padded) + " |"

    print(line(header))
    print("| " + " | ".join("-" * w if i == 0 else "-" * (w - 1) + ":" for i, w in enumerate(widths)) + " |")
    for row in rows:
        print(line(row))

    # What each function answered, so a benchmark of error paths is not mistaken for the happy one.
    print()
    for name in names:
        counts = {}
        for r in results[name]:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        print(f"{name}: answered " + (", ".join(f"{k} ×{v}" for k, v in sorted(counts.items())) or "nothing"))

    over = []
    if base:
        for name in names[1:]:
            s = stats.get(name)
            if not s:
                continue
            why = []
            if s["init"] > args.budget_init * base["init"]:
                why.append(f"init {s['init'] / base['init']:.2f}× > {args.budget_init:g}×")
            if s["rss"] > args.budget_rss * base["rss"]:
                why.append(f"RSS {s['rss'] / base['rss']:.2f}× > {args.budget_rss:g}×")
            if why:
                over.append(f"{name} ({', '.join(why)})")
    print(f"\nOver budget (init {args.budget_init:g}× hello, RSS {args.budget_rss:g}× hello): "
          + ("; ".join(over) if over else "none"))
    busy1 = cpu_busy()
    if max(busy0, busy1) > 0.2:
        print(f"warning: something else was using the CPU ({busy0:.0%} busy before the runs, {busy1:.0%} "
              "after); the times are inflated and noisy", file=sys.stderr)
    if failures:
        print(f"\n{len(failures)} failed run(s), listed above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
