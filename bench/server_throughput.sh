#!/usr/bin/env bash
# Benchmark (run by `make bench`, not a test: speed targets live in benchmarks): with -np 4, the aggregate
# generation throughput (completion tokens per second of wall time) of four simultaneous requests against one
# request alone; the target is at least 2x. Best of three interleaved rounds each, since the machine is shared.
# Prints the measured ratio and exits non-zero below the target.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/e2e/lib/server_common.sh

start_server -np 4 -c 256 -q ${SERVER_ARGS:-}
"$PY" - "$URL" <<'PYEOF'
import json, sys, threading, time, urllib.request
url = sys.argv[1]
N = 96
prompts = ["And God said", "In the beginning", "The LORD is my shepherd", "Blessed are the meek"]
def req(p, out, i):
    body = json.dumps({"prompt": p, "max_tokens": N, "temperature": 0.8, "seed": i}).encode()
    r = urllib.request.urlopen(urllib.request.Request(url + "/v1/completions", data=body,
                               headers={"Content-Type": "application/json"}), timeout=120)
    out[i] = json.loads(r.read())["usage"]["completion_tokens"]
def run(k):
    out = [0] * k
    ts = [threading.Thread(target=req, args=(prompts[i], out, i)) for i in range(k)]
    t0 = time.time()
    for t in ts: t.start()
    for t in ts: t.join()
    return sum(out) / (time.time() - t0), sum(out)
run(4)  # warm-up
one = four = 0.0
for _ in range(3):  # interleaved, so a change in the machine's load hits both alike
    one = max(one, run(1)[0])
    four = max(four, run(4)[0])
ratio = four / one
print("throughput: 1 request %.1f tok/s, 4 simultaneous %.1f tok/s aggregate, ratio %.2fx" % (one, four, ratio))
if ratio < 2.0:
    print("FAIL: batched slots give less than 2x"); sys.exit(1)
PYEOF
stop_server
