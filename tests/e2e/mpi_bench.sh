#!/usr/bin/env bash
# `octet bench` under mpiexec (docs/distributed.md), over loopback with MPICH:
#  - mpiexec -n 2 bench --parallel 2 prints one row per test (pp32 x2, tg8 x2) in md and json, with tokens/s, and
#    one stage report per rank; every stage processed (32 + 8) x 2 sequences x (warm-up + 1 repetition) = 160
#    tokens (counted by each rank independently of rank 0's bookkeeping);
#  - -n 3 with an uneven --split: three stage reports with the requested layer ranges;
#  - options that would need several pipelines (-t 1,2) fail cleanly, and --parallel without an MPI job is refused.
# Skips (exit 0) when mpiexec or mpicc is missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
MPI_MISSING=skip
. tests/e2e/lib/mpi_common.sh
MPX="timeout 60 mpiexec"
B=(bench -m "$MODEL" -p 32 -n 8 -r 1 -t 1)

if $MPX -n 2 "$MPI" "${B[@]}" --parallel 2 >"$T/md" 2>"$T/err"; then
    grep -qE '^\| .* \| pp32 x2 \| [0-9]+\.[0-9]+ ± ' "$T/md" && grep -qE '^\| .* \| tg8 x2 \| [0-9]+\.[0-9]+ ± ' "$T/md" \
        && ok "md rows: $(grep -oE '(pp32|tg8) x2 \| [0-9.]+' "$T/md" | tr '\n' ' ')" || { bad "md rows"; cat "$T/md"; }
    n=$(grep -cE '^octet: stage [01]/2 layers [0-9]+-[0-9]+: 160 tokens, compute [0-9.]+ ms, waiting [0-9.]+ ms, .*bytes/token' "$T/err")
    [ "$n" -eq 2 ] && ok "two stage reports, 160 tokens each" || { bad "stage reports ($n)"; cat "$T/err"; }
    grep -q "2 sequences in flight" "$T/err" && ok "2 sequences in flight" || bad "sequences in flight"
else bad "mpiexec -n 2 bench --parallel 2 failed"; tail -5 "$T/err"; fi

if $MPX -n 2 "$MPI" "${B[@]}" --parallel 3 -o json >"$T/json" 2>"$T/err"; then
    "$PY" - "$T/json" <<'PYEOF' && ok "json rows: n_parallel 3, tokens/s > 0" || bad "json rows: $(cat "$T/json")"
import json, sys
rows = json.load(open(sys.argv[1]))
assert [(r["n_prompt"], r["n_gen"]) for r in rows] == [(32, 0), (0, 8)], rows
assert all(r["n_parallel"] == 3 and r["available"] and r["avg_ts"] > 0 for r in rows), rows
PYEOF
else bad "mpiexec -n 2 bench -o json failed"; tail -5 "$T/err"; fi

if $MPX -n 3 "$MPI" "${B[@]}" --parallel 2 --split 1,2,1 -o csv >"$T/csv" 2>"$T/err"; then
    a=$(grep -oE '^octet: stage [0-2]/3 layers [0-9]+-[0-9]+' "$T/err" | sort | tr '\n' ',')
    [ "$a" = "octet: stage 0/3 layers 0-0,octet: stage 1/3 layers 1-2,octet: stage 2/3 layers 3-3," ] \
        && ok "-n 3 --split 1,2,1: stage layers" || { bad "-n 3 stage layers: $a"; cat "$T/err"; }
    # n_parallel is column 49, energy_source 50 (estimated under mpiexec)
    [ "$(awk -F'","' 'NR > 1 && $49 == "2" && $50 == "estimated"' "$T/csv" | wc -l)" -eq 2 ] \
        && ok "-n 3 csv: 2 rows, n_parallel 2, energy estimated" || { bad "-n 3 csv"; cat "$T/csv"; }
else bad "mpiexec -n 3 bench --split 1,2,1 failed"; tail -5 "$T/err"; fi

$MPX -n 2 "$MPI" "${B[@]}" -t 1,2 >/dev/null 2>"$T/err"; rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "one -t value" "$T/err" && ok "-t 1,2 under mpiexec refused (exit $rc)" \
    || { bad "-t 1,2 under mpiexec: exit $rc"; tail -3 "$T/err"; }
"$OCTET" "${B[@]}" --parallel 2 >/dev/null 2>"$T/err"; rc=$?
[ "$rc" -eq 2 ] && grep -q "needs an MPI job" "$T/err" && ok "--parallel without MPI refused" \
    || { bad "--parallel without MPI: exit $rc"; cat "$T/err"; }

[ $fails -eq 0 ] && echo "mpi_bench: all passed" || echo "mpi_bench: $fails failed"
exit $((fails > 0))
