#!/usr/bin/env bash
# octet serve end to end over loopback with curl: every endpoint (completions and chat, streamed and not,
# models, health, tokenize, detokenize), greedy text against `octet run`, seeds, stop strings, errors (bad JSON,
# wrong types, oversize body, unknown route, wrong method) as OpenAI error objects, --api-key, a client
# disconnecting mid-stream (its slot frees at once), and SIGTERM draining a stream in flight and exiting 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib/server_common.sh

start_server -np 2 -c 256 -t 2
nice -n 10 "$PY" tests/e2e/lib/server_api.py "$URL" "$OCTET" "$MODEL"

# a client that goes away mid-stream: with one slot busy generating a long reply, disconnect after the first
# event; the slot must free at once (the log shows the request cancelled well before max_tokens) and the next
# request must be served promptly. The reply is made long enough (ignore_eos, 3000 tokens: over a second at the
# bundled model's speed) that the server cannot finish it before it notices the closed connection.
stop_server
start_server -np 1 -c 4096 -t 2
"$PY" - "$PORT" <<'PYEOF'
import socket, sys, time, json, urllib.request
port = int(sys.argv[1])
body = json.dumps({"prompt": "And God said", "max_tokens": 3000, "temperature": 1.0, "seed": 7, "stream": True,
                   "ignore_eos": True}).encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
          % len(body) + body)
got = b""
while b"data: " not in got:
    got += s.recv(4096)
s.close()
t0 = time.time()
r = urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/v1/completions" % port,
    data=json.dumps({"prompt": "In the beginning", "max_tokens": 4}).encode(),
    headers={"Content-Type": "application/json"}), timeout=30)
j = json.loads(r.read())
dt = time.time() - t0
assert j["usage"]["completion_tokens"] <= 4, j
print("request after a disconnect served in %.0f ms" % (dt * 1e3))
for _ in range(100):
    h = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/health" % port).read())
    if h["slots_processing"] == 0: break
    time.sleep(0.02)
assert h["slots_processing"] == 0 and h["slots_idle"] == 1, h
PYEOF
grep -q "generated, cancelled" "$work/server.log" || { echo "no cancelled request in the log"; cat "$work/server.log"; exit 1; }
n_gen=$(grep "generated, cancelled" "$work/server.log" | head -1 | sed 's/.*reused), \([0-9]*\) generated.*/\1/')
[ "$n_gen" -lt 3000 ] || { echo "the disconnected request ran to max_tokens ($n_gen)"; exit 1; }
echo "disconnect: the abandoned request stopped after $n_gen of 3000 tokens"

# SIGTERM while a stream is in flight: the stream completes with [DONE], then the server exits 0
curl -s -N "$URL/v1/completions" -H 'Content-Type: application/json' \
    -d '{"prompt": "And God said", "max_tokens": 120, "stream": true}' > "$work/drain.txt" &
cpid=$!
for _ in $(seq 1 100); do [ -s "$work/drain.txt" ] && break; sleep 0.01; done
stop_server
wait $cpid
tail -c 14 "$work/drain.txt" | grep -q 'data: \[DONE\]' || { echo "stream cut by SIGTERM"; tail -c 300 "$work/drain.txt"; exit 1; }
echo "SIGTERM: the stream in flight finished, exit status 0"

# --api-key: 401 without or with a wrong bearer token; /health stays open
start_server -np 1 --api-key s3cret
code() { curl -s -o "$work/body" -w '%{http_code}' "$@"; }
[ "$(code "$URL/v1/models")" = 401 ] || { echo "no key: expected 401"; exit 1; }
grep -q '"error"' "$work/body" || { echo "401 without an error object"; exit 1; }
[ "$(code -H 'Authorization: Bearer wrong' "$URL/v1/models")" = 401 ] || { echo "wrong key: expected 401"; exit 1; }
[ "$(code -H 'Authorization: Bearer s3cret' "$URL/v1/models")" = 200 ] || { echo "right key: expected 200"; exit 1; }
[ "$(code -H 'Authorization: Bearer s3cret' -H 'Content-Type: application/json' \
      -d '{"prompt":"And","max_tokens":2}' "$URL/v1/completions")" = 200 ] || { echo "key: completion"; exit 1; }
[ "$(code -d '{"prompt":"And","max_tokens":2}' "$URL/v1/completions")" = 401 ] || { echo "no key: 401"; exit 1; }
[ "$(code "$URL/health")" = 200 ] || { echo "/health must not need the key"; exit 1; }
stop_server

# binds 127.0.0.1 by default
grep -q "listening on http://127.0.0.1:" "$work/server.log" || { echo "default host is not 127.0.0.1"; exit 1; }
# /health is 503 while the model loads: a FIFO as the model holds the loader in open() until a writer comes
mkfifo "$work/slow.gguf"
PORT=$(free_port)
"$OCTET" serve -m "$work/slow.gguf" --no-mmap --port "$PORT" 2>>"$work/server.log" &
SERVER_PID=$!
st=000
for _ in $(seq 1 100); do
    st=$(curl -s -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$PORT/health" || true)
    [ "$st" != 000 ] && break
    sleep 0.05
done
[ "$st" = 503 ] && grep -q '"loading"' "$work/body" || { echo "/health while loading: $st"; cat "$work/body"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/models")" = 503 ] || { echo "models while loading"; exit 1; }
(echo "not a model" > "$work/slow.gguf") 2>/dev/null || true  # the loader may close first: SIGPIPE
rc=0; wait "$SERVER_PID" || rc=$?; SERVER_PID=""
[ $rc = 1 ] || { echo "a model that fails to load must exit 1, got $rc"; exit 1; }
echo "server e2e: ok"
