#!/usr/bin/env bash
# octet serve under load: 32 concurrent clients x 10 requests each (max_tokens 16; completions and chat,
# streamed and not) against -np 4 over loopback with curl. Every response must be valid (status 200, the
# OpenAI shape, usage counts, SSE ending with [DONE]); the server must be alive afterwards, and its resident
# memory (VmRSS from /proc/PID/status) back within 10% of its level before the load (measured after one
# warm-up round, which touches the slots' KV caches and scratch once).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/e2e/lib/server_common.sh
command -v curl >/dev/null

start_server -np 4 -c 256 -t 2 -q
load() { # clients requests
    "$PY" - "$URL" "$1" "$2" <<'PYEOF'
import json, subprocess, sys, threading
url, n_clients, n_req = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
prompts = ["And God said", "In the beginning", "The LORD is my shepherd", "Blessed are the meek"]
errors = []
def one(ci, ri):
    chat = (ci + ri) % 2 == 1
    stream = (ci + ri) % 3 == 0
    p = prompts[(ci * 7 + ri) % len(prompts)]
    body = {"max_tokens": 16, "temperature": 0.8, "seed": ci * 100 + ri, "stream": stream}
    if chat: body["messages"] = [{"role": "user", "content": p}]
    else: body["prompt"] = p
    path = "/v1/chat/completions" if chat else "/v1/completions"
    out = subprocess.run(["curl", "-s", "-N", "--max-time", "120", "-w", "\n%{http_code}", "-H",
                          "Content-Type: application/json", "-d", json.dumps(body), url + path],
                         stdout=subprocess.PIPE).stdout.decode()
    text, _, code = out.rpartition("\n")
    assert code == "200", (code, text[:300])
    if stream:
        assert text.endswith("data: [DONE]\n\n"), text[-200:]
        ev = [json.loads(e[6:]) for e in text.split("\n\n")[:-2]]
        assert ev and all(e["choices"][0]["finish_reason"] is None for e in ev[:-1]), text[:300]
        assert ev[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    else:
        j = json.loads(text)
        c = j["choices"][0]
        assert c["finish_reason"] in ("stop", "length"), j
        assert isinstance(c["message"]["content"] if chat else c["text"], str)
        assert 0 < j["usage"]["completion_tokens"] <= 16 or c["finish_reason"] == "stop", j
        if c["finish_reason"] == "length": assert j["usage"]["completion_tokens"] == 16, j
def client(ci):
    for ri in range(n_req):
        try: one(ci, ri)
        except Exception as e: errors.append("client %d request %d: %r" % (ci, ri, e))
ts = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
for t in ts: t.start()
for t in ts: t.join()
if errors:
    print("\n".join(errors[:10])); print("%d of %d requests failed" % (len(errors), n_clients * n_req)); sys.exit(1)
print("%d clients x %d requests: all valid" % (n_clients, n_req))
PYEOF
}
load 32 1
rss0=$(rss_kb)
t0=$(date +%s%N)
load 32 10
t1=$(date +%s%N)
rss1=$(rss_kb)
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] || { echo "server not alive after the load"; exit 1; }
echo "RSS before ${rss0} kB, after ${rss1} kB; 320 requests in $(( (t1 - t0) / 1000000 )) ms"
awk -v a="$rss0" -v b="$rss1" 'BEGIN { d = (b - a) / a; if (d < 0) d = -d; exit !(d <= 0.10) }' ||
    { echo "RSS moved by more than 10%"; exit 1; }
stop_server
echo "server load: ok"
