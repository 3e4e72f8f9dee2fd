#!/usr/bin/env bash
# Golden logits: octet's forward pass against the float64 reference (tests/ref/llama_ref.py) on a matrix of
# small random GGUF models (tests/ref/make_random_model.py): weight types F32 F16 Q8_0 Q4_0 Q4_K Q6_K, multi-head
# and grouped-query attention, tied and untied output, llama / mistral / qwen2 (q/k/v biases, half-split RoPE),
# RoPE base 1e4 / 5e5, linear RoPE scaling, first positions 0 / 1000 / 1000000.
# Checks (see docs/testing.md for why these tolerances):
#   max|octet - ref| <= 3e-3 * std(ref)  for F32 / F16 weights, <= 8e-2 * std(ref) for quantized weights
#   RoPE relativity: octet's logits at --pos0 1000000 equal its logits at --pos0 0 within 3e-3 * std (F32)
#   -t 1 and -t 2 give byte-identical logits files
# One line per case; exit status non-zero on any failure. Env: OCTET (default ./octet), PY (default /usr/bin/python3).
set -u
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
PY=${PY:-/usr/bin/python3}
THREADS=${OCTET_THREADS:-1}   # threads for the comparisons; -t 2 is covered by the byte-identity check below
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
TOKS=1,29,301,4,77,258,260,12,300,5,64,270

if [ ! -x "$OCTET" ]; then echo "FAIL $OCTET not built"; exit 1; fi

F=3e-3   # float weights
Q=8e-2   # quantized weights

# case NAME TOL VOCAB POS0S -- make_random_model args...
case_() {
    local name=$1 tol=$2 nv=$3 pos0s=$4; shift 5
    local m="$W/$name.gguf"
    if ! nice -n 10 "$PY" tests/ref/make_random_model.py -o "$m" --vocab "$nv" "$@" >"$W/gen.log" 2>&1; then
        echo "FAIL $name: model generation"; cat "$W/gen.log"; fail=1; return
    fi
    local p
    for p in ${pos0s//,/ }; do
        nice -n 10 "$PY" tests/ref/llama_ref.py "$m" --tokens "$TOKS" --pos0 "$p" -o "$W/ref.bin" || { echo "FAIL $name: reference"; fail=1; continue; }
        rm -f "$W/got.bin"
        if ! timeout 20 "$OCTET" logits -m "$m" --tokens "$TOKS" --pos0 "$p" -t "$THREADS" -o "$W/got.bin" >"$W/octet.log" 2>&1; then
            echo "FAIL $name pos0=$p: octet logits exited non-zero"; tail -n 5 "$W/octet.log"; fail=1; continue
        fi
        local sim=()
        if [ "$tol" != "$F" ]; then  # quantized: also show the distance to the activation-quantization simulation
            nice -n 10 "$PY" tests/ref/llama_ref.py "$m" --tokens "$TOKS" --pos0 "$p" --act-quant ggml -o "$W/sim.bin" && sim=("$W/sim.bin")
        fi
        "$PY" tests/ref/compare_logits.py "$W/ref.bin" "$W/got.bin" "$nv" "$tol" "$name pos0=$p" "${sim[@]}" || fail=1
        cp "$W/got.bin" "$W/$name.pos$p.bin"
    done
}

#     name              tol vocab pos0s             make_random_model options
case_ f32-mha           $F  320  0,1000,1000000 -- --type F32 --dim 128 --heads 4 --ff 256 --seed 1
case_ f32-gqa-tied-5e5  $F  384  0,1000000      -- --type F32 --dim 128 --heads 8 --kv-heads 2 --ff 256 --tied --rope-base 500000 --seed 2
case_ f32-linear-scale  $F  320  1000           -- --type F32 --dim 64 --heads 2 --ff 128 --rope-scale 4 --seed 3
case_ f16-gqa           $F  320  0,1000         -- --type F16 --dim 128 --heads 4 --kv-heads 2 --ff 256 --seed 4
case_ mistral-f16-tied  $F  310  1000           -- --arch mistral --type F16 --dim 64 --heads 4 --kv-heads 1 --ff 192 --tied --seed 5
case_ qwen2-f32-bias    $F  320  0,1000000      -- --arch qwen2 --type F32 --dim 128 --heads 4 --kv-heads 2 --ff 256 --rope-base 500000 --seed 6
case_ q8_0-mha          $Q  320  0,1000         -- --type Q8_0 --dim 128 --heads 4 --ff 256 --seed 7
case_ q8_0-qwen2-tied   $Q  320  1000000        -- --arch qwen2 --type Q8_0 --dim 128 --heads 8 --kv-heads 2 --ff 256 --tied --seed 8
case_ q4_0-gqa-tied     $Q  320  0,1000         -- --type Q4_0 --dim 128 --heads 4 --kv-heads 2 --ff 384 --tied --seed 9
case_ q4_k-gqa-5e5      $Q  320  0,1000000      -- --type Q4_K --dim 256 --heads 4 --kv-heads 2 --ff 512 --rope-base 500000 --seed 10
case_ q4_k-mha-tied     $Q  512  1000           -- --type Q4_K --dim 256 --heads 4 --ff 256 --tied --seed 11
case_ q6_k-gqa          $Q  320  0,1000000      -- --type Q6_K --dim 256 --heads 8 --kv-heads 2 --ff 256 --seed 12
case_ q6_k-q8emb        $Q  320  1000           -- --type Q6_K --embd-type Q8_0 --dim 256 --heads 4 --ff 256 --seed 13

# RoPE relativity: with an empty cache only position differences matter, so octet must give the same logits at
# pos0 1000000 as at pos0 0 (F32 weights, so only the engine's own RoPE error shows).
for name in f32-mha f32-gqa-tied-5e5 qwen2-f32-bias; do
    if [ -f "$W/$name.pos0.bin" ] && [ -f "$W/$name.pos1000000.bin" ]; then
        nv=$("$PY" -c "import os,sys; print(os.path.getsize(sys.argv[1]) // 4 // 12)" "$W/$name.pos0.bin")
        "$PY" tests/ref/compare_logits.py "$W/$name.pos0.bin" "$W/$name.pos1000000.bin" "$nv" 3e-3 \
            "$name pos0=1e6 vs pos0=0 (octet)" || fail=1
    else
        echo "FAIL $name: missing logits for the pos0 relativity check"; fail=1
    fi
done

# Thread-count independence: -t 1 and -t 2 must write identical bytes.
for name in f32-gqa-tied-5e5 q4_k-gqa-5e5 q8_0-mha; do
    why=
    for t in 1 2; do
        timeout 20 "$OCTET" logits -m "$W/$name.gguf" --tokens "$TOKS" --pos0 1000 -t $t -o "$W/t$t.bin" >/dev/null 2>&1
        rc=$?
        [ $rc = 124 ] || [ $rc = 143 ] && why="$why -t $t timed out after 20 s (hang?);"
        [ $rc != 0 ] && [ $rc != 124 ] && [ $rc != 143 ] && why="$why -t $t exited $rc;"
    done
    if [ -z "$why" ] && cmp -s "$W/t1.bin" "$W/t2.bin"; then
        echo "PASS $name -t 1 vs -t 2 identical bytes"
    else
        echo "FAIL $name -t 1 vs -t 2: ${why:-the logits files differ}"; fail=1
    fi
done

if [ $fail -ne 0 ]; then echo "golden logits: FAILED"; exit 1; fi
echo "golden logits: all passed"
