#!/usr/bin/env bash
# bench/run_bench.sh - the fixed benchmark matrix behind `make bench`: TinyLlama-1.1B-shaped random-weight models
# (octet synth) at Q8_0, Q4_0 and Q4_K, float and integer execution, 1 and 2 threads, pp512 and tg128, printed as
# one markdown table by `octet bench`. Models are synthesized once into build/bench/ (not committed).
#
# With LLAMA_BENCH=/path/to/llama-bench, each (model, threads) case also runs llama-bench on the same file right
# after octet (interleaved, so both see the same machine load) and a second table gives both speeds and the
# ratio octet / llama.cpp. Environment (defaults): P=512 N=128 R=3 THREADS=1,2 EXEC=float,int
# TYPES="Q8_0 Q4_0 Q4_K" SHAPE=tinyllama-1.1b OCTET=./octet PROBE_MB=512. At the end, integer / float at Q8_0
# interleaved in one process (build/rel/bench/ab_exec). Every kernel set the CPU runs is measured (ISAS, default:
# the sets `octet info` lists, e.g. "ref avx2 avx512"; ref is left out unless named: it is the specification, not a
# speed target), each through `octet bench --isa`.
set -u
cd "$(dirname "$0")/.."
OCTET=${OCTET:-./octet}
P=${P:-512} N=${N:-128} R=${R:-3} THREADS=${THREADS:-1,2} EXEC=${EXEC:-float,int}
TYPES=${TYPES:-"Q8_0 Q4_0 Q4_K"} SHAPE=${SHAPE:-tinyllama-1.1b} PROBE_MB=${PROBE_MB:-512}
LLAMA_BENCH=${LLAMA_BENCH:-}
ISAS=${ISAS:-$("$OCTET" info 2>/dev/null | awk -F'  +' '/this CPU runs/ {print $3}' | tr -d ',' | sed 's/^ref *//')}
[ -n "$ISAS" ] || ISAS=ref
mkdir -p build/bench
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

for t in $TYPES; do
    m=build/bench/$SHAPE-$t.gguf
    if [ ! -s "$m" ]; then
        "$OCTET" synth --shape "$SHAPE" --type "$t" -o "$m" || exit 1
    fi
done

echo "# octet bench: $SHAPE, pp$P / tg$N, threads $THREADS, exec $EXEC, kernel sets $ISAS, $R repetitions ($(date -u +%FT%TZ))"
echo
for t in $TYPES; do
    m=build/bench/$SHAPE-$t.gguf
    for th in ${THREADS//,/ }; do
        for isa in $ISAS; do
            "$OCTET" bench -m "$m" -p "$P" -n "$N" -t "$th" -r "$R" --exec "$EXEC" --probe-mb "$PROBE_MB" -o csv \
                --isa "$isa" > "$W/o.csv" 2> "$W/o.err" || { cat "$W/o.err"; exit 1; }
            grep -h "bandwidth probe" "$W/o.err" >> "$W/probe.txt"
            tail -n +2 "$W/o.csv" >> "$W/octet.csv"
        done
        if [ -n "$LLAMA_BENCH" ]; then
            "$LLAMA_BENCH" -m "$m" -p "$P" -n "$N" -t "$th" -r "$R" -o csv 2>/dev/null | tail -n +2 >> "$W/llama.csv"
        fi
    done
done
# csv fields (llama-bench's order, then octet's): model_filename $6, model_type $7, n_threads $12, n_prompt $33,
# n_gen $34, avg_ts $39, stddev_ts $40, exec $41, bytes_per_token $42, achieved_gbs $43, bandwidth_gbs $44,
# roofline_pct $45, j_per_token $46, j_compute $47, j_memory $48, n_parallel $49, energy_source $50,
# j_estimated $51 (j_per_token is measured when energy_source says so, else the estimate j_compute + j_memory)
echo "| model | exec | kernels | threads | test | t/s | MB/token | GB/s | roofline | mJ/token |"
echo "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
awk -F'","' '{ t = ($33+0 > 0) ? "pp"$33 : "tg"$34; sub(/"$/, "", $51); ks = $5; sub(/^CPU /, "", ks)
               if ($50 ~ /^measured/) e = sprintf("%.1f %s (estimate %.1f)", $46*1e3, $50, $51*1e3)
               else e = sprintf("%.1f estimated (%.2f + %.1f)", $46*1e3, $47*1e3, $48*1e3)
               if ($39 == "") printf "| %s | %s | %s | %s | %s | not available | | | | |\n", $7, $41, ks, $12, t
               else printf "| %s | %s | %s | %s | %s | %.2f ± %.2f | %.1f | %.2f | %.1f%% | %s |\n", $7, $41, ks, $12, t,
                           $39, $40, $42/1e6, $43, $45, e }' "$W/octet.csv"
echo
sort -u "$W/probe.txt" | sed 's/^octet bench: /    /'

if [ -n "$LLAMA_BENCH" ]; then
    echo
    echo "## side by side with llama.cpp (octet float mode; same file, same threads, interleaved runs)"
    echo
    echo "| model | octet kernels | threads | test | octet t/s | llama.cpp t/s | octet / llama.cpp |"
    echo "| --- | --- | ---: | --- | ---: | ---: | ---: |"
    awk -F'","' 'FNR==NR { if ($41 == "float") { ks = $5; sub(/^CPU /, "", ks); k=$6" "$12" "$33" "$34;
                                                 o[k, ks]=$39; sets[ks] = 1 }; next }
                 { k=$6" "$12" "$33" "$34; for (ks in sets) if ((k, ks) in o && $39 > 0) {
                     t = ($33+0 > 0) ? "pp"$33 : "tg"$34;
                     printf "| %s | %s | %s | %s | %.2f | %.2f | %.2f |\n", $6, ks, $12, t, o[k, ks], $39, o[k, ks]/$39 } }' \
        "$W/octet.csv" "$W/llama.csv"
fi

# Integer versus float execution of the Q8_0 model interleaved in one process (bench/ab_exec.c), so that the
# ratio does not depend on the machine drifting between the runs above.
AB=build/rel/bench/ab_exec
if [ -x "$AB" ] && [ -s "build/bench/$SHAPE-Q8_0.gguf" ] && [[ "$EXEC" == *float* && "$EXEC" == *int* ]]; then
    th=${THREADS##*,}
    echo
    echo "## integer / float, Q8_0, $th threads, interleaved in one process"
    echo
    "$AB" -m "build/bench/$SHAPE-Q8_0.gguf" -t "$th" -p "$P" -n "$N" -r "$R" | grep median | sed 's/^/    /'
fi
