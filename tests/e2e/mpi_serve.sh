#!/usr/bin/env bash
# `octet serve` under mpiexec (docs/distributed.md), over loopback with MPICH: rank 0 serves HTTP and stage 0,
# the other ranks their stages, one pipeline sequence per slot.
#  - with -n 2 and -n 3 (--split 2,1,1) and 3 slots, four concurrent /v1/completions requests (temperature 0, so more requests
#    than slots: a slot is reused, from an empty cache) and one streamed request give the same text as the
#    single-process server (the second implementation here);
#  - SIGTERM to mpiexec ends the job cleanly: exit 0 within 15 s, "stopped", one stage report per rank, and no
#    rank left running.
# Skips (exit 0) when mpiexec or mpicc is missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
T=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
command -v curl >/dev/null || { echo "SKIP curl not found"; exit 0; }
MPI_MISSING=skip
. tests/e2e/lib/mpi_common.sh
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

start() { # log command...
    local log=$1; shift
    PORT=$(free_port)
    "$@" serve -m "$MODEL" --port "$PORT" -np 3 -c 128 -t 1 "${extra[@]}" 2>"$log" &
    PID=$!
    for _ in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ] && return 0
        kill -0 "$PID" 2>/dev/null || { echo "server exited during start"; cat "$log"; return 1; }
        sleep 0.05
    done
    echo "server not ready after 15 s"; cat "$log"; return 1
}

query() { # out: four concurrent requests and one streamed one, texts one JSON list
    "$PY" - "$PORT" "$1" <<'PYEOF'
import json, sys, threading, urllib.request
port, out = int(sys.argv[1]), sys.argv[2]
prompts = ["And God said", "In the beginning", "The LORD is my shepherd", "And it came to pass"]
res = [None] * len(prompts)
def ask(i):
    body = json.dumps({"prompt": prompts[i], "max_tokens": 24, "temperature": 0}).encode()
    r = urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/v1/completions" % port, data=body,
                               headers={"Content-Type": "application/json"}), timeout=30)
    res[i] = json.loads(r.read())["choices"][0]["text"]
th = [threading.Thread(target=ask, args=(i,)) for i in range(len(prompts))]
for t in th: t.start()
for t in th: t.join()
body = json.dumps({"prompt": "Blessed are", "max_tokens": 16, "temperature": 0, "stream": True}).encode()
r = urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/v1/completions" % port, data=body,
                           headers={"Content-Type": "application/json"}), timeout=30)
s = ""
for line in r.read().decode().split("\n"):
    if line.startswith("data: ") and line != "data: [DONE]":
        s += json.loads(line[6:])["choices"][0]["text"]
res.append(s)
assert all(isinstance(x, str) and x for x in res), res
json.dump(res, open(out, "w"))
PYEOF
}

stop() { # name log n_ranks: SIGTERM, exit 0 within 15 s
    local t0; t0=$(date +%s%N)
    kill -TERM "$PID"
    local rc=0
    for _ in $(seq 1 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$PID" 2>/dev/null; then bad "$1: still running 15 s after SIGTERM"; kill -9 "$PID"; fi
    wait "$PID"; rc=$?; PID=
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    local st; st=$(grep -c "^octet: stage [0-9]/$3 layers" "$2")
    if [ "$rc" -eq 0 ] && grep -q "octet serve: stopped" "$2" && [ "$st" -eq "$3" ]; then
        ok "$1: SIGTERM: exit 0 after $ms ms, $st stage reports"
    else bad "$1: SIGTERM: exit $rc, $st stage reports"; tail -5 "$2"; fi
}

extra=()
start "$T/ref.log" "$OCTET" || exit 1
query "$T/ref.json" || bad "single-process server requests"
kill -TERM "$PID"; wait "$PID"; PID=
for n in 2 3; do
    extra=(); [ "$n" -eq 3 ] && extra=(--split 2,1,1)
    if ! start "$T/mpi$n.log" timeout 60 mpiexec -n "$n" "$MPI"; then bad "mpiexec -n $n serve did not start"; continue; fi
    grep -q "3 sequences in flight" "$T/mpi$n.log" && ok "-n $n: 3 slots, 3 pipeline sequences" || bad "-n $n: sequences"
    if query "$T/mpi$n.json" && cmp -s "$T/ref.json" "$T/mpi$n.json"; then
        ok "-n $n: 5 greedy completions equal the single-process server's"
    else bad "-n $n: completions differ: $(cat "$T/mpi$n.json" 2>/dev/null) vs $(cat "$T/ref.json")"; fi
    stop "-n $n" "$T/mpi$n.log" "$n"
    if [ "$n" -eq 3 ]; then
        a=$(grep -oE '^octet: stage [0-2]/3 layers [0-9]+-[0-9]+' "$T/mpi$n.log" | sort | tr '\n' ,)
        [ "$a" = "octet: stage 0/3 layers 0-1,octet: stage 1/3 layers 2-2,octet: stage 2/3 layers 3-3," ] \
            && ok "-n 3: --split 2,1,1 stage layers" || bad "-n 3: --split 2,1,1: $a"
    fi
    sleep 0.3
    left=$(pgrep -f "$MPI serve -m $MODEL --port $PORT " | wc -l)
    [ "$left" -eq 0 ] && ok "-n $n: no rank left running" || bad "-n $n: $left processes left"
done

[ $fails -eq 0 ] && echo "mpi_serve: all passed" || echo "mpi_serve: $fails failed"
exit $((fails > 0))
