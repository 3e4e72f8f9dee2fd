#!/usr/bin/env bash
# Distributed inference over MPI (docs/distributed.md), over loopback with MPICH's mpiexec:
#  - logits of `mpiexec -n 2` and `-n 3` (balanced and uneven --split) equal a single process's bit for bit
#    (the stage split is exact), on the bundled model and on a generated 8-layer model; the same greedy text;
#    the same perplexity with chunks in flight as micro-batches;
#  - bad --split, mismatched model files (same shape, other weights) fail at start with a message;
#  - a rank killed (SIGKILL) or stopped (SIGSTOP) mid-generation ends the whole job with an error message within
#    30 s, never a hang;
#  - per-rank resident model pages on a 2-stage run are at most 60% of the one-stage figure (8 layers, dim 512).
# Needs mpicc and mpiexec (tools/deps.sh installs MPICH); builds build/mpi/octet with make MPI=1.
set -uo pipefail
cd "$(dirname "$0")/../.."
T=$(mktemp -d)
JOBPID=
cleanup() { [ -n "$JOBPID" ] && kill -9 "$JOBPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
MPI_MISSING=fail
. tests/e2e/lib/mpi_common.sh
[ -x "$OCTET" ] || { echo "FAIL $OCTET not built"; exit 1; }
MPX="timeout 60 mpiexec"

# same bits, or at worst within 1e-6 relative (reported)
same_logits() { # name a b
    if cmp -s "$2" "$3"; then ok "$1: bit-identical"; return; fi
    if "$PY" - "$2" "$3" <<'PYEOF'
import sys, numpy as np
a = np.fromfile(sys.argv[1], np.float32); b = np.fromfile(sys.argv[2], np.float32)
sys.exit(0 if a.shape == b.shape and a.size and np.max(np.abs(a - b)) <= 1e-6 * np.max(np.abs(a)) else 1)
PYEOF
    then ok "$1: within 1e-6 relative (not bit-identical)"; else bad "$1: logits differ"; fi
}

check_model() { # label model splits-for-3
    local L=$1 M=$2 S3=$3 S2=$4
    if [ ! -f "$M" ]; then bad "$L: model $M not found"; return; fi
    local P="And God said, Let there be light: and there was light. And God saw the light"
    "$OCTET" logits -m "$M" -p "$P" -o "$T/ref.bin" -t 1 2>"$T/err" || { bad "$L: single-process logits"; cat "$T/err"; return; }
    for spec in "2:" "3:" "3:$S3" "2:$S2"; do
        local n=${spec%%:*} sp=${spec#*:}
        local extra=(); [ -n "$sp" ] && extra=(--split "$sp")
        if $MPX -n "$n" "$MPI" logits -m "$M" -p "$P" -o "$T/l.bin" -t 1 "${extra[@]}" 2>"$T/err"; then
            same_logits "$L: logits -n $n ${sp:+--split $sp}" "$T/ref.bin" "$T/l.bin"
            local st; st=$(grep -c "^octet: stage .*/$n layers" "$T/err")
            [ "$st" -eq "$n" ] && ok "$L: -n $n: $n stage reports" || bad "$L: -n $n: $st stage reports"
        else
            bad "$L: mpiexec -n $n logits ${sp:+--split $sp} failed"; sed 's/^/    /' "$T/err" | head -5
        fi
    done
    "$OCTET" run -m "$M" -p "And God said" -n 24 --temp 0 -t 1 -s 1 >"$T/ref.txt" 2>/dev/null
    for n in 2 3; do
        if $MPX -n $n "$MPI" run -m "$M" -p "And God said" -n 24 --temp 0 -t 1 -s 1 >"$T/run.txt" 2>"$T/err" &&
            cmp -s "$T/ref.txt" "$T/run.txt"; then ok "$L: greedy text -n $n equals one process"
        else bad "$L: greedy text -n $n differs"; head -c 300 "$T/run.txt"; sed 's/^/    /' "$T/err" | tail -3; fi
    done
}

check_model "bundled model" "$MODEL" "1,2,1" "1,3"
"$PY" tests/ref/make_random_model.py -o "$T/r8.gguf" --layers 8 --dim 128 --heads 4 --kv-heads 2 --ff 256 \
    --vocab 512 --ctx 8192 --seed 5 >/dev/null
"$PY" tests/ref/make_random_model.py -o "$T/r8b.gguf" --layers 8 --dim 128 --heads 4 --kv-heads 2 --ff 256 \
    --vocab 512 --ctx 8192 --seed 6 >/dev/null
check_model "random 8 layers" "$T/r8.gguf" "1,5,2" "7,1"

# perplexity: chunks flow through the stages as micro-batches; the same estimate as one process
"$PY" -c "
import random; random.seed(3)
w='and the LORD said unto Moses in the beginning God created heaven earth light darkness waters'.split()
print(' '.join(random.choice(w) for _ in range(2500)))" >"$T/text.txt"
"$OCTET" perplexity -m "$T/r8.gguf" -f "$T/text.txt" -c 64 --chunks 8 -t 1 >"$T/p1" 2>/dev/null
if $MPX -n 3 "$MPI" perplexity -m "$T/r8.gguf" -f "$T/text.txt" -c 64 --chunks 8 -t 1 >"$T/p3" 2>"$T/err" &&
    grep -q "Final estimate" "$T/p1" && cmp -s "$T/p1" "$T/p3"; then ok "perplexity -n 3: $(cat "$T/p3")"
else bad "perplexity -n 3 differs: $(cat "$T/p1") vs $(cat "$T/p3")"; tail -3 "$T/err"; fi
grep -q "4 sequences in flight" "$T/err" && ok "perplexity: 4 chunks in flight" || bad "perplexity: micro-batches"

# bad split, mismatched files
$MPX -n 2 "$MPI" logits -m "$T/r8.gguf" --tokens 1,2,3 -o "$T/x.bin" --split 3,3 >/dev/null 2>"$T/err"
[ $? -ne 0 ] && grep -q "sum to 6, but the model has 8 layers" "$T/err" && ok "bad --split refused" ||
    { bad "bad --split"; cat "$T/err"; }
t0=$(date +%s)
$MPX -n 1 "$MPI" logits -m "$T/r8.gguf" --tokens 1,2,3 -o "$T/x.bin" : -n 1 "$MPI" logits -m "$T/r8b.gguf" \
    --tokens 1,2,3 -o "$T/x.bin" >/dev/null 2>"$T/err"
rc=$?; dt=$(( $(date +%s) - t0 ))
[ $rc -ne 0 ] && grep -q "rank 1 has a different model file" "$T/err" && ok "mismatched model files refused (${dt} s)" ||
    { bad "mismatched model files: exit $rc"; cat "$T/err"; }

# a rank that dies or stops mid-generation: the job ends with an error within 30 s
fault() { # name signal
    local name=$1 sig=$2
    local mark="octet-mpi-test-$$-$sig"
    OCTET_DIST_TIMEOUT=3 OCTET_TEST_MARK=$mark timeout 120 mpiexec -n 2 "$MPI" run -m "$T/r8.gguf" -p "And" \
        -n -1 --ignore-eos -c 8192 --temp 0 -t 1 >"$T/out" 2>"$T/err" &
    JOBPID=$!
    local victim= i
    for i in $(seq 1 100); do # find rank 1 by its environment, once it has produced text
        for e in /proc/[0-9]*/environ; do
            if { tr "\0" "\n" <"$e" | grep -qx "OCTET_TEST_MARK=$mark"; } 2>/dev/null &&
                tr '\0' '\n' <"$e" 2>/dev/null | grep -qx "PMI_RANK=1"; then
                victim=${e#/proc/}; victim=${victim%/environ}
            fi
        done
        [ -n "$victim" ] && [ -s "$T/out" ] && break
        sleep 0.1
    done
    if [ -z "$victim" ]; then bad "$name: rank 1 not found"; kill -9 $JOBPID; wait $JOBPID; JOBPID=; return; fi
    sleep 0.5
    local t0; t0=$(date +%s%N)
    kill -"$sig" "$victim"
    wait $JOBPID; local rc=$?; JOBPID=
    local ms=$(( ($(date +%s%N) - t0) / 1000000 )) dt
    # the message: ours (a silent rank) or the launcher's (a rank that died), on stderr or stdout
    local msg; msg=$(cat "$T/err" "$T/out" | grep -aE "stopped answering|BAD TERMINATION|Killed" | head -1)
    dt="$((ms / 1000)).$(printf %03d $((ms % 1000)))"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$ms" -lt 30000 ] && [ -n "$msg" ]; then
        ok "$name: job ended (exit $rc) after ${dt} s: $msg"
    else bad "$name: exit $rc after ${dt} s"; tail -5 "$T/err"; fi
}
fault "rank 1 killed mid-generation" KILL
fault "rank 1 stopped mid-generation" STOP

# resident weights per rank: 2 stages each hold at most 60% of the one-stage figure
"$PY" tests/ref/make_random_model.py -o "$T/big.gguf" --layers 8 --dim 512 --heads 8 --ff 1536 --vocab 1024 \
    --seed 9 >/dev/null
rss() { sed -n 's/.*model resident \([0-9]*\) KiB.*/\1/p' "$1"; }
$MPX -n 1 "$MPI" logits -m "$T/big.gguf" --tokens 1,2,3,4 -o "$T/x.bin" -t 1 2>"$T/e1" >/dev/null
$MPX -n 2 "$MPI" logits -m "$T/big.gguf" --tokens 1,2,3,4 -o "$T/x.bin" -t 1 2>"$T/e2" >/dev/null
one=$(rss "$T/e1"); two=$(rss "$T/e2" | sort -n | tail -1)
if [ -n "$one" ] && [ -n "$two" ] && [ "$one" -gt 0 ] && [ $((two * 100)) -le $((one * 60)) ]; then
    ok "resident model pages: one stage $one KiB, largest of two stages $two KiB ($((two * 100 / one))%)"
else bad "resident model pages: one stage ${one:-?} KiB, two stages: $(rss "$T/e2" | tr '\n' ' ')"; fi

[ $fails -eq 0 ] && echo "mpi: all passed" || echo "mpi: $fails failed"
exit $((fails > 0))
