# Helpers shared by the project's scripts. Sourced, not run.

# A heading per step, with the seconds since the outermost script started (a CI log's timings).
export IHOME_STEPS_T0="${IHOME_STEPS_T0:-$(date +%s)}"
step() { printf '\n==> %s  [%d s]\n' "$*" "$(($(date +%s) - IHOME_STEPS_T0))"; }

ensure_rust_components() {
    local have
    have=$(rustup component list --installed 2>/dev/null || true)
    for c in rustfmt clippy; do
        if ! grep -q "^$c" <<<"$have"; then
            rustup component add "$c"
        fi
    done
}

# ensure_venv DIR REQUIREMENTS CHECK: a virtualenv in DIR with REQUIREMENTS installed, unless one
# already passes CHECK (a Python statement) and was built from the same requirements.
ensure_venv() {
    local dir=$1 req=$2 check=$3
    local stamp="$dir/.requirements"
    if [ -x "$dir/bin/python" ] && cmp -s "$req" "$stamp" && "$dir/bin/python" -c "$check" 2>/dev/null; then
        return 0
    fi
    rm -rf "$dir"
    python3 -m venv "$dir"
    # No byte-compiling of every module installed (botocore, aws-sam-cli: thousands): CPU the
    # tests' build needs; Python compiles what it imports, when it first imports it.
    "$dir/bin/pip" install --quiet --disable-pip-version-check --no-compile -r "$req"
    "$dir/bin/python" -c "$check"
    cp "$req" "$stamp"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_until_up NAME PID LOG CHECK...: polls CHECK (a command) for up to 20 s while PID lives; on
# failure shows LOG.
wait_until_up() {
    local name=$1 pid=$2 log=$3
    shift 3
    for _ in $(seq 1 100); do
        if "$@" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    cat "$log" >&2
    echo "$name did not start" >&2
    return 1
}

# Starts moto's server on a free loopback port and points the AWS SDK's standard settings at it.
start_moto() {
    mkdir -p target
    MOTO_PORT=$(free_port)
    # Linearizable: one request at a time inside moto (scripts/moto_server.py says why).
    .venv-moto/bin/python scripts/moto_server.py -H 127.0.0.1 -p "$MOTO_PORT" >target/moto.log 2>&1 &
    MOTO_PID=$!
    wait_until_up "moto's server" "$MOTO_PID" target/moto.log \
        python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/data.json', timeout=1)"
    export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
    export AWS_EC2_METADATA_DISABLED=true
    unset AWS_PROFILE AWS_SESSION_TOKEN
    echo "moto on $AWS_ENDPOINT_URL (pid $MOTO_PID)"
}

stop_moto() {
    if [ -n "${MOTO_PID:-}" ]; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
}

# Debian's redis-server, for the cache tier's tests (and `ihome-local --redis`).
ensure_redis_server() {
    if command -v redis-server >/dev/null 2>&1; then
        return 0
    fi
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
    command -v redis-server >/dev/null
}

# Starts a throwaway redis-server on a free loopback port (no persistence, no service unit) and
# tells the tests where it is.
start_redis() {
    mkdir -p target
    REDIS_PORT=$(free_port)
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --protected-mode yes --daemonize no >target/redis.log 2>&1 &
    REDIS_PID=$!
    wait_until_up redis-server "$REDIS_PID" target/redis.log bash -c "exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT"
    export IHOME_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    echo "redis-server on $IHOME_TEST_REDIS_URL (pid $REDIS_PID)"
}

stop_redis() {
    if [ -n "${REDIS_PID:-}" ]; then
        kill "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
    fi
}

# The closing lines of the test command: scripts/schemathesis.sh's own line, then the sums of
# every test binary's "test result" line with each operation that script judged counted as one
# more test
# (its RESULT file: `PASSED FAILED`, then its line). No file (the script did not get that far)
# counts as one failed.
summarize_tests() {
    local log=$1 result=$2 fuzz_passed=0 fuzz_failed=1 fuzz_line="schemathesis: did not run to the end" line=""
    if [ -f "$result" ]; then
        { read -r fuzz_passed fuzz_failed; read -r line || true; } <"$result"
        [ -z "$line" ] || fuzz_line=$line
    fi
    printf '\n%s' "$fuzz_line"
    awk -v fp="$fuzz_passed" -v ff="$fuzz_failed" \
        '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
         END { printf "\n%d passed, %d failed\n", p + fp, f + ff }' "$log"
}
