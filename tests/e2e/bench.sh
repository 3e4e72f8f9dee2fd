#!/usr/bin/env bash
# octet synth and octet bench, end to end on the tiny shape:
#  - synth writes the same bytes with 1 and 2 threads, and a different file with another seed; the file opens
#    with octet info and has the shape's hyperparameters;
#  - bench -o csv: the header starts with llama-bench's columns in llama-bench's order (the list below is copied
#    from llama-bench's csv header, tools/llama-bench/llama-bench.cpp, test::get_fields), one row per test with
#    n_prompt / n_gen / n_threads filled and avg_ts > 0;
#  - bench -o json parses and has one object per test; comma lists multiply the tests; bad -o is a usage error;
#    --exec int gives rows (measured, or "not available" until the integer mode exists);
#  - energy: with OCTET_SYSFS_ROOT at a fake sysfs tree whose RAPL package counter a background writer advances
#    by the clock at 10 W, wrapping every 1.5 s, rows say "measured (RAPL package)" and J/token x tokens/s is
#    10 W within 25% (the core sub-zone, advancing 3x faster, is not counted); with no tree, or an unreadable
#    counter, rows say "estimated" and j_per_token = j_compute + j_memory. (Zone choice, wrap-around and the
#    watcher thread, exactly: tests/unit/test_powercap.c.)
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
    je = float(r["j_compute"]) + float(r["j_memory"])
    assert abs(float(r["j_estimated"]) - je) <= 1e-5 * je
    assert r["energy_source"] in ("estimated", "measured (RAPL package)"), r["energy_source"]
    if r["energy_source"] == "estimated":
        assert abs(float(r["j_per_token"]) - je) <= 1e-5 * je
EOF
"$OCTET" bench -m "$W/a.gguf" -p 8 -n 2 -r 1 --no-probe --exec float,int -o json > "$W/o.json" 2>"$W/err" || { bad "bench json"; cat "$W/err"; }
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==4 and {x['exec'] for x in d}=={'float','int'}" "$W/o.json" \
    && ok "json: 4 objects, float and int" || bad "json output"
"$OCTET" bench -m "$W/a.gguf" -o xml >/dev/null 2>&1; [ $? = 2 ] && ok "bad -o: usage error" || bad "bad -o accepted"
printf 'dram_access64 0\n' > "$W/e.txt"
"$OCTET" bench -m "$W/a.gguf" -p 0 -n 2 -r 1 --no-probe --energy-table "$W/e.txt" -o json > "$W/e.json" 2>/dev/null
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[0]['j_memory']==0 and d[0]['j_compute']>0" "$W/e.json" \
    && ok "--energy-table replaces the DRAM energy" || bad "--energy-table"

# energy, measured and estimated, against fake sysfs trees
energy_check() { # label root expected(estimated|measured)
    OCTET_SYSFS_ROOT=$2 "$OCTET" bench -m "$W/a.gguf" -p 0 -n 256 -t 1 -r 20 --no-probe -o csv \
        > "$W/en.csv" 2>"$W/en.err" || { bad "$1: bench"; cat "$W/en.err"; return; }
    "$PY" - "$W/en.csv" "$3" <<'EOF' && ok "$1" || { bad "$1"; cat "$W/en.csv" "$W/en.err"; }
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 1
for r in rows:
    jt, je = float(r["j_per_token"]), float(r["j_compute"]) + float(r["j_memory"])
    assert abs(float(r["j_estimated"]) - je) <= 1e-5 * je
    if sys.argv[2] == "estimated":
        assert r["energy_source"] == "estimated", r["energy_source"]
        assert abs(jt - je) <= 1e-5 * je
    else:
        assert r["energy_source"] == "measured (RAPL package)", r["energy_source"]
        # the fake package draws 10 W: J/token x tokens per repetition / seconds per repetition
        watts = jt * 256 / (float(r["avg_ns"]) * 1e-9)
        assert 7.5 <= watts <= 12.5, watts
EOF
}
FK=$W/sys/class/powercap
mkdir -p "$FK/intel-rapl" "$FK/intel-rapl:0" "$FK/intel-rapl:0:0"
echo package-0 > "$FK/intel-rapl:0/name"; echo core > "$FK/intel-rapl:0:0/name"
echo 15000000 > "$FK/intel-rapl:0/max_energy_range_uj"
echo 262143328850 > "$FK/intel-rapl:0:0/max_energy_range_uj"
echo 1000 > "$FK/intel-rapl:0/energy_uj"; echo 3000 > "$FK/intel-rapl:0:0/energy_uj"
# a package drawing 10 W by the clock, its counter wrapping at 15 J (every 1.5 s: longer than the 1 s period of
# octet's watcher thread, so counted right however long a repetition takes, e.g. under ASan); the core
# sub-zone reads 3x the package's energy (it must not be added)
"$PY" - "$FK" <<'EOF' &
import os, sys, time
fk, t0 = sys.argv[1], time.monotonic()
def put(path, v):
    with open(path + ".tmp", "w") as f:
        f.write("%d\n" % v)
    os.replace(path + ".tmp", path)
while True:
    uj = 1000 + int((time.monotonic() - t0) * 10e6)
    put(fk + "/intel-rapl:0/energy_uj", uj % 15000000)
    put(fk + "/intel-rapl:0:0/energy_uj", 3 * uj)
    time.sleep(0.001)
EOF
loop=$!
energy_check "energy measured from a fake RAPL package counter (10 W, wrapping)" "$W/sys" measured
kill $loop; wait $loop 2>/dev/null
grep -q "energy: measured, RAPL package counters: intel-rapl:0 (package-0)" "$W/en.err" \
    && ok "stderr names the counter" || { bad "stderr names the counter"; cat "$W/en.err"; }
mkdir -p "$W/empty"
energy_check "no powercap tree: estimated" "$W/empty" estimated
grep -q "energy: estimated (no readable RAPL package counter: .*class/powercap" "$W/en.err" \
    && ok "stderr says why estimated" || { bad "stderr says why estimated"; cat "$W/en.err"; }
rm -f "$FK/intel-rapl:0/energy_uj"; mkdir "$FK/intel-rapl:0/energy_uj" # unreadable even by root
energy_check "unreadable counter: estimated" "$W/sys" estimated
exit $fail
