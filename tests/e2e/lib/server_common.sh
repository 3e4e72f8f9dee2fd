# Shared by tests/e2e/server*.sh: pick a free loopback port, start `octet serve` with the bundled model, wait
# until /health says ready, stop it with SIGTERM and check it exits 0. Source it after `set -euo pipefail`.
OCTET=${OCTET:-./octet}
PY=${PY:-/usr/bin/python3}
MODEL=${OCTET_TEST_MODEL:-models/octet-kjv.gguf}
if [ ! -f "$MODEL" ]; then
    echo "SKIP: $MODEL is absent (the bundled model); set OCTET_TEST_MODEL to test with another model"
    exit 0
fi
command -v curl >/dev/null || { echo "curl is required (apt-get install curl)"; exit 1; }
work=$(mktemp -d)
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_server ARGS...: sets PORT, URL, SERVER_PID; the log goes to $work/server.log
start_server() {
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    "$OCTET" serve -m "$MODEL" --port "$PORT" "$@" 2>>"$work/server.log" &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ]; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited during start"; cat "$work/server.log"; exit 1; }
        sleep 0.05
    done
    echo "server not ready after 10 s"; cat "$work/server.log"; exit 1
}

# stop_server: SIGTERM, and the exit status must be 0
stop_server() {
    kill -TERM "$SERVER_PID"
    local rc=0
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=""
    if [ $rc -ne 0 ]; then echo "server exited with $rc after SIGTERM"; tail -20 "$work/server.log"; exit 1; fi
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }
