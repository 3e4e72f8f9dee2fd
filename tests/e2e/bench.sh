#!/usr/bin/env bash
# octet synth and octet bench, end to end on the tiny shape:
#  - synth writes the same bytes with 1 and 2 threads, and a different file with another seed; the file opens
#    with octet info and has the shape's hyperparameters;
#  - bench -o csv: the header starts with llama-bench's columns in llama-bench's order (the list below is copied
#    from llama-bench's csv header, tools/llama-bench/llama-bench.cpp, test::get_fields), one row per test with
#    n_prompt / n_gen / n_threads filled and avg_ts > 0;
#  - bench -o json parses and has one object per test; comma lists multiply the tests; bad -o is a usage error;
#    --exec int gives rows (measured, or "not available" until the integer mode exists).
set -u
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
PY=${PY:-/usr/bin/python3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
ok() { echo "PASS $1"; }
bad() { echo "FAIL $1"; fail=1; }

"$OCTET" synth --shape test-tiny --type Q4_0 -t 1 -o "$W/a.gguf" 2>/dev/null || bad "synth -t 1"
"$OCTET" synth --shape test-tiny --type Q4_0 -t 2 -o "$W/b.gguf" 2>/dev/null || bad "synth -t 2"
"$OCTET" synth --shape test-tiny --type Q4_0 --seed 2 -o "$W/c.gguf" 2>/dev/null || bad "synth --seed 2"
cmp -s "$W/a.gguf" "$W/b.gguf" && ok "synth bytes independent of threads" || bad "synth -t 1 vs -t 2 differ"
cmp -s "$W/a.gguf" "$W/c.gguf" && bad "synth seed ignored" || ok "synth seed changes weights"
info=$("$OCTET" info -m "$W/a.gguf" 2>&1)
echo "$info" | grep -q "256" && ok "synth model opens (octet info)" || { bad "octet info on synth model"; echo "$info" | head; }
"$OCTET" synth --shape nosuch --type Q4_0 -o "$W/x.gguf" 2>/dev/null; [ $? = 2 ] && ok "unknown shape: usage error" || bad "unknown shape"

LB="build_commit,build_number,cpu_info,gpu_info,backends,model_filename,model_type,model_size,model_n_params,n_batch,n_ubatch,n_threads,cpu_mask,cpu_strict,poll,type_k,type_v,n_gpu_layers,n_cpu_moe,split_mode,main_gpu,no_kv_offload,flash_attn,devices,tensor_split,tensor_buft_overrides,load_mode,embeddings,no_op_offload,no_host,fit_target,fit_min_ctx,n_prompt,n_gen,n_depth,test_time,avg_ns,stddev_ns,avg_ts,stddev_ts"
"$OCTET" bench -m "$W/a.gguf" -p 8,16 -n 4 -t 1,2 -r 2 --probe-mb 16 -o csv > "$W/o.csv" 2>"$W/err" || { bad "bench csv"; cat "$W/err"; }
head -1 "$W/o.csv" | grep -q "^$LB," && ok "csv header starts with llama-bench's columns" || bad "csv header: $(head -1 "$W/o.csv")"
"$PY" - "$W/o.csv" <<'EOF' && ok "csv rows: 6 tests, fields filled" || bad "csv rows"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 6, len(rows)
tests = sorted((int(r["n_threads"]), int(r["n_prompt"]), int(r["n_gen"])) for r in rows)
assert tests == [(1, 0, 4), (1, 8, 0), (1, 16, 0), (2, 0, 4), (2, 8, 0), (2, 16, 0)], tests
for r in rows:
    assert float(r["avg_ts"]) > 0 and float(r["stddev_ts"]) >= 0 and float(r["avg_ns"]) > 0
    assert float(r["bytes_per_token"]) > 0 and float(r["bandwidth_gbs"]) > 0
    assert abs(float(r["j_per_token"]) - float(r["j_compute"]) - float(r["j_memory"])) <= 1e-5 * float(r["j_per_token"])
EOF
"$OCTET" bench -m "$W/a.gguf" -p 8 -n 2 -r 1 --no-probe --exec float,int -o json > "$W/o.json" 2>"$W/err" || { bad "bench json"; cat "$W/err"; }
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==4 and {x['exec'] for x in d}=={'float','int'}" "$W/o.json" \
    && ok "json: 4 objects, float and int" || bad "json output"
"$OCTET" bench -m "$W/a.gguf" -o xml >/dev/null 2>&1; [ $? = 2 ] && ok "bad -o: usage error" || bad "bad -o accepted"
printf 'dram_access64 0\n' > "$W/e.txt"
"$OCTET" bench -m "$W/a.gguf" -p 0 -n 2 -r 1 --no-probe --energy-table "$W/e.txt" -o json > "$W/e.json" 2>/dev/null
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[0]['j_memory']==0 and d[0]['j_compute']>0" "$W/e.json" \
    && ok "--energy-table replaces the DRAM energy" || bad "--energy-table"
exit $fail
