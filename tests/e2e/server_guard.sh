#!/usr/bin/env bash
# octet serve against hostile and odd clients (issue 19 item 6): 1 MiB prompts refused by size before tokenizing
# (16 at once, peak RSS bounded), chunked bodies refused at the cap, half-closed clients answered, slow senders cut
# by the total read deadline, 600 idle sockets from one address answered 503 + Retry-After beyond the per-address
# cap while a normal client is served within 1 s, 405 with Allow, 415 for non-JSON POSTs, CORS off by default and
# preflights with --cors. See tests/e2e/lib/server_guard.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib/server_common.sh

start_server -np 1 -c 256 -t 2 --read-timeout 2 --max-conn-per-addr 8
timeout 240 "$PY" tests/e2e/lib/server_guard.py "$PORT" "$SERVER_PID" main
stop_server

# a client that closes completely while its non-streamed request runs: the probe (an interim 100 Continue) finds
# the reset and the slot is freed, well before max_tokens
start_server -np 1 -c 4096 -t 2
timeout 60 "$PY" - "$PORT" <<'PYEOF'
import json, socket, sys, time, urllib.request
port = int(sys.argv[1])
body = json.dumps({"prompt": "And God said", "max_tokens": 3000, "ignore_eos": True}).encode()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
          % len(body) + body)
time.sleep(0.3)
s.close()
for _ in range(200):
    h = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=5).read())
    if h["slots_processing"] == 0: break
    time.sleep(0.02)
assert h["slots_processing"] == 0, h
PYEOF
grep -q "generated, cancelled" "$work/server.log" || { echo "the closed client's request was not cancelled"; cat "$work/server.log"; exit 1; }
n_gen=$(grep "generated, cancelled" "$work/server.log" | tail -1 | sed 's/.*reused), \([0-9]*\) generated.*/\1/')
[ "$n_gen" -lt 3000 ] || { echo "the closed client's request ran to max_tokens"; exit 1; }
echo "a client gone during a non-streamed request: cancelled after $n_gen of 3000 tokens"
stop_server

start_server -np 1 -c 256 -t 2 --cors https://app.example
timeout 60 "$PY" tests/e2e/lib/server_guard.py "$PORT" "$SERVER_PID" cors
stop_server
echo "server guard: ok"
